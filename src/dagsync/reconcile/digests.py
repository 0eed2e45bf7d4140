"""Desired-state digests: one sha256 per target of what the repository wants it to be.

A target is whatever one apply changes as a unit:

| target                      | its desired state                                              |
|-----------------------------|----------------------------------------------------------------|
| `<client>/<server>`         | firewall, accounts, root-access windows, backup job            |
| `<client>/<server>@ovh`     | the server's OVH services (edge firewall, monitoring, ...)     |
| `dag/<storage>`             | the storage host and the repository of every server it keeps   |
| `dag/<mail host>`           | the shared-mail configuration (every client's domains, ...)    |
| `dag/ovh-account`           | the OVH account and the services declared in it                |

The digest is the sha256 of a canonical JSON of the target's rendered desired state (sorted
keys, no spaces, UTF-8; dataclasses as objects, enums as values, addresses as text).  It is
computed from the repository alone (no host, no clock, no override file), so the same
desired state gives the same digest on every machine and in every run.  Root-access windows
enter as declared (the open/closed state depends on the clock, not on the repository).

`covers` says whether an apply with a given selection and kinds applies a target *wholly*;
only then does the apply record keep the target's digest (a per-client apply updates a
storage host's key of that client only, so the storage host is not applied wholly).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import ipaddress
import json
from collections.abc import Iterable
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from .core import Target

if TYPE_CHECKING:
    from ..repository import Repository
    from .desired import Selection

DAG = "dag"  # the "client" of DAG's own hosts: `dag/<storage>`, `dag/<mail host>`
OVH_ACCOUNT = f"{DAG}/ovh-account"
DIGEST_FORMAT = 1  # bumped when the canonical form changes (every target then differs)
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # desired states are computed at a fixed time

# The kinds of change (`--only`) a target's desired state is made of.
SERVER_KINDS = frozenset({"firewall", "accounts", "root-access", "backup"})
OVH_KINDS = frozenset({"ovh"})
STORAGE_KINDS = frozenset({"backup"})
MAIL_KINDS = frozenset({"mail"})


def _plain(value: Any) -> Any:
    """One level of `value` as JSON data (the encoder recurses); TypeError if it has none."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, set | frozenset):
        return sorted((canonical(v) for v in value), key=_sort_key)
    if isinstance(value, ipaddress._BaseAddress | ipaddress._BaseNetwork | PurePath):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # a pydantic model: its JSON form
        return dump(mode="json")
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _text(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )


def canonical(value: Any) -> Any:
    """`value` as plain JSON data, the same on every machine (raises TypeError otherwise)."""
    loaded: Any = json.loads(_text(value))
    return loaded


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def digest(state: Any) -> str:
    """sha256 of the canonical JSON of `state` (hex): sorted keys, no spaces, UTF-8;
    dataclasses as objects, tuples as lists, enums as their value, addresses as text."""
    text = _text({"format": DIGEST_FORMAT, "state": state})
    return hashlib.sha256(text.encode()).hexdigest()


def kinds_of(key: str) -> frozenset[str]:
    """The kinds of change the desired state of target `key` is made of."""
    if key == OVH_ACCOUNT or key.endswith("@ovh"):
        return OVH_KINDS
    if key.startswith(f"{DAG}/"):
        return STORAGE_KINDS | MAIL_KINDS  # refined by `covers` with the repository
    return SERVER_KINDS


# --- the desired states ----------------------------------------------------------------------


def _storage_spec(storage: Any) -> Any:
    from .resources import backup as res

    return res.StorageSpec(
        storage.name,
        str(storage.address or storage.host),
        22,
        " ".join((storage.host_key or "").split()[:2]),
        storage.repository_root,
    )


def _shared_blocklist(repo: Repository) -> str:
    """The digest of every blocklist entry shared network-wide (what `blocked_for` adds to
    every client's servers), computed once."""
    entries = sorted(
        (str(item.address), config.id, item.reason)
        for config in repo.clients
        if config.client.network.share_blocklist_network_wide
        for item in config.client.network.blocklist
    )
    return digest(entries)


def _server_states(repo: Repository) -> dict[str, Any]:
    from .. import __version__
    from .desired import HostDesired
    from .registry import HOST_RESOURCES
    from .resource import ServerInputs

    management = tuple(repo.settings.management_ranges)
    storages = {s.name: s for s in repo.settings.backup_storages}
    shared = _shared_blocklist(repo)
    cheap = [r for r in HOST_RESOURCES if r.KIND != "firewall"]
    out: dict[str, Any] = {}
    for config in repo.clients:
        client_digest = digest(config.client)
        for server in config.servers:
            target = Target(config.id, server.name)
            inputs = ServerInputs(target, config.client, server, management, (), _EPOCH)
            states: dict[str, Any] = {
                # The nftables ruleset holds every network-wide blocked address: rendering it
                # for each server costs O(clients^2). Its digest is that of what it is rendered
                # from (the client, the server, DAG's ranges, the shared blocklist) and of the
                # renderer's version.
                "firewall": {
                    "client": client_digest,
                    "server": server,
                    "management": management,
                    "network-wide blocklist": shared,
                    "renderer": __version__,
                },
            }
            states.update(dict(HostDesired(inputs, _states(cheap, inputs), ()).states))
            states["root-access"] = [
                {"window": w, "keys": [a.keys for a in server.accounts if a.owner == w.granted_to]}
                for w in config.client.contract.root_access
                if w.server == server.name
            ]
            states["backup"] = {
                "client": client_digest,
                "server": server,
                "storage": storages.get(server.backup.storage),
                "renderer": __version__,
            }
            out[target.key] = states
    return out


