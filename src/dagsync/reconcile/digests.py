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
import functools
import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from dagsync import __version__
from dagsync.model.exporters import monitoring_openings
from dagsync.reconcile.core import Target
from dagsync.reconcile.daghosts import (
    DAG,
    MAIL_KINDS,
    MONITORING_KINDS,
    OVH_ACCOUNT,
    OVH_KINDS,
    SECURITY_KINDS,
    STORAGE_KINDS,
    dag_hosts,
    selects_dag,
)
from dagsync.reconcile.hosts.kinds import HOST_KINDS
from dagsync.reconcile.hosts.registry import HOST_RESOURCES
from dagsync.reconcile.monitoring import watched_state
from dagsync.reconcile.resource import ServerInputs

if TYPE_CHECKING:
    from dagsync.reconcile.run import Selection
    from dagsync.validate.repository import Repository

DIGEST_FORMAT = 1  # bumped when the canonical form changes (every target then differs)
RENDERING_PACKAGES = ("model", "reconcile")  # the code that turns the model into desired state
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # desired states are computed at a fixed time

# The kinds of change (`--only`) a target's desired state is made of.
SERVER_KINDS = frozenset(
    {*HOST_KINDS, "backup", "security"}
)  # what a `<client>/<server>` digest covers


def _plain(value: Any) -> Any:
    """One level of `value` as JSON data (the encoder recurses); TypeError if it has none."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, set | frozenset):
        return sorted((canonical(v) for v in value), key=_sort_key)
    if isinstance(value, ipaddress._BaseAddress | ipaddress._BaseNetwork | PurePath | Decimal):
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


@functools.cache
def renderer_id() -> str:
    """dagsync's version and a digest of the code that renders desired states (the model and
    the reconciler): a merged change to that code is a change to every target's desired state,
    so every target enters the scope and the new rendering reaches every host (an apply with
    nothing to change changes nothing).  Recorded with each apply (`dagsync_version`)."""
    package = Path(__file__).parents[1]
    h = hashlib.sha256()
    for name in RENDERING_PACKAGES:
        for path in sorted((package / name).rglob("*.py")):
            h.update(path.relative_to(package).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return f"{__version__}+r{h.hexdigest()[:16]}"


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
        return STORAGE_KINDS | MAIL_KINDS | MONITORING_KINDS | SECURITY_KINDS  # see `covers`
    return SERVER_KINDS


# --- the desired states ----------------------------------------------------------------------
#
# Each client gives a `ClientPart`: the digests of what its targets are made of on their own,
# and its share of what DAG's hosts and the other clients' servers are made of (its
# network-wide blocklist, its servers' storages, its OVH services, its mail).  `combine` then
# folds those shares in.  Parts are plain strings and tuples, so that many clients can be
# digested in worker processes (`digests_of`) and give exactly what `digests` gives.


@dataclass(frozen=True)
class ClientPart:
    """One client's contribution to every digest."""

    client: str
    servers: tuple[tuple[str, str], ...]  # (key, digest of its state but the shared blocklist)
    ovh: tuple[tuple[str, str], ...]  # (key@ovh, digest)
    shared: tuple[tuple[str, str, str], ...]  # network-wide blocklist (address, client, reason)
    storages: tuple[tuple[str, str], ...]  # (server key, storage name)
    services: tuple[str, ...]  # OVH service names
    mail: str  # digest of what the shared-mail configuration takes from this client
    monitoring: str = ""  # digest of what the monitoring configuration takes from it
    security: str = ""  # digest of what the security host's local APIs take from it
    scopes: tuple[str, ...] = ()  # the CrowdSec scopes it makes (their order sets the ports)


def _storage_spec(storage: Any) -> Any:
    """A storage host as policies/dag.yaml declares it (never the hosts override file)."""
    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.backup.storage import StorageSpec

    return StorageSpec(
        storage.name,
        str(storage.address or storage.host),
        22,
        " ".join((storage.host_key or "").split()[:2]),
        storage.repository_root,
    )


