"""``/ip/{ip}/mitigation`` and ``/ip/{ip}/reverse``."""

from __future__ import annotations

import ipaddress
from typing import Any

from dagsync.testing.ovh_api.backend import Backend, dns_name
from dagsync.testing.ovh_api.router import Route
from dagsync.testing.ovh_api.state import IpBlock, MitigationIp
from dagsync.testing.ovh_api.wire import (
    Call,
    as_bool,
    as_ip,
    as_ipv4,
    as_str,
    bad_request,
    conflict,
    not_found,
    require,
)

__all__ = ["ROUTES", "add_mitigation", "set_reverse"]

MITIGATION_STATES = frozenset({"creationPending", "ok", "removalPending"})


def mitigation_state(
    backend: Backend, block: IpBlock, item: MitigationIp, *, read: bool
) -> str | None:
    """The state, or ``None`` once a removal has completed (the entry is then gone)."""
    if item.removal is not None:
        stage = backend.observe(item.removal, read=read)
        if item.removal.finished:
            del block.mitigation[item.address]
            return None
        return stage
    if item.creation is not None:
        stage = backend.observe(item.creation, read=read)
        if item.creation.finished:
            item.creation = None
        return stage
    return "ok"


def add_mitigation(block: IpBlock, raw: Any, *, auto: bool = False) -> MitigationIp:
    address = as_ipv4("ipOnMitigation", raw)
    if address not in block.network:
        raise bad_request(f"{address} is not in {block.network}")
    if str(address) in block.mitigation:
        raise conflict(f"{address} is already under mitigation")
    item = block.mitigation[str(address)] = MitigationIp(str(address), auto=auto)
    return item


def _mitigation_json(item: MitigationIp, state: str) -> dict[str, Any]:
    return {"ipOnMitigation": item.address, "auto": item.auto, "permanent": False, "state": state}


def _mitigation(backend: Backend, call: Call, *, read: bool) -> tuple[IpBlock, MitigationIp, str]:
    block = backend.block(call.params["ip"])
    raw = call.params["ipOnMitigation"]
    item = block.mitigation.get(raw)
    state = None if item is None else mitigation_state(backend, block, item, read=read)
    if item is None or state is None:
        raise not_found(f"The requested object (ipOnMitigation = {raw}) does not exist")
    return block, item, state


def list_mitigation(backend: Backend, call: Call) -> list[str]:
    block = backend.block(call.params["ip"])
    auto = call.query_bool("auto")
    wanted = call.query_enum("state", MITIGATION_STATES)
    found = [
        (i, mitigation_state(backend, block, i, read=False))
        for i in list(block.mitigation.values())
    ]
    return [
        item.address
        for item, state in found
        if state is not None and auto in (None, item.auto) and wanted in (None, state)
    ]


def create_mitigation(backend: Backend, call: Call) -> dict[str, Any]:
    """``permanent`` is accepted and ignored, as OVH now documents."""
    block = backend.block(call.params["ip"])
    body = call.json_object(("ipOnMitigation", "permanent"))
    if "permanent" in body:
        as_bool("permanent", body["permanent"])
    item = add_mitigation(block, require(body, "ipOnMitigation"))
    item.creation = backend.start("mitigation_creation", ("creationPending", "ok"))
    return _mitigation_json(item, "creationPending")


def get_mitigation(backend: Backend, call: Call) -> dict[str, Any]:
    _, item, state = _mitigation(backend, call, read=True)
    return _mitigation_json(item, state)


def update_mitigation(backend: Backend, call: Call) -> None:
    """Deprecated upstream: ``permanent`` is checked, then ignored."""
    _mitigation(backend, call, read=False)
    body = call.json_object(("permanent",))
    as_bool("permanent", require(body, "permanent"))


def delete_mitigation(backend: Backend, call: Call) -> dict[str, Any]:
    _, item, _ = _mitigation(backend, call, read=False)
    if item.auto:
        raise bad_request(f"The automatic mitigation of {item.address} cannot be removed")
    if item.removal is None:
        item.creation = None
        item.removal = backend.start("mitigation_removal", ("removalPending", "removed"))
    return _mitigation_json(item, "removalPending")


def set_reverse(backend: Backend, block: IpBlock, raw_ip: Any, raw_name: Any) -> dict[str, str]:
    """Store a reverse after checking that the name resolves forward to the address."""
    address = as_ip("ipReverse", raw_ip)
    name = as_str("reverse", raw_name)
    if address not in block.network:
        raise bad_request(f"{address} is not in {block.network}")
    if not _resolves(backend, name, address):
        raise bad_request(f"Cannot check if {name} resolves to {address}")
    stored = dns_name(name) + "."
    block.reverse[str(address)] = stored
    _mirror(backend, block, str(address), stored)
    return {"ipReverse": str(address), "reverse": stored}


def _resolves(
    backend: Backend, name: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> bool:
    answers: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for answer in backend.resolver(dns_name(name)):
        try:
            answers.add(ipaddress.ip_address(answer))
        except ValueError:
            continue
    return address in answers


def _mirror(backend: Backend, block: IpBlock, address: str, reverse: str | None) -> None:
    """The server object's ``reverse`` follows the reverse of its main address."""
    server = backend.account.servers[block.server]
    if server.fields.get("ip") == address:
        server.fields["reverse"] = reverse


def _reverse(backend: Backend, call: Call) -> tuple[IpBlock, str]:
    block = backend.block(call.params["ip"])
    raw = call.params["ipReverse"]
    try:
        address = str(ipaddress.ip_address(raw))
    except ValueError as error:
        raise bad_request(f"Invalid value for ipReverse: {raw!r}") from error
    if address not in block.reverse:
        raise not_found(f"The requested object (ipReverse = {raw}) does not exist")
    return block, address


def list_reverse(backend: Backend, call: Call) -> list[str]:
    return sorted(backend.block(call.params["ip"]).reverse)


def create_reverse(backend: Backend, call: Call) -> dict[str, str]:
    block = backend.block(call.params["ip"])
    body = call.json_object(("ipReverse", "reverse"))
    return set_reverse(backend, block, require(body, "ipReverse"), require(body, "reverse"))


def get_reverse(backend: Backend, call: Call) -> dict[str, str]:
    block, address = _reverse(backend, call)
    return {"ipReverse": address, "reverse": block.reverse[address]}


def delete_reverse(backend: Backend, call: Call) -> None:
    block, address = _reverse(backend, call)
    del block.reverse[address]
    _mirror(backend, block, address, None)


_MIT = "/ip/{ip}/mitigation"
_REV = "/ip/{ip}/reverse"
ROUTES = (
    Route("GET", _MIT, list_mitigation),
    Route("POST", _MIT, create_mitigation),
    Route("GET", f"{_MIT}/{{ipOnMitigation}}", get_mitigation),
    Route("PUT", f"{_MIT}/{{ipOnMitigation}}", update_mitigation),
    Route("DELETE", f"{_MIT}/{{ipOnMitigation}}", delete_mitigation),
    Route("GET", _REV, list_reverse),
    Route("POST", _REV, create_reverse),
    Route("GET", f"{_REV}/{{ipReverse}}", get_reverse),
    Route("DELETE", f"{_REV}/{{ipReverse}}", delete_reverse),
)
