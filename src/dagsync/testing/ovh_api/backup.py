"""``/dedicated/server/{serviceName}/features/backupFTP``: activation, ACLs, tasks."""

from __future__ import annotations

import ipaddress
from typing import Any

from dagsync.testing.ovh_api.backend import Backend
from dagsync.testing.ovh_api.router import Route
from dagsync.testing.ovh_api.servers import task_json
from dagsync.testing.ovh_api.state import BackupAcl, BackupFtp, Server
from dagsync.testing.ovh_api.wire import (
    Call,
    as_bool,
    as_ipv4_block,
    bad_request,
    conflict,
    not_found,
    now_iso,
    require,
)

__all__ = ["ROUTES"]

PROTOCOLS = ("ftp", "nfs", "cifs")


def _active(backend: Backend, call: Call, *, read: bool = False) -> tuple[Server, BackupFtp]:
    """The server and its backup storage, which must be activated (else 404)."""
    server = backend.server(call.params["serviceName"])
    backup = server.backup
    if backup.task is not None:
        backend.task_status(backup.task, read=read)
    backend.settle(server)
    if not backup.activated:
        raise not_found(f"The backup FTP of {server.name} is not activated")
    return server, backup


def _acl(backup: BackupFtp, raw: str) -> BackupAcl:
    try:
        key = str(ipaddress.IPv4Network(raw, strict=True))
    except ValueError as error:
        raise bad_request(f"Invalid value for ipBlock: {raw!r}") from error
    acl = backup.acls.get(key)
    if acl is None:
        raise not_found(f"The requested object (ipBlock = {raw}) does not exist")
    return acl


def get_backup(backend: Backend, call: Call) -> dict[str, Any]:
    _, backup = _active(backend, call, read=True)
    return {
        "ftpBackupName": backup.name,
        "type": backup.type,
        "quota": {"unit": "GB", "value": backup.quota_gb},
        "usage": {"unit": "%", "value": backup.usage_percent},
        "readOnlyDate": backup.read_only_date,
    }


def activate(backend: Backend, call: Call) -> dict[str, Any]:
    server = backend.server(call.params["serviceName"])
    backup = server.backup
    backend.settle(server)
    if backup.activated or backup.task is not None:
        raise conflict(f"The backup FTP of {server.name} is already activated or pending")

    def done() -> None:
        backup.activated, backup.task = True, None

    backup.task = backend.new_task(server, "createBackupFTP", done)
    return task_json(backend, backup.task, read=False)


def deactivate(backend: Backend, call: Call) -> dict[str, Any]:
    server, backup = _active(backend, call)
    if backup.task is not None:
        raise conflict(f"The backup FTP of {server.name} has a pending operation")

    def done() -> None:
        backup.activated, backup.task = False, None
        backup.acls.clear()

    backup.task = backend.new_task(server, "removeBackupFTP", done)
    return task_json(backend, backup.task, read=False)


def change_password(backend: Backend, call: Call) -> dict[str, Any]:
    server, _ = _active(backend, call)
    return task_json(backend, backend.new_task(server, "changePasswordBackupFTP"), read=False)


def authorizable_blocks(backend: Backend, call: Call) -> list[str]:
    return list(_active(backend, call)[1].authorizable)


def list_access(backend: Backend, call: Call) -> list[str]:
    return sorted(_active(backend, call)[1].acls)


def add_access(backend: Backend, call: Call) -> dict[str, Any]:
    server, backup = _active(backend, call)
    body = call.json_object(("ipBlock", *PROTOCOLS))
    block = as_ipv4_block("ipBlock", require(body, "ipBlock"))
    if not any(block.subnet_of(ipaddress.IPv4Network(a)) for a in backup.authorizable):
        raise bad_request(f"{block} is not an authorized IP block for this backup storage")
    if str(block) in backup.acls:
        raise conflict(f"An access already exists for {block}")
    acl = BackupAcl(
        ip_block=str(block),
        ftp=as_bool("ftp", body.get("ftp", False)),
        nfs=as_bool("nfs", require(body, "nfs")),
        cifs=as_bool("cifs", require(body, "cifs")),
        last_update=now_iso(),
    )
    acl.task = backend.new_task(server, "applyBackupFtpAcls")
    backup.acls[acl.ip_block] = acl
    return task_json(backend, acl.task, read=False)


def get_access(backend: Backend, call: Call) -> dict[str, Any]:
    _, backup = _active(backend, call)
    acl = _acl(backup, call.params["ipBlock"])
    applied = acl.task is None or backend.task_status(acl.task, read=True) == "done"
    return {
        "ipBlock": acl.ip_block,
        "ftp": acl.ftp,
        "nfs": acl.nfs,
        "cifs": acl.cifs,
        "isApplied": applied,
        "lastUpdate": acl.last_update,
    }


def update_access(backend: Backend, call: Call) -> None:
    server, backup = _active(backend, call)
    acl = _acl(backup, call.params["ipBlock"])
    body = call.json_object(PROTOCOLS)
    for name, value in body.items():
        setattr(acl, name, as_bool(name, value))
    acl.last_update = now_iso()
    acl.task = backend.new_task(server, "applyBackupFtpAcls")


def remove_access(backend: Backend, call: Call) -> dict[str, Any]:
    server, backup = _active(backend, call)
    acl = _acl(backup, call.params["ipBlock"])

    def done() -> None:
        backup.acls.pop(acl.ip_block, None)

    acl.task = backend.new_task(server, "removeBackupFtpAcl", done)
    return task_json(backend, acl.task, read=False)


_BASE = "/dedicated/server/{serviceName}/features/backupFTP"
ROUTES = (
    Route("GET", _BASE, get_backup),
    Route("POST", _BASE, activate),
    Route("DELETE", _BASE, deactivate),
    Route("POST", f"{_BASE}/password", change_password),
    Route("GET", f"{_BASE}/authorizableBlocks", authorizable_blocks),
    Route("GET", f"{_BASE}/access", list_access),
    Route("POST", f"{_BASE}/access", add_access),
    Route("GET", f"{_BASE}/access/{{ipBlock}}", get_access),
    Route("PUT", f"{_BASE}/access/{{ipBlock}}", update_access),
    Route("DELETE", f"{_BASE}/access/{{ipBlock}}", remove_access),
)