def _states(resources: Iterable[Any], inputs: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((r.KIND, r.desired(inputs)[0]) for r in resources if r.KIND != "root-access")


def _ovh_states(repo: Repository) -> dict[str, Any]:
    from .. import __version__
    from .ovh.desired import OVH_SUFFIX

    ranges = repo.settings.management_ranges
    out: dict[str, Any] = {
        OVH_ACCOUNT: {
            "account": repo.settings.ovh_account,
            "services": sorted(s.ovh.service_name for _, s in repo.servers()),
        }
    }
    for config, server in repo.servers():
        # What `ovh.desired.server_desired` renders the server's OVH services from (only
        # these fields of the server: a backup schedule is not an OVH matter).
        state = {
            "server": {
                "name": server.name,
                "role": server.role,
                "ovh": server.ovh,
                "ips": server.ips,
                "ssh": server.ssh,
                "firewall": server.firewall,
                "supervision": server.supervision,
                "backup storage": server.backup.storage,
                "reverse_dns": server.reverse_dns,
            },
            "management": ranges,
            "renderer": __version__,
        }
        out[f"{config.id}/{server.name}{OVH_SUFFIX}"] = state
    return out


def _storage_states(repo: Repository) -> dict[str, Any]:
    declared: dict[str, list[str]] = {s.name: [] for s in repo.settings.backup_storages}
    for config, server in repo.servers():
        declared.setdefault(server.backup.storage, []).append(f"{config.id}/{server.name}")
    specs = {s.name: _storage_spec(s) for s in repo.settings.backup_storages}
    return {
        f"{DAG}/{name}": {
            "storage": specs.get(name),
            "repositories": sorted(specs[name].repo_path(k) for k in keys) if name in specs else [],
            "servers": sorted(keys),
        }
        for name, keys in declared.items()
        if name in specs
    }


def _mail_states(repo: Repository) -> dict[str, Any]:
    if not repo.settings.mail_hosts:
        return {}
    from ..check import Collector, load_policies
    from .resources import mail

    cgv = load_policies(repo.root, Collector(None)).cgv
    clients = [
        mail.ClientMail(c.client, cgv[c.client.contract.cgv_version], c.servers)
        for c in repo.clients
        if c.client.contract.cgv_version in cgv
    ]
    state, _ = mail.desired(clients)
    return {f"{DAG}/{h.name}": {"host": h.name, "mail": state} for h in repo.settings.mail_hosts}


def desired_states(repo: Repository) -> dict[str, Any]:
    """Every target's desired state, by target key."""
    return {
        **_server_states(repo),
        **_ovh_states(repo),
        **_storage_states(repo),
        **_mail_states(repo),
    }


def digests(repo: Repository) -> dict[str, str]:
    """Every target's digest, by target key, sorted."""
    return {key: digest(state) for key, state in sorted(desired_states(repo).items())}


def client_of(key: str) -> str:
    return key.split("/", 1)[0]


# --- what an apply covers --------------------------------------------------------------------


def dag_hosts(repo: Repository) -> dict[str, frozenset[str]]:
    """DAG's own targets, by key, with the kinds that make them."""
    hosts: dict[str, frozenset[str]] = {OVH_ACCOUNT: OVH_KINDS}
    hosts.update({f"{DAG}/{s.name}": STORAGE_KINDS for s in repo.settings.backup_storages})
    hosts.update({f"{DAG}/{m.name}": MAIL_KINDS for m in repo.settings.mail_hosts})
    return hosts


def selects_dag(selection: Selection, key: str) -> bool:
    """Does `--client dag` or `--server dag/<name>` (or no selection at all) name `key`?"""
    if not selection.clients and not selection.servers:
        return True
    if selection.servers:
        return key in selection.servers and (not selection.clients or DAG in selection.clients)
    return DAG in selection.clients


def covers(repo: Repository, selection: Selection, kinds: Iterable[str], key: str) -> bool:
    """Whether an apply of `selection` and `kinds` applies target `key` wholly."""
    ran = frozenset(kinds)
    dag = dag_hosts(repo)
    if key in dag:
        if not dag[key] <= ran:
            return False
        if dag[key] == MAIL_KINDS:
            return True  # the mail hosts are always planned from every client
        return selects_dag(selection, key)
    needed = OVH_KINDS if key.endswith("@ovh") else SERVER_KINDS
    if not needed <= ran:
        return False
    client, _, name = key.partition("/")
    return selection.wants(client, name.removesuffix("@ovh"))
