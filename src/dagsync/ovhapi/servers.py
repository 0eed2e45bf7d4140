"""Typed calls on dedicated servers: the servers, their IPs, service infos and tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.responses import ints, optional, parse_task, parsed, strings
from dagsync.ovhapi.shapes import TASK_FAILED, DedicatedServer, ServiceInfo, Task, api_path

__all__ = [
    "get_server",
    "get_task",
    "list_servers",
    "server_ips",
    "server_tasks",
    "service_info",
    "set_monitoring",
    "wait_task",
]

_SERVER_PATH = "/dedicated/server/{}"


def list_servers(api: OvhApi) -> list[str]:
    return strings("server list", api.get("/dedicated/server"))


def get_server(api: OvhApi, name: str) -> DedicatedServer:
    return parsed("dedicated server", api.get(api_path(_SERVER_PATH, name)), _server)


def set_monitoring(api: OvhApi, name: str, enabled: bool) -> None:
    api.put(api_path(_SERVER_PATH, name), {"monitoring": enabled})


def server_ips(api: OvhApi, name: str) -> list[str]:
    return strings("IP list", api.get(api_path(_SERVER_PATH + "/ips", name)))


def service_info(api: OvhApi, name: str) -> ServiceInfo:
    return parsed(
        "serviceInfos", api.get(api_path(_SERVER_PATH + "/serviceInfos", name)), _service_info
    )


def server_tasks(
    api: OvhApi, name: str, *, function: str | None = None, status: str | None = None
) -> list[int]:
    filters = {k: v for k, v in (("function", function), ("status", status)) if v is not None}
    return ints("task list", api.get(api_path(_SERVER_PATH + "/task", name), **filters))


def get_task(api: OvhApi, name: str, task_id: int) -> Task:
    return parsed("task", api.get(api_path(_SERVER_PATH + "/task/{}", name, task_id)), parse_task)


def wait_task(
    api: OvhApi, name: str, task_id: int, *, timeout: float, interval: float = 2.0
) -> Task:
    """Wait for ``done``; a task ending ``cancelled``/``customerError``/``ovhError`` fails."""
    path = api_path(_SERVER_PATH + "/task/{}", name, task_id)
    what = f"task {task_id} of {name}"
    raw = api.wait_until_state(
        path,
        "done",
        key="status",
        failed=TASK_FAILED,
        timeout=timeout,
        interval=interval,
        what=what,
    )
    return parsed("task", raw, parse_task)


def _server(raw: Any) -> DedicatedServer:
    return DedicatedServer(
        name=str(raw["name"]),
        server_id=int(raw["serverId"]),
        ip=str(raw["ip"]),
        datacenter=str(raw["datacenter"]),
        commercial_range=optional(raw.get("commercialRange")),
        monitoring=bool(raw["monitoring"]),
        state=str(raw["state"]),
        reverse=optional(raw.get("reverse")),
    )


def _service_info(raw: Any) -> ServiceInfo:
    renew = raw.get("renew") or {}
    automatic = renew.get("automatic")
    return ServiceInfo(
        status=str(raw["status"]),
        expiration=dt.date.fromisoformat(str(raw["expiration"])[:10]),
        renewal_type=optional(raw.get("renewalType")),
        automatic_renew=None if automatic is None else bool(automatic),
    )
