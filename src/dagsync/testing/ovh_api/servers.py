"""``/dedicated/server``: the server object, its IPs, serviceInfos and tasks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from dagsync.testing.ovh_api.backend import Backend
from dagsync.testing.ovh_api.router import Route
from dagsync.testing.ovh_api.state import Server, Task
from dagsync.testing.ovh_api.wire import (
    Call,
    as_bool,
    as_enum,
    as_int,
    as_object,
    as_optional_str,
    bad_request,
    not_found,
    require,
)

__all__ = ["ROUTES", "SERVER_STATES", "TASK_STATUSES", "task_json"]

SERVER_STATES = frozenset({"error", "hacked", "hackedBlocked", "ok"})
TASK_STATUSES = frozenset(
    {"cancelled", "customerError", "doing", "done", "init", "ovhError", "todo"}
)
RENEW_FIELDS = ("automatic", "deleteAtExpiration", "forced", "manualPayment", "period")

_WRITABLE: dict[str, Callable[[str, Any], Any]] = {
    "bootId": lambda name, value: as_int(name, value, 0, 2**63 - 1),
    "bootScript": as_optional_str,
    "efiBootloaderPath": as_optional_str,
    "monitoring": as_bool,
    "noIntervention": as_bool,
    "rescueMail": as_optional_str,
    "rescueSshKey": as_optional_str,
    "rootDevice": as_optional_str,
    "state": lambda name, value: as_enum(name, value, SERVER_STATES),
}


def server_json(server: Server) -> dict[str, Any]:
    return copy.deepcopy(server.fields)


def task_json(backend: Backend, task: Task, *, read: bool) -> dict[str, Any]:
    status = backend.task_status(task, read=read)
    return {
        "taskId": task.task_id,
        "function": task.function,
        "status": status,
        "comment": task.comment,
        "startDate": task.start_date,
        "doneDate": task.done_date,
        "lastUpdate": task.last_update,
        "needSchedule": False,
        "note": None,
        "plannedInterventionId": None,
        "tags": [],
        "ticketReference": None,
    }


def list_servers(backend: Backend, call: Call) -> list[str]:
    return sorted(backend.account.servers)


def get_server(backend: Backend, call: Call) -> dict[str, Any]:
    return server_json(backend.server(call.params["serviceName"]))


def put_server(backend: Backend, call: Call) -> None:
    server = backend.server(call.params["serviceName"])
    body = call.json_object()
    for name in body:
        if name not in _WRITABLE:
            raise bad_request(f"Unknown or read-only parameter: {name}")
    checked = {name: _WRITABLE[name](name, value) for name, value in body.items()}
    server.fields.update(checked)


def get_ips(backend: Backend, call: Call) -> list[str]:
    return list(backend.server(call.params["serviceName"]).blocks)


def get_service_infos(backend: Backend, call: Call) -> dict[str, Any]:
    server = backend.server(call.params["serviceName"], allow_expired=True)
    return copy.deepcopy(server.service_infos)


def put_service_infos(backend: Backend, call: Call) -> None:
    """Only ``renew`` is writable, and it must be a JSON object (python-ovh #61)."""
    server = backend.server(call.params["serviceName"], allow_expired=True)
    renew = as_object("renew", require(call.json_object(("renew",)), "renew"), RENEW_FIELDS)
    checked = {
        name: as_int(name, value, 1, 120) if name == "period" else as_bool(name, value)
        for name, value in renew.items()
    }
    server.service_infos["renew"].update(checked)


def list_tasks(backend: Backend, call: Call) -> list[int]:
    server = backend.server(call.params["serviceName"])
    function = call.query.get("function")
    status = call.query_enum("status", TASK_STATUSES)
    backend.settle(server)
    return [
        task.task_id
        for task in server.tasks.values()
        if (function is None or task.function == function)
        and (status is None or backend.task_status(task, read=False) == status)
    ]


def get_task(backend: Backend, call: Call) -> dict[str, Any]:
    server = backend.server(call.params["serviceName"])
    raw = call.params["taskId"]
    if not raw.isdigit():
        raise bad_request(f"Invalid value for taskId: {raw!r} is not an integer")
    task = server.tasks.get(int(raw))
    if task is None:
        raise not_found(f"The requested object (taskId = {raw}) does not exist")
    return task_json(backend, task, read=True)


_BASE = "/dedicated/server/{serviceName}"
ROUTES = (
    Route("GET", "/dedicated/server", list_servers),
    Route("GET", _BASE, get_server),
    Route("PUT", _BASE, put_server),
    Route("GET", f"{_BASE}/ips", get_ips),
    Route("GET", f"{_BASE}/serviceInfos", get_service_infos),
    Route("PUT", f"{_BASE}/serviceInfos", put_service_infos),
    Route("GET", f"{_BASE}/task", list_tasks),
    Route("GET", f"{_BASE}/task/{{taskId}}", get_task),
)
