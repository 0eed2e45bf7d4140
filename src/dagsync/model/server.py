"""servers/<name>.yaml: one OVH server with its stack, ports, accesses, backups and monitoring."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from dagsync.model.base import (
    HHMM,
    Derogable,
    HostBound,
    HostName,
    OneLine,
    RequestId,
    SafePath,
    Slug,
    SshPublicKey,
    Strict,
    UserName,
)
from dagsync.model.system import OperatingSystem

# The database servers' own schemas: a grant on one of them (MariaDB's `mysql` holds the
# privilege tables) makes the client's database user an administrator of the server.
SYSTEM_SCHEMAS = (
    "mysql",
    "sys",
    "information_schema",
    "performance_schema",
    "test",
    "postgres",
    "template0",
    "template1",
)


def system_schema_problem(name: str) -> str | None:
    """Why `name` may not be a client's database (or None): it is, or matches, a system schema.
    In a MariaDB grant `_` matches any one character, so `mysq_` is a grant on `mysql`."""
    for schema in SYSTEM_SCHEMAS:
        if len(name) == len(schema) and all(
            a in (b, "_") for a, b in zip(name, schema, strict=True)
        ):
            what = "is" if name == schema else "matches (`_` is a wildcard in a MariaDB grant)"
            return (
                f"database name `{name}` {what} the system schema `{schema}`: choose another name"
            )
    return None


# Probed from DAG's monitoring host: a DNS name whose last label starts with a letter (so no IP
# literal, no `localhost`: the probe must not become a scanner of DAG's own network), an
# optional port and path; no query string. Credentials in the URL are ACC004's (a secret).
UPTIME_URL_PATTERN = (
    r"^https?://([^@/\s]+@)?([a-z0-9](-*[a-z0-9])*\.)+[a-z](-*[a-z0-9])*(:[0-9]{1,5})?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$"
)
UptimeUrl = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=UPTIME_URL_PATTERN),
    Field(description="An http(s) URL on a public DNS name, probed every uptime interval."),
    HostBound("uptime URL"),
]


def uptime_host(url: str) -> str:
    """The DNS name an uptime URL (an `UptimeUrl`) probes: no user info, no port."""
    authority = url.split("://", 1)[-1].split("/", 1)[0]
    return authority.rsplit("@", 1)[-1].split(":", 1)[0].lower()


DbName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    Field(
        description="A database name: a lower-case letter or `_`, then lower-case letters, "
        "digits or `_`."
    ),
    HostBound("database name"),
]
DbUserName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_][a-z0-9_-]{0,31}$"),
    Field(description="A database user: lower-case letters, digits, `_` and `-`."),
    HostBound("database user name"),
]
DbHost = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9.:%_/-]{1,255}$"),
    Field(
        description="Where a database user connects from: `localhost`, a host name, an "
        "address, a CIDR block or a MySQL host pattern (letters, digits, `.`, `:`, `%`, `_`, `/`, "
        "`-`)."
    ),
    HostBound("database host"),
]


class Role(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"


class ServerType(StrEnum):
    BARE_METAL = "bare_metal"
    VPS = "vps"
    PUBLIC_CLOUD = "public_cloud"


class Ovh(Derogable):
    service_name: HostName = Field(description="OVH service name, e.g. ns3012345.ip-198-51-100.eu.")
    datacenter: Annotated[str, Field(pattern=r"^[a-z]{3}[0-9]{1,2}$")] = Field(
        description="OVH datacenter code, e.g. gra3, rbx8, sbg5."
    )
    type: ServerType = ServerType.BARE_METAL
    commercial_range: str = Field(min_length=1, description="OVH range, e.g. advance, rise.")


class Ssh(Strict):
    port: int = Field(default=22, ge=1, le=65535)
    host_key: SshPublicKey = Field(description="The server's SSH host key, pinned in git.")


class Software(Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)


class TlsIssuer(Strict):
    issuer: Slug = Field(description="'ovh' or an issuer of policies/dag.yaml.")


class Vhost(Strict):
    domain: HostName
    aliases: list[HostName] = Field(default_factory=list)
    tls: TlsIssuer | None = None
    document_root: SafePath | None = Field(
        default=None,
        description="The folder the web server serves, under /srv/ or /var/www/ "
        "(default /var/www/<domain>).",
    )


class DbPrivilege(StrEnum):
    ALL = "all"
    READ_WRITE = "read_write"
    READ_ONLY = "read_only"


class DbUser(Strict):
    name: DbUserName
    privileges: DbPrivilege
    hosts: list[DbHost] = Field(default_factory=lambda: ["localhost"])


class DbEngine(StrEnum):
    MARIADB = "mariadb"
    MYSQL = "mysql"
    POSTGRESQL = "postgresql"


class Database(Strict):
    engine: DbEngine
    name: DbName
    users: list[DbUser] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _not_a_system_schema(cls, value: str) -> str:
        problem = system_schema_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class AccountKind(StrEnum):
    SSH = "ssh"
    SFTP = "sftp"
    FTP = "ftp"


class Account(Strict):
    name: UserName
    kind: AccountKind
    keys: list[SshPublicKey] = Field(default_factory=list)
    owner: OneLine = Field(description="Who holds this account (its /etc/passwd comment).")
    request: RequestId | None = Field(
        default=None,
        description="The client's request that asked for this account: plans show it.",
    )


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"


Source = Literal["any"] | IPv4Network | IPv6Network


class OpenPort(Strict):
    protocol: Protocol = Protocol.TCP
    port: (
        Annotated[int, Field(ge=1, le=65535)]
        | Annotated[str, Field(pattern=r"^[0-9]{1,5}-[0-9]{1,5}$"), HostBound("port range")]
    ) = Field(description="A port, or a range 'from-to'.")
    service: Slug = Field(description="What listens, e.g. https, mariadb, sftp.")
    sources: list[Source] = Field(min_length=1, description="'any' or CIDR blocks.")
    justification: str = Field(
        min_length=1, description="The client's external connection need this port serves."
    )
    public: bool = Field(
        default=False, description="The service is meant to be public (open to 'any')."
    )
    request: RequestId | None = None

    @field_validator("port")
    @classmethod
    def _check_range(cls, value: int | str) -> int | str:
        low, high = port_bounds(value)
        if not (1 <= low <= high <= 65535):
            raise ValueError("ports are 1-65535 and a range goes from low to high")
        return value


def port_bounds(port: int | str) -> tuple[int, int]:
    """The first and last port of a port or a 'from-to' range."""
    if isinstance(port, int):
        return port, port
    low, _, high = port.partition("-")
    return int(low), int(high)


class Firewall(Strict):
    icmp: bool = True
    open_ports: list[OpenPort] = Field(default_factory=list)


class Security(Derogable):
    anti_ddos: bool = True
    intrusion_detection: bool = True
    antivirus: bool = True
    ip_reputation_monitoring: bool = True


class Metric(StrEnum):
    CPU = "cpu"
    RAM = "ram"
    DISK = "disk"
    BANDWIDTH = "bandwidth"
    LOAD = "load"
    APP_CONNECTIONS = "app_connections"
    DB_CONNECTIONS = "db_connections"


class Supervision(Derogable):
    metrics: list[Metric] = Field(min_length=1)
    alert_interval_minutes: int = Field(ge=1)
    uptime_interval_minutes: int = Field(ge=1)
    uptime_urls: list[UptimeUrl] = Field(default_factory=list)
    ovh_monitoring: bool = True


class BackupScope(StrEnum):
    SYSTEM = "system"
    FILES = "files"
    DATABASES = "databases"
    DEV_SPACE = "dev_space"


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class Backup(Derogable):
    frequency: Frequency = Frequency.DAILY
    schedule: HHMM = Field(description="Start time, between 01:00 and 06:00 by default.")
    retention_days: int = Field(ge=1, le=3650)
    scope: list[BackupScope] = Field(min_length=1)
    storage: Slug = Field(description="A backup storage host of policies/dag.yaml.")
    paths: list[SafePath] = Field(
        default_factory=list, description="Site file paths to include (absolute, normalised)."
    )


class ReverseDns(Strict):
    ip: IPv4Address | IPv6Address
    name: HostName


class Server(Strict):
    name: Slug
    role: Role
    ovh: Ovh
    ips: list[IPv4Address | IPv6Address] = Field(min_length=1)
    ssh: Ssh
    os: OperatingSystem
    app_server: Software | None = None
    vhosts: list[Vhost] = Field(default_factory=list)
    databases: list[Database] = Field(default_factory=list)
    accounts: list[Account] = Field(default_factory=list)
    firewall: Firewall = Field(default_factory=Firewall)
    security: Security = Field(default_factory=Security)
    supervision: Supervision
    backup: Backup
    reverse_dns: list[ReverseDns] = Field(default_factory=list)
    hosts_dev_space: bool = False


def vhost_names(servers: Iterable[Server]) -> set[str]:
    """Every name (domain and aliases) the servers' vhosts declare, lower-case."""
    return {n.lower() for s in servers for v in s.vhosts for n in (v.domain, *v.aliases)}
