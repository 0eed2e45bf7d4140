"""Render the whole configuration of one monitoring host: a pure function of git's data.

Files (paths relative to the configuration folder, /etc/prometheus/dagsync on the host):

    prometheus.yml            scrape jobs, rule files, the Alertmanager to notify
    rules/*.yml               guarantee, metrology, uptime and incident rules
    targets/<job>/<client>.json   file_sd targets, one file per client and job
    alertmanager.yml          routes: DAG's on-call, then each client's technical contacts
    blackbox.yml              the uptime probe module

Every document is written as JSON (a YAML document too, under a comment line), keys sorted:
values are quoted by construction and the same git gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from dagsync.model.client import ContactRole
from dagsync.model.exporters import EXPORTER_JOBS, NODE
from dagsync.model.monitoring import Monitoring, MonitoringHost, Severity
from dagsync.model.policy import CgvPolicy
from dagsync.reconcile.monitoring import budget, maintenance
from dagsync.reconcile.monitoring.rules import ALERTS, rule_files
from dagsync.reconcile.monitoring.targets import UPTIME_PREFIX, Target, client_targets, file_sd
from dagsync.validate.repository import ClientConfig

HEADER = "# Rendered by dagsync from git (policies/dag.yaml, clients/): do not edit.\n"
ALERTMANAGER = "127.0.0.1:9093"
PROBE_MODULE = "dagsync_http"
ON_CALL = "dag-oncall"


def dump(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dump_lines(items: Sequence[object]) -> str:
    """A JSON list with one item a line: readable, and written by json's C encoder (the
    indenting encoder is pure Python, and there is one target file per client and job)."""
    lines = [json.dumps(item, sort_keys=True, ensure_ascii=False) for item in items]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def _s(seconds: int) -> str:
    return f"{seconds}s"


def _jobs(targets: Sequence[Target]) -> list[str]:
    present = {t.job for t in targets}
    uptime = sorted((j for j in present if j.startswith(UPTIME_PREFIX)), key=_interval)
    return [j for j in (NODE, *EXPORTER_JOBS) if j in present] + uptime


def _interval(job: str) -> int:
    return int(job.removeprefix(UPTIME_PREFIX).removesuffix("s"))


def scrape_config(monitoring: Monitoring, job: str) -> dict[str, object]:
    config: dict[str, object] = {
        "job_name": job,
        "file_sd_configs": [{"files": [f"targets/{job}/*.json"]}],
    }
    if not job.startswith(UPTIME_PREFIX):
        return config
    interval = _interval(job)
    config.update(
        {
            "metrics_path": "/probe",
            "params": {"module": [PROBE_MODULE]},
            "scrape_interval": _s(interval),
            "scrape_timeout": _s(min(interval, monitoring.probe_timeout_seconds + 1)),
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": monitoring.blackbox_address},
            ],
        }
    )
    return config


def prometheus(
    monitoring: Monitoring, host: MonitoringHost, jobs: Sequence[str], rules: Sequence[str]
) -> dict[str, object]:
    return {
        "global": {
            "scrape_interval": _s(monitoring.scrape_interval_seconds),
            "scrape_timeout": _s(min(10, monitoring.scrape_interval_seconds)),
            "evaluation_interval": _s(monitoring.evaluation_interval_seconds),
            "external_labels": {"monitor": host.name},
        },
        "rule_files": list(rules),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [ALERTMANAGER]}]}]},
        "scrape_configs": [scrape_config(monitoring, job) for job in jobs],
    }


def _contacts(config: ClientConfig) -> list[str]:
    """The client's technical contacts (its admin contacts when it names none)."""
    contacts = config.client.contacts
    for role in (ContactRole.TECHNICAL, ContactRole.ADMIN):
        found = sorted({c.email for c in contacts if role in c.roles})
        if found:
            return found
    return []


