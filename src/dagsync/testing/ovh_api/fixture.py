"""Build an :class:`Account` from a fixture: a dict in code, or a YAML/JSON file.

Keys follow the API's own names (camelCase). Everything but server names and main IPs has
a default, so ``seed_account({"servers": [{"name": "ns1.ip-192-0-2.eu", "ip": "192.0.2.1"}]})``
is a complete account with one application and one full-access consumer key.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from dagsync.testing.ovh_api.defaults import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    DEFAULT_CONSUMER_KEY,
    ENUMS,
    FULL_ACCESS,
    default_server,
    default_service_infos,
)
from dagsync.testing.ovh_api.errors import FixtureError
from dagsync.testing.ovh_api.rules import parse_rule
from dagsync.testing.ovh_api.state import (
    CREDENTIAL_STATES,
    AccessRule,
    Account,
    Application,
    BackupAcl,
    BackupFtp,
    Credential,
    FirewallIp,
    FirewallRule,
    IpBlock,
    MitigationIp,
    Server,
)
from dagsync.testing.ovh_api.wire import ApiError, as_ipv4, now_iso

__all__ = [
    "DEFAULT_APPLICATION_KEY",
    "DEFAULT_APPLICATION_SECRET",
    "DEFAULT_CONSUMER_KEY",
    "FULL_ACCESS",
    "load_account",
    "seed_account",
]

SERVER_KEYS = frozenset({"ips", "serviceInfos", "backupFTP", "firewall", "mitigation", "reverse"})

T = TypeVar("T")


def load_account(path: str | Path) -> Account:
    """Read a YAML (or ``.json``) fixture file and seed an account from it."""
    source = Path(path)
    text = source.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if source.suffix == ".json" else _yaml(text)
    except ValueError as error:  # ruamel's errors derive from ValueError or YAMLError
        raise FixtureError(f"{source}: {error}") from error
    return seed_account(data or {})


def _yaml(text: str) -> Any:
    # lazy: importing it here keeps cython_runtime, ruamel out of this module's load
    from ruamel.yaml import YAML  # lazy: only fixture files need it

    # lazy: importing it here keeps cython_runtime, ruamel out of this module's load
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise ValueError(str(error)) from error


def seed_account(data: Mapping[str, Any]) -> Account:
    """Build a fresh account from a fixture mapping (see the module docstring)."""
    data = _mapping(data, "fixture")
    _only(data, {"applications", "credentials", "dns", "servers"}, "fixture")
    account = Account()
    for i, app in enumerate(_items(data, "applications", [_default_application()])):
        _add_application(account, _mapping(app, f"applications[{i}]"), f"applications[{i}]")
    for i, cred in enumerate(_items(data, "credentials", [{}])):
        _add_credential(account, _mapping(cred, f"credentials[{i}]"), f"credentials[{i}]")
    for name, addresses in _mapping(data.get("dns") or {}, "dns").items():
        values = [addresses] if isinstance(addresses, str) else _list(addresses, f"dns.{name}")
        account.dns[str(name).rstrip(".").lower()] = {_address(v, f"dns.{name}") for v in values}
    for i, server in enumerate(_items(data, "servers", [])):
        _add_server(account, _mapping(server, f"servers[{i}]"), f"servers[{i}]")
    return account


def _default_application() -> dict[str, str]:
    return {
        "applicationKey": DEFAULT_APPLICATION_KEY,
        "applicationSecret": DEFAULT_APPLICATION_SECRET,
    }


def _add_application(account: Account, data: Mapping[str, Any], where: str) -> None:
    _only(data, {"applicationKey", "applicationSecret", "name"}, where)
    key = _text(data, "applicationKey", where)
    name = str(data.get("name", "dagsync-tests"))
    app = Application(key, _text(data, "applicationSecret", where), name, account.new_id())
    account.applications[key] = app


def _add_credential(account: Account, data: Mapping[str, Any], where: str) -> None:
    _only(data, {"consumerKey", "applicationKey", "state", "rules", "allowedIPs"}, where)
    app_key = str(data.get("applicationKey") or next(iter(account.applications), ""))
    if app_key not in account.applications:
        raise FixtureError(f"{where}.applicationKey: unknown application {app_key!r}")
    state = str(data.get("state", "validated"))
    if state not in CREDENTIAL_STATES:
        raise FixtureError(f"{where}.state: {state!r} not in {sorted(CREDENTIAL_STATES)}")
    rules = _list(data.get("rules", list(FULL_ACCESS)), f"{where}.rules")
    allowed = data.get("allowedIPs")
    credential = Credential(
        consumer_key=str(data.get("consumerKey", DEFAULT_CONSUMER_KEY)),
        application_key=app_key,
        state=state,
        rules=[_rule(r, f"{where}.rules[{i}]") for i, r in enumerate(rules)],
        credential_id=account.new_id(),
        creation=now_iso(),
        allowed_ips=None if allowed is None else [str(a) for a in _list(allowed, where)],
    )
    account.credentials[credential.consumer_key] = credential


def _rule(value: Any, where: str) -> AccessRule:
    data = _mapping(value, where)
    _only(data, {"method", "path"}, where)
    method = _text(data, "method", where).upper()
    if method not in ("GET", "POST", "PUT", "DELETE"):
        raise FixtureError(f"{where}.method: {method!r} is not GET, POST, PUT or DELETE")
    return AccessRule(method, _text(data, "path", where))


def _add_server(account: Account, data: Mapping[str, Any], where: str) -> None:
    name = _text(data, "name", where)
    if name in account.servers:
        raise FixtureError(f"{where}.name: duplicate server {name!r}")
    fields = _server_fields(account, name, data, where)
    blocks = _blocks(account, fields["ip"], data.get("ips"), f"{where}.ips")
    server = Server(
        name=name,
        fields=fields,
        service_infos=_service_infos(name, data.get("serviceInfos") or {}, f"{where}.serviceInfos"),
        blocks=blocks,
        backup=BackupFtp(activated=False, name=""),
    )
    account.servers[name] = server
    for block in blocks:
        account.blocks[block] = IpBlock(ipaddress.ip_network(block), name)
    server.backup = _backup(server, data.get("backupFTP") or {}, f"{where}.backupFTP")
    _seed_ip_features(account, server, data, where)


def _server_fields(
    account: Account, name: str, data: Mapping[str, Any], where: str
) -> dict[str, Any]:
    fields = default_server(
        name, _address(_text(data, "ip", where), f"{where}.ip"), account.new_id()
    )
    extra = {k: _plain(v) for k, v in data.items() if k not in SERVER_KEYS}
    _only(extra, set(fields), where)
    for key, value in extra.items():
        if key in ENUMS and value not in ENUMS[key]:
            raise FixtureError(f"{where}.{key}: {value!r} not in {sorted(ENUMS[key])}")
    fields.update(extra)
    fields["iam"].setdefault("displayName", fields["name"])
    return fields


def _blocks(account: Account, ip: str, value: Any, where: str) -> list[str]:
    main = str(ipaddress.ip_network(ip))
    raw = [str(v) for v in _list(value or [], where)]
    try:
        blocks = [str(ipaddress.ip_network(b, strict=True)) for b in raw]
    except ValueError as error:
        raise FixtureError(f"{where}: {error}") from error
    if not any(ipaddress.ip_address(ip) in ipaddress.ip_network(b) for b in blocks):
        blocks.insert(0, main)
    for block in blocks:
        network = ipaddress.ip_network(block)
        for other in account.blocks.values():
            if network.version == other.network.version and network.overlaps(other.network):
                raise FixtureError(f"{where}: {block} overlaps {other.network} of {other.server}")
    return blocks


def _service_infos(name: str, value: Any, where: str) -> dict[str, Any]:
    infos = default_service_infos(name)
    data = {k: _plain(v) for k, v in _mapping(value, where).items()}
    _only(data, set(infos), where)
    renew = _mapping(data.pop("renew", {}), f"{where}.renew")
    _only(renew, set(infos["renew"]), f"{where}.renew")
    for key in ("status", "renewalType"):
        if key in data and data[key] not in ENUMS[key]:
            raise FixtureError(f"{where}.{key}: {data[key]!r} not in {sorted(ENUMS[key])}")
    infos.update(data)
    infos["renew"].update(renew)
    return infos


def _backup(server: Server, value: Any, where: str) -> BackupFtp:
    data = _mapping(value, where)
    keys = {"activated", "ftpBackupName", "type", "quota", "usage", "readOnlyDate"}
    _only(data, keys | {"authorizableBlocks", "access"}, where)
    own = [b for b in server.blocks if ipaddress.ip_network(b).version == 4]
    backup = BackupFtp(
        activated=bool(data.get("activated", False)),
        name=str(data.get("ftpBackupName", _backup_name(server))),
        type=str(data.get("type", "included")),
        quota_gb=int(data.get("quota", 500)),
        usage_percent=float(data.get("usage", 0.0)),
        read_only_date=_plain(data.get("readOnlyDate")),
        authorizable=[str(b) for b in _list(data.get("authorizableBlocks", own), where)],
    )
    for i, item in enumerate(_list(data.get("access", []), f"{where}.access")):
        acl = _mapping(item, f"{where}.access[{i}]")
        _only(acl, {"ipBlock", "ftp", "nfs", "cifs"}, f"{where}.access[{i}]")
        block = str(ipaddress.IPv4Network(_text(acl, "ipBlock", f"{where}.access[{i}]")))
        backup.acls[block] = BackupAcl(
            ip_block=block,
            ftp=bool(acl.get("ftp", False)),
            nfs=bool(acl.get("nfs", False)),
            cifs=bool(acl.get("cifs", False)),
            last_update=now_iso(),
        )
    return backup


def _backup_name(server: Server) -> str:
    return f"ftpback-{server.fields['datacenter']}-{server.fields['serverId'] % 1000}.ovh.net"


def _seed_ip_features(
    account: Account, server: Server, data: Mapping[str, Any], where: str
) -> None:
    seeders: tuple[tuple[str, Seeder], ...] = (
        ("firewall", _seed_firewall),
        ("mitigation", _seed_mitigation),
    )
    for key, seeder in seeders:
        for i, item in enumerate(_list(data.get(key, []), f"{where}.{key}")):
            here = f"{where}.{key}[{i}]"
            try:
                seeder(account, server, _mapping(item, here), here)
            except ApiError as error:
                raise FixtureError(f"{here}: {error.body.get('message')}") from error
    for address, name in _mapping(data.get("reverse", {}), f"{where}.reverse").items():
        block = _owned_block(account, server, address, f"{where}.reverse")
        stored = str(name).rstrip(".").lower() + "."
        block.reverse[_address(address, where)] = stored
        if server.fields["ip"] == _address(address, where):
            server.fields["reverse"] = stored


Seeder = Callable[[Account, Server, Mapping[str, Any], str], None]


def _seed_firewall(account: Account, server: Server, data: Mapping[str, Any], where: str) -> None:
    _only(data, {"ipOnFirewall", "enabled", "rules"}, where)
    address = str(as_ipv4("ipOnFirewall", data.get("ipOnFirewall")))
    block = _owned_block(account, server, address, f"{where}.ipOnFirewall")
    fw = block.firewall[address] = FirewallIp(address, enabled=bool(data.get("enabled", False)))
    for i, body in enumerate(_list(data.get("rules", []), f"{where}.rules")):
        spec = parse_rule(dict(_mapping(body, f"{where}.rules[{i}]")))
        if spec.sequence in fw.rules:
            raise FixtureError(f"{where}.rules[{i}]: duplicate sequence {spec.sequence}")
        fw.rules[spec.sequence] = FirewallRule(spec, now_iso())


def _seed_mitigation(account: Account, server: Server, data: Mapping[str, Any], where: str) -> None:
    _only(data, {"ipOnMitigation", "auto"}, where)
    address = str(as_ipv4("ipOnMitigation", data.get("ipOnMitigation")))
    block = _owned_block(account, server, address, f"{where}.ipOnMitigation")
    block.mitigation[address] = MitigationIp(address, auto=bool(data.get("auto", False)))


def _owned_block(account: Account, server: Server, address: Any, where: str) -> IpBlock:
    block = account.block_of(ipaddress.ip_address(_address(address, where)))
    if block is None or block.server != server.name:
        raise FixtureError(f"{where}: {address} is not an address of {server.name}")
    return block


def _plain(value: Any) -> Any:
    """YAML dates become ``YYYY-MM-DD`` strings; containers are copied."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return copy.deepcopy(value)


def _address(value: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError as error:
        raise FixtureError(f"{where}: {value!r} is not an IP address") from error


def _items(data: Mapping[str, Any], key: str, default: list[Any]) -> list[Any]:
    return _list(data[key], key) if data.get(key) is not None else default


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    return _typed(value, Mapping, "a mapping", where)  # type: ignore[type-abstract]


def _list(value: Any, where: str) -> list[Any]:
    return _typed(value, list, "a list", where)


def _typed(value: Any, kind: type[T], label: str, where: str) -> T:
    if not isinstance(value, kind):
        raise FixtureError(f"{where}: expected {label}, got {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise FixtureError(f"{where}.{key}: a non-empty string is required")
    return value


def _only(data: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise FixtureError(f"{where}: unknown key(s) {unknown}")
