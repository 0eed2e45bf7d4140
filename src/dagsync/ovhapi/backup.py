"""Typed calls on the backup storage (``backupFTP``) of a dedicated server and its ACLs."""

from __future__ import annotations

from typing import Any

from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.errors import OvhNotFound
from dagsync.ovhapi.responses import optional, parse_task, parsed, strings
from dagsync.ovhapi.servers import server_tasks
from dagsync.ovhapi.shapes import BackupAccess, BackupProtocols, BackupStorage, Task, api_path

__all__ = [
    "activate_backup_storage",
    "add_backup_access",
    "delete_backup_access",
    "get_backup_access",
    "get_backup_storage",
    "list_backup_access",
    "update_backup_access",
    "wait_backup_access_applied",
    "wait_backup_access_gone",
    "wait_backup_storage",
]

_BACKUP_PATH = "/dedicated/server/{}/features/backupFTP"
_ACCESS = "/dedicated/server/{}/features/backupFTP/access"
_ACCESS_ONE = "/dedicated/server/{}/features/backupFTP/access/{}"


def get_backup_storage(api: OvhApi, name: str) -> BackupStorage | None:
    """The backup storage of server ``name``, or ``None`` while it is not activated."""
    raw = api.find(api_path(_BACKUP_PATH, name))
    return None if raw is None else parsed("backup storage", raw, _backup_storage)


def activate_backup_storage(api: OvhApi, name: str) -> Task | None:
    """POST: a ``createBackupFTP`` task (``None`` if an uncertain attempt turned out applied)."""

    def applied() -> bool:
        pending = [
            t
            for s in ("todo", "doing", "init")
            for t in server_tasks(api, name, function="createBackupFTP", status=s)
        ]
        return bool(pending) or get_backup_storage(api, name) is not None

    raw = api.post(api_path(_BACKUP_PATH, name), reread=applied)
    return None if raw is None else parsed("task", raw, parse_task)


def wait_backup_storage(
    api: OvhApi, name: str, *, timeout: float, interval: float = 2.0
) -> BackupStorage:
    def probe() -> tuple[bool, str]:
        return get_backup_storage(api, name) is not None, "not activated"

    api.wait_for(
        probe,
        what=f"the backup storage of {name}",
        wanted="active",
        timeout=timeout,
        interval=interval,
    )
    storage = get_backup_storage(api, name)
    if storage is None:
        raise OvhNotFound(f"the backup storage of {name} disappeared")
    return storage


def list_backup_access(api: OvhApi, name: str) -> list[str]:
    return strings("backup access list", api.get(api_path(_ACCESS, name)))


def get_backup_access(api: OvhApi, name: str, ip_block: str) -> BackupAccess | None:
    raw = api.find(api_path(_ACCESS_ONE, name, ip_block))
    return None if raw is None else parsed("backup access", raw, _backup_access)


def add_backup_access(
    api: OvhApi, name: str, ip_block: str, protocols: BackupProtocols
) -> Task | None:
    """POST an ACL (an ``applyBackupFtpAcls`` task; see :func:`wait_backup_access_applied`)."""
    raw = api.post(
        api_path(_ACCESS, name),
        {"ipBlock": ip_block, **protocols.request()},
        reread=lambda: get_backup_access(api, name, ip_block) is not None,
    )
    return None if raw is None else parsed("task", raw, parse_task)


def update_backup_access(api: OvhApi, name: str, ip_block: str, protocols: BackupProtocols) -> None:
    api.put(api_path(_ACCESS_ONE, name, ip_block), protocols.request())


def delete_backup_access(api: OvhApi, name: str, ip_block: str) -> Task | None:
    """DELETE an ACL (a task; the ACL disappears when it is done)."""
    raw = api.delete(api_path(_ACCESS_ONE, name, ip_block))
    return None if raw is None else parsed("task", raw, parse_task)


def wait_backup_access_applied(
    api: OvhApi, name: str, ip_block: str, *, timeout: float, interval: float = 2.0
) -> BackupAccess:
    last: list[BackupAccess | None] = [None]

    def probe() -> tuple[bool, str]:
        last[0] = get_backup_access(api, name, ip_block)
        if last[0] is None:
            raise OvhNotFound(f"the backup access of {ip_block} on {name} disappeared")
        return last[0].is_applied, "applied" if last[0].is_applied else "not applied"

    what = f"the backup access of {ip_block} on {name}"
    api.wait_for(probe, what=what, wanted="applied", timeout=timeout, interval=interval)
    if last[0] is None:  # unreachable: the probe raises instead
        raise OvhNotFound(f"{what} disappeared")
    return last[0]


def wait_backup_access_gone(
    api: OvhApi, name: str, ip_block: str, *, timeout: float, interval: float = 2.0
) -> None:
    what = f"the backup access of {ip_block} on {name}"
    api.wait_until_gone(
        api_path(_ACCESS_ONE, name, ip_block), timeout=timeout, interval=interval, what=what
    )


def _quantity(raw: Any) -> float | None:
    return None if raw is None else float(raw["value"])


def _backup_storage(raw: Any) -> BackupStorage:
    return BackupStorage(
        name=str(raw["ftpBackupName"]),
        type=str(raw["type"]),
        quota_gb=_quantity(raw.get("quota")),
        usage_percent=_quantity(raw.get("usage")),
        read_only_date=optional(raw.get("readOnlyDate")),
    )


def _backup_access(raw: Any) -> BackupAccess:
    flags = BackupProtocols(bool(raw["ftp"]), bool(raw["nfs"]), bool(raw["cifs"]))
    return BackupAccess(str(raw["ipBlock"]), flags, bool(raw["isApplied"]))