def alertmanager(monitoring: Monitoring, clients: Sequence[ClientConfig]) -> dict[str, object]:
    """Every alert to DAG's on-call; critical ones also to the client's technical contacts."""
    receivers: list[dict[str, object]] = [
        {"name": ON_CALL, "email_configs": [{"to": monitoring.on_call, "send_resolved": True}]}
    ]
    found = maintenance.windows(clients)
    routes = _maintenance_routes(clients, found)
    routes.append({"receiver": ON_CALL, "continue": True})
    for config in clients:
        emails = _contacts(config)
        if not emails:
            continue
        name = f"client-{config.id}"
        receivers.append(
            {"name": name, "email_configs": [{"to": e, "send_resolved": True} for e in emails]}
        )
        routes.append(
            {
                "receiver": name,
                "matchers": [f'client="{config.id}"', f'severity="{Severity.CRITICAL}"'],
            }
        )
    host_down = "HostDown"
    others = "|".join(a.name for a in ALERTS if a.name not in {host_down, "UptimeFailing"})
    doc: dict[str, object] = {
        "global": {
            "smtp_smarthost": f"{monitoring.smtp.smarthost}:{monitoring.smtp.port}",
            "smtp_from": monitoring.smtp.sender,
        },
        "route": {
            "receiver": ON_CALL,
            "group_by": ["alertname", "client", "server"],
            "group_wait": _s(monitoring.group_wait_seconds),
            "group_interval": _s(monitoring.group_interval_seconds),
            "repeat_interval": f"{monitoring.repeat_interval_minutes}m",
            "routes": routes,
        },
        "receivers": receivers,
        # A host that is down explains its missing exporters and metrics: one page, not five.
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname="{host_down}"'],
                "target_matchers": [f'alertname=~"{others}"'],
                "equal": ["client", "server"],
            }
        ],
    }
    if found:
        doc["time_intervals"] = [maintenance.time_interval(w) for w in found]
    return doc


def _maintenance_routes(
    clients: Sequence[ClientConfig], found: Sequence[maintenance.Window]
) -> list[dict[str, object]]:
    """First, one route per server under maintenance: its alerts go where they always go
    (on-call; critical ones to the client too), muted during its windows (CGV Art. 5)."""
    by_id = {c.id: c for c in clients}
    routes: list[dict[str, object]] = []
    for (client, server), names in maintenance.muted(found).items():
        children: list[dict[str, object]] = [
            {"receiver": ON_CALL, "continue": True, "mute_time_intervals": names}
        ]
        if _contacts(by_id[client]):
            children.append(
                {
                    "receiver": f"client-{client}",
                    "matchers": [f'severity="{Severity.CRITICAL}"'],
                    "mute_time_intervals": names,
                }
            )
        routes.append(
            {
                "receiver": ON_CALL,
                "matchers": [f'client="{client}"', f'server="{server}"'],
                "routes": children,
            }
        )
    return routes


def blackbox(monitoring: Monitoring) -> dict[str, object]:
    return {
        "modules": {
            PROBE_MODULE: {
                "prober": "http",
                "timeout": _s(monitoring.probe_timeout_seconds),
                "http": {
                    "preferred_ip_protocol": "ip4",
                    "ip_protocol_fallback": True,
                    "follow_redirects": True,
                },
            }
        }
    }


def render(
    monitoring: Monitoring,
    host: MonitoringHost,
    clients: Sequence[ClientConfig],
    cgv: Mapping[str, CgvPolicy],
) -> dict[str, str]:
    """Path -> text of every file of `host`'s configuration.  A server whose declared
    intervals the policies cannot keep is left out (`budget.kept`; the plan notes it)."""
    clients, _ = budget.kept(monitoring, sorted(clients, key=lambda c: c.id))
    files: dict[str, str] = {}
    all_targets: list[Target] = []
    for config in clients:
        targets = client_targets(config, monitoring.exporters)
        all_targets += targets
        for job in sorted({t.job for t in targets}):
            files[f"targets/{job}/{config.id}.json"] = dump_lines(
                file_sd(t for t in targets if t.job == job)
            )
    rules = rule_files(monitoring, clients, cgv)
    files.update({path: HEADER + dump(doc) for path, doc in rules.items()})
    doc = prometheus(monitoring, host, _jobs(all_targets), sorted(rules))
    files["prometheus.yml"] = HEADER + dump(doc)
    files["alertmanager.yml"] = HEADER + dump(alertmanager(monitoring, clients))
    files["blackbox.yml"] = HEADER + dump(blackbox(monitoring))
    found = maintenance.windows(clients)
    for config in clients:
        text = maintenance.notice(config, found)
        if text is not None:
            files[f"notices/{config.id}.txt"] = text
    return dict(sorted(files.items()))
