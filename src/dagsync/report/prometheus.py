"""A client's daily availability over a month, from DAG's Prometheus (CGV Art. 4).

One range query, read as `dagsync status` reads its instant queries: over the SSH
connection of the first monitoring host that answers, `curl` to Prometheus on the host's
loopback. Per server and day: the ratio of successful uptime probes over that day
(`avg_over_time(probe_success{job=~"uptime-.+"}[1d])` evaluated at the end of each day,
the same expression as `dagsync status`'s 30-day figure, over one day).
"""

from __future__ import annotations

import datetime as dt
import json

from dagsync.reconcile.core import Unknown
from dagsync.reconcile.daghosts import observe_all
from dagsync.reconcile.monitoring import Inputs
from dagsync.reconcile.monitoring.driver import hosts_of
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import RunOptions
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.ssh import credentials
from dagsync.report.model import Month, ServerAvailability

API = "http://127.0.0.1:9090/api/v1/query_range"
DAY = 86_400


def promql_string(value: str) -> str:
    """A PromQL string literal (double-quoted, backslash and quote escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def query(client: str) -> str:
    return (
        'avg by (server) (avg_over_time(probe_success{job=~"uptime-.+", client='
        f"{promql_string(client)}}}[1d]))"
    )


def _epoch(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def command(client: str, month: Month) -> str:
    """Each day's value, evaluated at the end of the day (midnight UTC after it)."""
    start = _epoch(month.first) + DAY
    end = _epoch(month.last) + DAY
    words = [
        "curl -fsS --max-time 60 -G",
        f"--data-urlencode {q('query=' + query(client))}",
        f"--data-urlencode {q(f'start={start}')}",
        f"--data-urlencode {q(f'end={end}')}",
        f"--data-urlencode {q(f'step={DAY}')}",
        q(API),
    ]
    return (
        " ".join(words)
        + " || { echo 'Prometheus does not answer on 127.0.0.1:9090' >&2; exit 3; }\n"
    )


def parse(stdout: str) -> tuple[ServerAvailability, ...] | Unknown:
    """A `query_range` answer (a matrix) into each server's daily ratios; the value at the
    end of a day is that day's."""
    try:
        body = json.loads(stdout)
        matrix = body["data"]["result"]
        servers = []
        for series in matrix:
            daily = tuple(
                (
                    dt.datetime.fromtimestamp(float(t) - DAY, dt.UTC).date(),
                    min(1.0, max(0.0, float(v))),
                )
                for t, v in series["values"]
            )
            servers.append(ServerAvailability(str(series["metric"].get("server", "?")), daily))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return Unknown("Prometheus answered with something else than a matrix")
    return tuple(sorted(servers, key=lambda s: s.server))


def hosts_declared(inputs: Inputs) -> bool:
    monitoring = inputs.repo.settings.monitoring
    return bool(monitoring and monitoring.hosts)


def read(
    inputs: Inputs, overrides: Overrides, options: RunOptions, client: str, month: Month
) -> tuple[tuple[ServerAvailability, ...] | None, list[str]]:
    """The month's daily availability from the first monitoring host that answers (None when
    none did), and why the others did not."""
    hosts = [h for h, _ in hosts_of(inputs.repo.settings, overrides)]

    def parsed(result: CommandResult) -> tuple[ServerAvailability, ...] | Unknown:
        if not result.ok:
            return Unknown(f"reading Prometheus failed: {result.stderr.strip()[-200:]}")
        return parse(result.stdout)

    for host in hosts:
        host.read, host.parse, host.kind = command(client, month), parsed, "report"
    observe_all(hosts, options, credentials(inputs.repo.settings.ssh_user, overrides), keep=False)
    problems: list[str] = []
    for host in hosts:
        if isinstance(host.observed, tuple):
            return host.observed, problems
        reason = host.error or getattr(host.observed, "reason", "not read")
        problems.append(f"{host.target.key}: {reason}")
    return None, problems
