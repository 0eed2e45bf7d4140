"""What Prometheus scrapes: per client, one file_sd file per job, from each server's YAML.

Every server runs the node exporter; a server that declares `db_connections` runs the
exporter of its database engine, one that declares `app_connections` the exporter of its web
server; each `uptime_urls` entry is probed through blackbox_exporter at the server's declared
`uptime_interval_minutes` (one job per interval, `uptime-60s`).  Every target carries the
labels client, server, role and contract (the CGV version the contract was signed under).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from dagsync.model.exporters import listen_address, server_jobs
from dagsync.model.monitoring import ExporterPorts
from dagsync.model.server import Server
from dagsync.validate.repository import ClientConfig

UPTIME_PREFIX = "uptime-"


@dataclass(frozen=True)
class Target:
    job: str
    client: str
    address: str  # host:port, or the URL an uptime job probes
    labels: tuple[tuple[str, str], ...]


def uptime_job(minutes: int) -> str:
    return f"{UPTIME_PREFIX}{minutes * 60}s"


def host_port(address: IPv4Address | IPv6Address, port: int) -> str:
    return f"{address}:{port}" if address.version == 4 else f"[{address}]:{port}"


def server_targets(config: ClientConfig, server: Server, ports: ExporterPorts) -> Iterator[Target]:
    labels = (
        ("client", config.id),
        ("contract", config.client.contract.cgv_version),
        ("role", str(server.role)),
        ("server", server.name),
    )
    address = listen_address(server)
    for job in server_jobs(server):
        yield Target(job, config.id, host_port(address, getattr(ports, job)), labels)
    job = uptime_job(server.supervision.uptime_interval_minutes)
    for url in server.supervision.uptime_urls:
        yield Target(job, config.id, url, labels)


def client_targets(config: ClientConfig, ports: ExporterPorts) -> list[Target]:
    return [t for server in config.servers for t in server_targets(config, server, ports)]


def file_sd(targets: Iterable[Target]) -> list[dict[str, object]]:
    """The file_sd document of one client's targets of one job: one group per server."""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for target in targets:
        groups.setdefault(target.labels, []).append(target.address)
    return [
        {"labels": dict(labels), "targets": sorted(addresses)}
        for labels, addresses in sorted(groups.items())
    ]