def _root_access(config: Any, server: Any) -> list[dict[str, Any]]:
    return [
        {"window": w, "keys": [a.keys for a in server.accounts if a.owner == w.granted_to]}
        for w in config.client.contract.root_access
        if w.server == server.name
    ]


def client_part(config: Any, settings: Any, cgv: Mapping[str, Any]) -> ClientPart:
    """The part of one client (a `ClientConfig`) under DAG's `settings` and CGV policies."""
    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.hosts.desired import HostDesired

    # lazy: importing it here keeps dagsync.model, dagsync.ovhapi, dagsync.reconcile out of this module's load
    from dagsync.reconcile.ovh.desired import OVH_SUFFIX

    management = tuple(settings.management_ranges)
    storages = {s.name: s for s in settings.backup_storages}
    cheap = [r for r in HOST_RESOURCES if r.KIND not in ("firewall", "root-access")]
    client_digest = digest(config.client)
    servers, ovh = [], []
    for server in config.servers:
        target = Target(config.id, server.name)
        inputs = ServerInputs(
            target, config.client, server, management, (), _EPOCH, monitoring=settings.monitoring
        )
        openings = monitoring_openings(server, settings.monitoring)
        states: dict[str, Any] = {
            # The nftables ruleset holds every network-wide blocked address: rendering it
            # for each server costs O(clients^2). Its digest is that of what it is rendered
            # from (the client, the server, DAG's ranges; the shared blocklist is folded in
            # by `combine`) and of the renderer's version.
            "firewall": {
                "client": client_digest,
                "server": server,
                "management": management,
                "monitoring": openings,
                "renderer": renderer_id(),
            },
            **dict(
                HostDesired(inputs, tuple((r.KIND, r.desired(inputs)[0]) for r in cheap), ()).states
            ),
            "root-access": _root_access(config, server),
            # What `security.desired` renders the server's agent, bouncer, AIDE and ClamAV
            # from (its scope's port comes from every client's `scopes`, folded in below).
            "security": {
                "client": client_digest,
                "servers": [(s.name, s.ips) for s in config.servers],
                "flags": server.security,
                "renderer": renderer_id(),
            },
            "backup": {
                "client": client_digest,
                "server": server,
                "storage": storages.get(server.backup.storage),
                "renderer": renderer_id(),
            },
        }
        servers.append((target.key, digest(states)))
        # What `ovh.desired.server_desired` renders the server's OVH services from (only
        # these fields of the server: a backup schedule is not an OVH matter).
        ovh_state = {
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
            "management": management,
            "monitoring": openings,
            "renderer": renderer_id(),
        }
        ovh.append((f"{config.id}/{server.name}{OVH_SUFFIX}", digest(ovh_state)))
    network = config.client.network
    shared = (
        tuple((str(i.address), config.id, i.reason) for i in network.blocklist)
        if network.share_blocklist_network_wide
        else ()
    )
    policy = cgv.get(config.client.contract.cgv_version)
    # What `resources.mail.desired` renders the mail hosts' files from, for this client.
    mail = digest(
        {
            "client": config.id,
            "mail": config.client.mail,
            "hard limit": policy.mail_hard_limit_gb.value if policy else None,
            "cc limit": policy.mail_cc_limit.value if policy else None,
            "servers": [(s.name, s.ips) for s in config.servers],
            "renderer": renderer_id(),
        }
    )
    return ClientPart(
        config.id,
        tuple(servers),
        tuple(ovh),
        shared,
        tuple((f"{config.id}/{s.name}", s.backup.storage) for s in config.servers),
        tuple(s.ovh.service_name for s in config.servers),
        mail,
        digest(watched_state(config, policy)),
        digest(_security_state(config)),
        _scopes(config),
    )


