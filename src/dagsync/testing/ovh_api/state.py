"""The emulated OVH account: mutable state, guarded by the emulator's lock."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dagsync.testing.ovh_api.progress import Progress
from dagsync.testing.ovh_api.rules import RuleSpec

__all__ = [
    "AccessRule",
    "Account",
    "Application",
    "BackupAcl",
    "BackupFtp",
    "Credential",
    "FirewallIp",
    "FirewallRule",
    "IpBlock",
    "MitigationIp",
    "Server",
    "Task",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
CREDENTIAL_STATES = frozenset({"expired", "pendingValidation", "refused", "validated"})


@dataclass(frozen=True)
class AccessRule:
    method: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {"method": self.method, "path": self.path}


@dataclass
class Application:
    key: str
    secret: str
    name: str
    application_id: int


@dataclass
class Credential:
    consumer_key: str
    application_key: str
    state: str
    rules: list[AccessRule]
    credential_id: int
    creation: str
    allowed_ips: list[str] | None = None
    validation_token: str | None = None
    last_use: str | None = None


@dataclass
class Task:
    task_id: int
    function: str
    progress: Progress
    start_date: str
    comment: str = ""
    on_done: Callable[[], None] | None = None
    done_date: str | None = None
    last_update: str = ""


@dataclass
class FirewallRule:
    spec: RuleSpec
    creation_date: str
    creation: Progress | None = None
    removal: Progress | None = None


@dataclass
class FirewallIp:
    address: str
    enabled: bool = False
    change: Progress | None = None
    rules: dict[int, FirewallRule] = field(default_factory=dict)


@dataclass
class MitigationIp:
    address: str
    auto: bool = False
    creation: Progress | None = None
    removal: Progress | None = None


@dataclass
class IpBlock:
    network: IpNetwork
    server: str
    firewall: dict[str, FirewallIp] = field(default_factory=dict)
    mitigation: dict[str, MitigationIp] = field(default_factory=dict)
    reverse: dict[str, str] = field(default_factory=dict)


@dataclass
class BackupAcl:
    ip_block: str
    ftp: bool
    nfs: bool
    cifs: bool
    last_update: str
    task: Task | None = None


@dataclass
class BackupFtp:
    activated: bool
    name: str
    type: str = "included"
    quota_gb: int = 500
    usage_percent: float = 0.0
    read_only_date: str | None = None
    authorizable: list[str] = field(default_factory=list)
    acls: dict[str, BackupAcl] = field(default_factory=dict)
    task: Task | None = None


@dataclass
class Server:
    name: str
    fields: dict[str, Any]
    service_infos: dict[str, Any]
    blocks: list[str]
    backup: BackupFtp
    tasks: dict[int, Task] = field(default_factory=dict)

    @property
    def expired(self) -> bool:
        return bool(self.service_infos.get("status") == "expired")


@dataclass
class Account:
    applications: dict[str, Application] = field(default_factory=dict)
    credentials: dict[str, Credential] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    blocks: dict[str, IpBlock] = field(default_factory=dict)
    dns: dict[str, set[str]] = field(default_factory=dict)
    next_id: int = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def block_of(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> IpBlock | None:
        return next((b for b in self.blocks.values() if address in b.network), None)
