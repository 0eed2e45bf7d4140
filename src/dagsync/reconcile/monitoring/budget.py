"""Which servers the monitoring policies can keep their promises to (CGV Art. 4).

The computation is the model's (`model.monitoring_budget`), shared with the validator's rule
MON004.  A server whose declared interval the policies cannot keep is left out of the
monitoring configuration, with a note naming it and why; every other server is rendered: one
client's `alert_interval_minutes: 1` must not stop the supervision of everyone else on the
shared monitoring hosts.

`promtool test rules` (tests/test_monitoring_promtool.py) proves the same promises on the
rendered rules with synthetic series.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from dagsync.model.monitoring import Monitoring
from dagsync.model.monitoring_budget import problems as server_problems
from dagsync.model.server import uptime_host, vhost_names
from dagsync.validate.repository import ClientConfig


def problems(monitoring: Monitoring, clients: Sequence[ClientConfig]) -> Iterator[str]:
    """Each server whose declared interval the policies cannot keep, with why."""
    for config in clients:
        for server in config.servers:
            for p in server_problems(monitoring, server.supervision):
                yield (
                    f"{config.id}/{server.name}: monitoring.alerts.{p.alert} can be sent "
                    f"{p.delay} s after a fault ({p.why}), over the declared "
                    f"{p.field.removesuffix('_minutes').replace('_', ' ')} of {p.promise} s"
                )


def kept(
    monitoring: Monitoring, clients: Sequence[ClientConfig]
) -> tuple[list[ClientConfig], list[str]]:
    """The clients with only the servers whose promises the policies keep, each with only
    the uptime URLs on the client's own vhost names (MON005: DAG's probe must not be turned
    on a third party), and one refusal line per server or URL left out (the plan shows it)."""
    out: list[ClientConfig] = []
    refused: list[str] = []
    for config in clients:
        servers = []
        names = vhost_names(config.servers)
        for server in config.servers:
            foreign = [u for u in server.supervision.uptime_urls if uptime_host(u) not in names]
            if foreign:
                refused.append(
                    f"{config.id}/{server.name}: uptime URL(s) {', '.join(foreign)} not probed: "
                    "not on one of the client's vhost names (validator rule MON005)"
                )
                urls = [u for u in server.supervision.uptime_urls if u not in foreign]
                supervision = server.supervision.model_copy(update={"uptime_urls": urls})
                server = server.model_copy(update={"supervision": supervision})
            found = list(problems(monitoring, [ClientConfig(config.client, (server,))]))
            if found:
                refused.append(
                    f"{config.id}/{server.name} is not monitored (validator rule MON004): "
                    + "; ".join(line.split(": ", 1)[1] for line in found)
                )
            else:
                servers.append(server)
        out.append(ClientConfig(config.client, tuple(servers), config.requests))
    return out, refused