def _security_state(config: Any) -> Any:
    """What the security host's local APIs take from one client: its scopes' members (each
    enrolled), the addresses no decision may ban."""
    return {
        "client": config.id,
        "network": config.client.network,
        "servers": [(s.name, s.ips, s.security) for s in config.servers],
        "renderer": renderer_id(),
    }


def _scopes(config: Any) -> tuple[str, ...]:
    """The CrowdSec scope keys the client makes (== `security.scope.scopes`)."""
    network = config.client.network
    if not config.servers:
        return ()
    if not network.blocklist_propagation:
        return tuple(f"server.{config.id}.{s.name}" for s in config.servers)
    return ("network",) if network.share_blocklist_network_wide else (f"client.{config.id}",)


def combine(parts: Sequence[ClientPart], settings: Any) -> dict[str, str]:
    """Every target's digest, by key, sorted, from every client's part."""
    shared = digest(sorted(e for p in parts for e in p.shared))
    layout = {
        "security": settings.security_hosts[:1],
        "scopes": sorted({s for p in parts for s in p.scopes}),
    }
    out: dict[str, str] = {}
    for part in parts:
        for key, local in part.servers:
            out[key] = digest(
                {"local": local, "network-wide blocklist": shared, "security scopes": layout}
            )
        out.update(part.ovh)
    services = sorted(s for p in parts for s in p.services)
    out[OVH_ACCOUNT] = digest(
        {"account": settings.ovh_account, "services": services, "renderer": renderer_id()}
    )
    declared: dict[str, list[str]] = {s.name: [] for s in settings.backup_storages}
    for part in parts:
        for key, storage in part.storages:
            declared.setdefault(storage, []).append(key)
    specs = {s.name: _storage_spec(s) for s in settings.backup_storages}
    for name, spec in specs.items():
        keys = declared[name]
        out[f"{DAG}/{name}"] = digest(
            {
                "storage": spec,
                "repositories": sorted(spec.repo_path(k) for k in keys),
                "servers": sorted(keys),
                "renderer": renderer_id(),
            }
        )
    mail = sorted(p.mail for p in parts)
    for host in settings.mail_hosts:
        out[f"{DAG}/{host.name}"] = digest({"host": host.name, "clients": mail})
    watched = {"with": settings.monitoring, "clients": sorted(p.monitoring for p in parts)}
    for mon in settings.monitoring.hosts if settings.monitoring else []:
        out[f"{DAG}/{mon.name}"] = digest({"host": mon, **watched, "renderer": renderer_id()})
    guarded = sorted(p.security for p in parts)
    for sec in settings.security_hosts[:1]:
        out[f"{DAG}/{sec.name}"] = digest({"host": sec, "clients": guarded})
    return dict(sorted(out.items()))


def digests(repo: Repository) -> dict[str, str]:
    """Every target's digest, by target key, sorted."""
    # lazy: importing it here keeps dagsync.config, dagsync.findings, dagsync.model (+2) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    cgv = load_policies(repo.root, Collector(None)).cgv
    return combine([client_part(c, repo.settings, cgv) for c in repo.clients], repo.settings)


def client_of(key: str) -> str:
    return key.split("/", 1)[0]


# --- what an apply covers --------------------------------------------------------------------


def covers(repo: Repository, selection: Selection, kinds: Iterable[str], key: str) -> bool:
    """Whether an apply of `selection` and `kinds` applies target `key` wholly."""
    ran = frozenset(kinds)
    dag = dag_hosts(repo)
    if key in dag:
        if not dag[key] <= ran:
            return False
        if dag[key] in (MAIL_KINDS, MONITORING_KINDS, SECURITY_KINDS):
            return True  # the mail, monitoring and security hosts are planned from every client
        return selects_dag(selection, key)
    needed = OVH_KINDS if key.endswith("@ovh") else SERVER_KINDS
    if not needed <= ran:
        return False
    client, _, name = key.partition("/")
    return selection.wants(client, name.removesuffix("@ovh"))
