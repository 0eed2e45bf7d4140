"""`dagsync status`: each server as DAG's Prometheus sees it, read from its HTTP API.

Prometheus listens on the monitoring host's loopback only; dagsync reads it over the SSH
connection it uses for the host (one `curl` per query, in one command), so no port is
opened for this.  The first monitoring host that answers is used.

Per server: up or down (node exporter), the alerts firing, uptime over 24 h and 30 days (the
`uptime_urls` probes' success ratio), days until its certificates expire (the probes' TLS
chain), the last backup's age (when the server exports
`dagsync_backup_last_success_timestamp_seconds` through the node exporter's textfile
collector; otherwise unknown) and whether DAG's guarantees are in force (CGV Art. 6).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from dagsync.reconcile.core import Unknown
from dagsync.reconcile.daghosts import observe_all
from dagsync.reconcile.monitoring import Inputs
from dagsync.reconcile.monitoring.driver import hosts_of
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import RunOptions
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.ssh import credentials

API = "http://127.0.0.1:9090/api/v1/query"
SEPARATOR = "@@dagsync-query "
QUERIES: tuple[tuple[str, str], ...] = (
    ("up", 'up{job="node"}'),
    ("firing", 'ALERTS{alertstate="firing"}'),
    ("uptime_24h", 'avg by (client, server) (avg_over_time(probe_success{job=~"uptime-.+"}[1d]))'),
    ("uptime_30d", 'avg by (client, server) (avg_over_time(probe_success{job=~"uptime-.+"}[30d]))'),
    ("cert_days", "min by (client, server) ((probe_ssl_earliest_cert_expiry - time()) / 86400)"),
    (
        "backup_age_hours",
        "(time() - max by (client, server) (dagsync_backup_last_success_timestamp_seconds)) / 3600",
    ),
    ("guarantee", "dagsync:guarantee"),
)
Samples = dict[str, list[tuple[dict[str, str], float]]]


@dataclass(frozen=True)
class ServerStatus:
    client: str
    server: str
    up: bool | None  # None: Prometheus has no sample (not scraped yet)
    firing: tuple[str, ...]
    uptime_24h: float | None  # ratio, None without uptime probes
    uptime_30d: float | None
    cert_days: float | None
    backup_age_hours: float | None
    guarantee: str | None

    @property
    def healthy(self) -> bool:
        return self.up is True and not self.firing


def command() -> str:
    lines = []
    for name, query in QUERIES:
        lines.append(f"printf '%s\\n' {q(SEPARATOR + name)}")
        lines.append(
            f"curl -fsS --max-time 20 -G --data-urlencode {q('query=' + query)} {q(API)} "
            "|| { echo 'Prometheus does not answer on 127.0.0.1:9090' >&2; exit 3; }"
        )
        lines.append("echo")
    return "\n".join(lines) + "\n"


def parse(result: CommandResult) -> Samples | Unknown:
    if not result.ok:
        return Unknown(f"reading Prometheus failed: {result.stderr.strip()[-200:]}")
    samples: Samples = {}
    name = ""
    for line in result.stdout.split("\n"):
        if line.startswith(SEPARATOR):
            name = line.removeprefix(SEPARATOR)
        elif line.strip() and name:
            try:
                body = json.loads(line)
                vector = body["data"]["result"]
                samples[name] = [(dict(s["metric"]), float(s["value"][1])) for s in vector]
            except (ValueError, KeyError, TypeError, IndexError):
                return Unknown(f"Prometheus answered {name} with something else than a vector")
    return samples


def _by_server(
    samples: Samples, name: str
) -> dict[tuple[str, str], list[tuple[dict[str, str], float]]]:
    out: dict[tuple[str, str], list[tuple[dict[str, str], float]]] = {}
    for labels, value in samples.get(name, []):
        key = (labels.get("client", ""), labels.get("server", ""))
        out.setdefault(key, []).append((labels, value))
    return out


def statuses(servers: Sequence[tuple[str, str]], samples: Samples) -> list[ServerStatus]:
    """One status per (client, server) of the repository, from the query results."""
    found = {name: _by_server(samples, name) for name, _ in QUERIES}

    def value(name: str, key: tuple[str, str]) -> float | None:
        values = [v for _, v in found[name].get(key, [])]
        return min(values) if values else None

    out = []
    for key in servers:
        up = value("up", key)
        firing = sorted(
            {labels.get("alertname", "?") for labels, _ in found["firing"].get(key, [])}
        )
        guarantee = [labels.get("guarantee", "") for labels, _ in found["guarantee"].get(key, [])]
        out.append(
            ServerStatus(
                key[0],
                key[1],
                None if up is None else up == 1,
                tuple(firing),
                value("uptime_24h", key),
                value("uptime_30d", key),
                value("cert_days", key),
                value("backup_age_hours", key),
                guarantee[0] if guarantee else None,
            )
        )
    return out


def read(inputs: Inputs, overrides: Overrides, options: RunOptions) -> tuple[Samples, list[str]]:
    """The query results of the first monitoring host that answers, and why others did not."""
    hosts = [h for h, _ in hosts_of(inputs.repo.settings, overrides)]
    for host in hosts:
        host.read, host.parse, host.kind = command(), parse, "status"
    observe_all(hosts, options, credentials(inputs.repo.settings.ssh_user, overrides), keep=False)
    problems: list[str] = []
    for host in hosts:
        if isinstance(host.observed, dict):
            return host.observed, problems
        reason = host.error or getattr(host.observed, "reason", "not read")
        problems.append(f"{host.target.key}: {reason}")
    return {}, problems


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.2f}%"


def _number(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.0f} {unit}"


def render_text(rows: Sequence[ServerStatus]) -> str:
    lines = []
    for r in rows:
        state = {True: "up", False: "DOWN", None: "unknown"}[r.up]
        firing = ", ".join(r.firing) or "none"
        guarantee = (r.guarantee or "unknown").replace("_", " ")
        lines.append(
            f"{r.client}/{r.server}: {state}; firing: {firing}; uptime 24h "
            f"{_percent(r.uptime_24h)}, 30d {_percent(r.uptime_30d)}; certificate "
            f"{_number(r.cert_days, 'days')}; last backup {_number(r.backup_age_hours, 'h ago')}"
            f"; guarantee {guarantee}"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def render_json(rows: Sequence[ServerStatus]) -> str:
    doc: Mapping[str, object] = {"version": 1, "servers": [asdict(r) for r in rows]}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
