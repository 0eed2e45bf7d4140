"""`promtool test rules` files generated with the rules: synthetic series that prove the
timing promises of CGV Art. 4 on the rendered files, for every server.

Each server's faults are simulated in the worst case: the fault starts just after the last
healthy sample, `t0`.  The scrape and evaluation intervals come from the *rendered* files
(prometheus.yml, the rule groups, Alertmanager's `group_wait`), the promises from the
server's YAML, so a longer interval or `for` that breaks a promise makes the test fail:

- uptime: with the probe's scrape interval, the alert fires at `t0 + uptime_interval`
  (promtool evaluates at that instant; the real world adds one evaluation);
- incidents: the alert fires by `t0 + alert_interval - evaluation - group_wait`, so that
  the notification leaves within the declared interval whatever the evaluation's phase;
- no alert at `t0`, while everything is healthy;
- root access (CGV Art. 6): the server's window, moved to the first week of 1970 (promtool's
  clock starts at 0) with its days and hours kept, labels an alert raised inside it
  `guarantee="suspended_root_access"` and one outside it `in_force`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dagsync.model.client import RootAccessWindow
from dagsync.model.exporters import NODE, server_jobs
from dagsync.model.server import Server
from dagsync.reconcile.monitoring import Inputs, windows
from dagsync.reconcile.monitoring.render import HEADER, dump
from dagsync.reconcile.monitoring.rules import IN_FORCE, SUSPENDED, guarantee_rules
from dagsync.reconcile.monitoring.targets import uptime_job
from dagsync.validate.repository import ClientConfig

GROUP_ORDER = ["dagsync-guarantee", "dagsync-metrology", "dagsync-uptime", "dagsync-incidents"]
WARMUP_SECONDS = 600  # healthy history before the fault: longer than every rate window
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TEMPLATE = re.compile(r"\{\{ \$labels\.([a-z_]+) \}\}")


def parse(text: str) -> dict[str, object]:
    """A rendered document (JSON under a comment line) back to data."""
    loaded: dict[str, object] = json.loads(text.removeprefix(HEADER))
    return loaded


@dataclass(frozen=True)
class Timing:
    """The intervals the rendered files actually use."""

    scrape: dict[str, int]  # job -> seconds
    default_scrape: int
    evaluation: int  # the slowest rule group
    group_wait: int
    rules: dict[str, dict[str, object]]  # alert name -> rendered rule

    def scrape_of(self, job: str) -> int:
        return self.scrape.get(job, self.default_scrape)


def _seconds(duration: object) -> int:
    text = str(duration)
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)([smh])", text))


def timing(files: Mapping[str, str]) -> Timing:
    prom: dict[str, object] = parse(files["prometheus.yml"])
    glob: dict[str, object] = prom["global"]  # type: ignore[assignment]
    jobs: list[dict[str, object]] = prom["scrape_configs"]  # type: ignore[assignment]
    scrape = {
        str(j["job_name"]): _seconds(j["scrape_interval"]) for j in jobs if "scrape_interval" in j
    }
    evaluation = 0
    rules: dict[str, dict[str, object]] = {}
    for path in (p for p in files if p.startswith("rules/")):
        groups: list[dict[str, object]] = parse(files[path])["groups"]  # type: ignore[assignment]
        for group in groups:
            evaluation = max(
                evaluation, _seconds(group.get("interval", glob["evaluation_interval"]))
            )
            for rule in group["rules"]:  # type: ignore[attr-defined]
                if "alert" in rule:
                    rules[str(rule["alert"])] = rule
    am: dict[str, object] = parse(files["alertmanager.yml"])
    route: dict[str, object] = am["route"]  # type: ignore[assignment]
    waits = [_seconds(route["group_wait"])]
    waits += [_seconds(r["group_wait"]) for r in route.get("routes", []) if "group_wait" in r]  # type: ignore[attr-defined]
    return Timing(scrape, _seconds(glob["scrape_interval"]), evaluation, max(waits), rules)


def _series(name: str, labels: Mapping[str, str]) -> str:
    inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _values(
    before: float, after: float, steps_before: int, steps_after: int, slope: float = 0
) -> str:
    """`before` for `steps_before + 1` samples, then `after`; a counter grows by `slope`."""
    if slope:
        last = before + slope * steps_before
        return f"{before}+{slope}x{steps_before} {last}+0x{steps_after}"
    return f"{before}+0x{steps_before} {after}+0x{steps_after}"


def _expected(
    alert: str, t: Timing, labels: Mapping[str, str], guarantee: str
) -> dict[str, object]:
    rule = t.rules[alert]
    full = {**labels, **rule["labels"], "guarantee": guarantee}  # type: ignore[dict-item]
    summary = str(rule["annotations"]["summary"])  # type: ignore[index]
    return {
        "exp_labels": dict(sorted(full.items())),
        "exp_annotations": {"summary": _TEMPLATE.sub(lambda m: full[m.group(1)], summary)},
    }


@dataclass(frozen=True)
class Case:
    """One fault on one server: the series, the alert and when it must fire."""

    alert: str
    interval: int
    series: list[dict[str, str]]
    labels: dict[str, str]
    t0: int
    deadline: int


def _server_labels(config: ClientConfig, server: Server, job: str, instance: str) -> dict[str, str]:
    return {
        "client": config.id,
        "contract": config.client.contract.cgv_version,
        "instance": instance,
        "job": job,
        "role": str(server.role),
        "server": server.name,
    }


def _incident_cases(
    config: ClientConfig, server: Server, t: Timing, inputs: Inputs
) -> Iterator[Case]:
    s = t.scrape_of(NODE)
    promise = server.supervision.alert_interval_minutes * 60
    before = math.ceil(WARMUP_SECONDS / s)
    after = math.ceil(promise / s) + 2
    t0 = before * s
    deadline = t0 + promise - t.evaluation - t.group_wait
    node = _server_labels(config, server, NODE, f"{server.name}:node")
    up = _series("up", node)
    healthy_up = {"series": up, "values": _values(1, 1, before, after)}
    alerts = inputs.monitoring.alerts

    yield Case(
        "HostDown", s, [{"series": up, "values": _values(1, 0, before, after)}], node, t0, deadline
    )
    for job in server_jobs(server)[1:]:
        labels = _server_labels(config, server, job, f"{server.name}:{job}")
        series = [
            healthy_up,
            {"series": _series("up", labels), "values": _values(1, 0, before, after)},
        ]
        yield Case("ExporterMissing", s, series, labels, t0, deadline)

    fs = {**node, "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    full = 1 - (alerts.disk_full.threshold or 0)
    yield Case(
        "DiskFull",
        s,
        [
            healthy_up,
            {
                "series": _series("node_filesystem_size_bytes", fs),
                "values": _values(1e9, 1e9, before, after),
            },
            {
                "series": _series("node_filesystem_avail_bytes", fs),
                "values": _values(5e8, 1e9 * full / 2, before, after),
            },
        ],
        fs,
        t0,
        deadline,
    )
    free = 1 - (alerts.memory_pressure.threshold or 0)
    yield Case(
        "MemoryPressure",
        s,
        [
            healthy_up,
            {
                "series": _series("node_memory_MemTotal_bytes", node),
                "values": _values(8e9, 8e9, before, after),
            },
            {
                "series": _series("node_memory_MemAvailable_bytes", node),
                "values": _values(4e9, 8e9 * free / 2, before, after),
            },
        ],
        node,
        t0,
        deadline,
    )
    idle = {**node, "cpu": "0", "mode": "idle"}
    yield Case(
        "CpuSaturated",
        s,
        [
            healthy_up,
            {
                "series": _series("node_cpu_seconds_total", idle),
                "values": _values(0, 0, before, after, slope=s),
            },
        ],
        node,
        t0,
        deadline,
    )
    load = (alerts.load_high.threshold or 0) * 2
    yield Case(
        "LoadHigh",
        s,
        [
            healthy_up,
            {
                "series": _series("node_cpu_seconds_total", idle),
                "values": _values(0, 0, before, after, slope=s / 2),
            },
            {"series": _series("node_load1", node), "values": _values(0.1, load, before, after)},
        ],
        node,
        t0,
        deadline,
    )
    # The backup's age and the certificates' expiry cross their thresholds right after t0.
    period = 86400 if server.backup.frequency.value == "daily" else 7 * 86400
    last = t0 - period - round((alerts.backup_too_old.threshold or 0) * 3600)
    backup = [
        ("dagsync_backup_last_success_timestamp_seconds", last),
        ("dagsync_backup_period_seconds", period),
    ]
    series = [
        {"series": _series(n, node), "values": _values(v, v, before, after)} for n, v in backup
    ]
    yield Case("BackupTooOld", s, [healthy_up, *series], node, t0, deadline)
    expiry = t0 + round((alerts.certificate_expiring.threshold or 0) * 86400)
    job = uptime_job(server.supervision.uptime_interval_minutes)
    for url in (u for u in server.supervision.uptime_urls if u.startswith("https://")):
        labels = _server_labels(config, server, job, url)
        cert = _series("probe_ssl_earliest_cert_expiry", labels)
        series = [{"series": cert, "values": _values(expiry, expiry, before, after)}]
        yield Case("CertificateExpiring", s, [healthy_up, *series], labels, t0, deadline)


def _uptime_cases(config: ClientConfig, server: Server, t: Timing) -> Iterator[Case]:
    job = uptime_job(server.supervision.uptime_interval_minutes)
    s = t.scrape_of(job)
    promise = server.supervision.uptime_interval_minutes * 60
    before = math.ceil(WARMUP_SECONDS / s)
    after = math.ceil(promise / s) + 2
    t0 = before * s
    node = _server_labels(config, server, NODE, f"{server.name}:node")
    for url in server.supervision.uptime_urls:
        labels = _server_labels(config, server, job, url)
        series = [
            {"series": _series("up", node), "values": _values(1, 1, before, after)},
            {"series": _series("probe_success", labels), "values": _values(1, 0, before, after)},
        ]
        yield Case("UptimeFailing", s, series, labels, t0, t0 + promise)


def _tests(cases: list[Case], t: Timing) -> list[dict[str, object]]:
    """One promtool test per alert and timing, with the faults of every server in it: one
    test group (one in-memory database) instead of one per server keeps promtool fast."""
    grouped: dict[tuple[str, int, int, int], list[Case]] = {}
    for case in cases:
        grouped.setdefault((case.alert, case.interval, case.t0, case.deadline), []).append(case)
    tests: list[dict[str, object]] = []
    for (alert, interval, t0, deadline), group in grouped.items():
        series = {s["series"]: s for case in group for s in case.series}
        where = ", ".join(f"{c.labels['client']}/{c.labels['server']}" for c in group)
        expected = [_expected(alert, t, c.labels, IN_FORCE) for c in group]
        tests.append(
            {
                "name": f"{alert} on {where}: fault after {t0}s, alert by {deadline}s",
                "interval": f"{interval}s",
                "input_series": list(series.values()),
                "alert_rule_test": [
                    {"alertname": alert, "eval_time": f"{t0}s", "exp_alerts": []},
                    {"alertname": alert, "eval_time": f"{deadline}s", "exp_alerts": expected},
                ],
            }
        )
    return tests


def _file(rule_files: list[str], evaluation: int, tests: list[dict[str, object]]) -> str:
    doc = {
        "rule_files": rule_files,
        "evaluation_interval": f"{evaluation}s",
        "group_eval_order": GROUP_ORDER,
        "tests": tests,
    }
    return HEADER + dump(doc)


def _shifted(window: RootAccessWindow) -> RootAccessWindow:
    """The window in the first week of 1970, with its days and hours."""
    return window.model_copy(update={"start": dt.date(1970, 1, 1), "end": dt.date(1970, 1, 7)})


def _root_access_case(
    config: ClientConfig, server: Server, window: RootAccessWindow, t: Timing
) -> dict[str, object] | None:
    """HostDown from the start: labelled in_force before the window's first slot, suspended
    inside it (the slots computed in Python, which tests compare with the code that grants
    root on the host, `hosts.rootaccess.open_until`)."""
    opened = windows.slots(windows.Shape.of(_shifted(window)))

    def is_open(moment: dt.datetime) -> bool:
        return any(s.start <= moment < s.end for s in opened)

    if not opened:
        return None
    inside = opened[0].start + min(dt.timedelta(minutes=30), (opened[0].end - opened[0].start) / 2)
    outside = inside - dt.timedelta(hours=1)
    while is_open(outside):
        outside -= dt.timedelta(hours=1)
    if outside < EPOCH + dt.timedelta(minutes=30):
        return None
    s = t.scrape_of(NODE)
    steps = int((inside - EPOCH).total_seconds()) // s + 2
    node = _server_labels(config, server, NODE, f"{server.name}:node")
    checks = []
    for when, guarantee in ((outside, IN_FORCE), (inside, SUSPENDED)):
        checks.append(
            {
                "alertname": "HostDown",
                "eval_time": f"{int((when - EPOCH).total_seconds())}s",
                "exp_alerts": [_expected("HostDown", t, node, guarantee)],
            }
        )
    return {
        "name": f"root access {window.request} {config.id}/{server.name}: "
        f"HostDown in_force at {outside:%a %H:%M}Z, suspended at {inside:%a %H:%M}Z",
        "interval": f"{s}s",
        "input_series": [{"series": _series("up", node), "values": f"0+0x{steps}"}],
        "alert_rule_test": checks,
    }


def proofs(inputs: Inputs, files: Mapping[str, str]) -> dict[str, str]:
    """Path -> text of the test files (and the rules they need) under tests/."""
    t = timing(files)
    rules = [f"../{p}" for p in sorted(files) if p.startswith("rules/")]
    uptime: list[Case] = []
    incidents: list[Case] = []
    root: list[dict[str, object]] = []
    moved_clients: list[ClientConfig] = []
    for config, server in inputs.repo.servers():
        uptime += _uptime_cases(config, server, t)
        incidents += _incident_cases(config, server, t, inputs)
        for window in config.client.contract.root_access:
            if window.server != server.name or not window.guarantees_suspended:
                continue
            case = _root_access_case(config, server, window, t)
            if case is not None:
                root.append(case)
                contract = config.client.contract.model_copy(
                    update={"root_access": [_shifted(window)]}
                )
                client = config.client.model_copy(update={"contract": contract})
                moved_clients.append(ClientConfig(client, config.servers))
    out = {
        "tests/uptime.yml": _file(rules, t.evaluation, _tests(uptime, t)),
        "tests/incidents.yml": _file(rules, t.evaluation, _tests(incidents, t)),
    }
    if root:
        moved = guarantee_rules(moved_clients)
        group = {"name": "dagsync-guarantee", "interval": f"{t.evaluation}s", "rules": moved}
        out["tests/root-access-rules.yml"] = HEADER + dump({"groups": [group]})
        others = [r for r in rules if not r.endswith("10-guarantee.yml")]
        out["tests/root-access.yml"] = _file(["root-access-rules.yml", *others], t.evaluation, root)
    return out
