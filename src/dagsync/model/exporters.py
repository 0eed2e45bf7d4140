"""What DAG's monitoring scrapes on a client server, and the openings that follows from it.

One function decides the exporters of a server (`server_jobs`): every server runs the node
exporter; one that declares `db_connections` runs the exporter of its database engine, one
that declares `app_connections` the exporter of its web server.  From it come the targets of
the monitoring hosts (`reconcile.monitoring.targets`), the exporters installed and started on
the server (`reconcile.hosts.exporters`), and the openings of the server's firewalls to the
monitoring hosts' addresses only (`monitoring_openings`): the host firewall (nftables), the
OVH edge firewall and the validator's edge-rule budget (`model.edge`, EDG001) all take them
from here, so an opening is derived, never hand-declared, and counted where it is made.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address

from dagsync.model.monitoring import Monitoring
from dagsync.model.server import DbEngine, Metric, OpenPort, Protocol, Server

NODE = "node"
# Exporter jobs other than node, by what a server declares.
DB_EXPORTERS = {
    DbEngine.MARIADB: "mysqld",
    DbEngine.MYSQL: "mysqld",
    DbEngine.POSTGRESQL: "postgres",
}
APP_EXPORTERS = {"nginx": "nginx", "apache": "apache", "apache2": "apache", "httpd": "apache"}
EXPORTER_JOBS = ("mysqld", "postgres", "nginx", "apache")
ALL_JOBS = (NODE, *EXPORTER_JOBS)


def server_jobs(server: Server) -> list[str]:
    """The exporter jobs this server runs, node first."""
    jobs = [NODE]
    metrics = set(server.supervision.metrics)
    if Metric.DB_CONNECTIONS in metrics:
        jobs += sorted({DB_EXPORTERS[db.engine] for db in server.databases})
    app = server.app_server.name.lower() if server.app_server else ""
    if Metric.APP_CONNECTIONS in metrics and app in APP_EXPORTERS:
        jobs.append(APP_EXPORTERS[app])
    return jobs


def listen_address(server: Server) -> IPv4Address | IPv6Address:
    """Where the exporters listen (and are scraped): the server's first IPv4 address, else its
    first address; never every address."""
    return next((ip for ip in server.ips if ip.version == 4), server.ips[0])


def monitoring_sources(monitoring: Monitoring | None) -> list[IPv4Network]:
    """The monitoring hosts' addresses, as /32 networks (a host without `address` scrapes
    nothing through a firewall: it gets no opening)."""
    if monitoring is None:
        return []
    found = dict.fromkeys(IPv4Network(h.address) for h in monitoring.hosts if h.address)
    return list(found)


def monitoring_openings(server: Server, monitoring: Monitoring | None) -> list[OpenPort]:
    """One opening per exporter of the server, to the monitoring hosts' addresses only."""
    sources = monitoring_sources(monitoring)
    if monitoring is None or not sources:
        return []
    return [
        OpenPort(
            protocol=Protocol.TCP,
            port=getattr(monitoring.exporters, job),
            service=f"{job}-exporter",
            sources=list(sources),
            justification="DAG's supervision (CGV Art. 4): scraped by the monitoring hosts",
        )
        for job in server_jobs(server)
    ]
