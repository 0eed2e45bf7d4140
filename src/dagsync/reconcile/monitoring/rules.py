"""Prometheus recording and alerting rules, from the policies and the clients' contracts.

Thresholds, `for` durations and runbook lines come from `policies/dag.yaml` (`monitoring.
alerts`); each alert's CGV article comes from the CGV version of the client's contract.  Every
alert is joined with `dagsync:guarantee`, one series per server whose label `guarantee` is
`in_force`, or `suspended_root_access` while a root-access window of the server is open
(CGV Art. 6: « suspension des garanties d'intervention et de rétablissement »).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dagsync.errors import DagsyncError
from dagsync.model.exporters import EXPORTER_JOBS, NODE
from dagsync.model.monitoring import AlertPolicy, Monitoring
from dagsync.model.monitoring_budget import TIMINGS
from dagsync.model.policy import CgvPolicy
from dagsync.reconcile.monitoring import maintenance, windows
from dagsync.reconcile.monitoring.targets import UPTIME_PREFIX
from dagsync.validate.repository import ClientConfig

Rule = dict[str, object]
Group = dict[str, object]

GUARANTEE = "dagsync:guarantee"
ROOT_OPEN = "dagsync:root_access_open"
IN_FORCE = "in_force"
SUSPENDED = "suspended_root_access"
# Every alert carries its server's guarantee and is withheld during DAG's planned maintenance.
JOIN = (
    f"* on(client, server) group_left(guarantee) {GUARANTEE} "
    f"unless on(client, server) {maintenance.RECORD}"
)
FS = 'fstype!~"tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|tracefs"'
NETDEV = 'device!~"lo|veth.*|docker.*|br-.*|virbr.*"'


@dataclass(frozen=True)
class Alert:
    """One alerting rule: its name, policy field, PromQL builder and the promise it keeps."""

    name: str
    field: str  # the field of `monitoring.alerts`
    summary: str

    @property
    def uptime(self) -> bool:
        """Kept within uptime_interval_minutes (else alert_interval_minutes)."""
        return TIMINGS[self.field].uptime

    @property
    def windowed(self) -> bool:
        """Over a rate(): the fault shows once the rate window holds it."""
        return TIMINGS[self.field].windowed


# The catalogue: one entry per alert, in the order of the rules file.
ALERTS = (
    Alert("UptimeFailing", "uptime_failing", "{{ $labels.instance }} does not answer"),
    Alert("HostDown", "host_down", "{{ $labels.server }} is unreachable"),
    Alert("ExporterMissing", "exporter_missing", "the {{ $labels.job }} exporter is down"),
    Alert("DiskFull", "disk_full", "{{ $labels.mountpoint }} is almost full"),
    Alert("MemoryPressure", "memory_pressure", "RAM is almost exhausted"),
    Alert("CpuSaturated", "cpu_saturated", "all CPUs are busy"),
    Alert("LoadHigh", "load_high", "the load per CPU is high"),
    Alert("BackupTooOld", "backup_too_old", "the last backup is older than its period allows"),
    Alert(
        "CertificateExpiring",
        "certificate_expiring",
        "the certificate of {{ $labels.instance }} expires soon",
    ),
)


def _expr(alert: Alert, sel: str, policy: AlertPolicy) -> str:
    t = policy.threshold
    exporters = "|".join(EXPORTER_JOBS)
    exprs = {
        "uptime_failing": f'probe_success{{job=~"{UPTIME_PREFIX}.+", {sel}}} == 0',
        "host_down": f'up{{job="{NODE}", {sel}}} == 0',
        "exporter_missing": f'up{{job=~"{exporters}", {sel}}} == 0 '
        f'unless on(client, server) up{{job="{NODE}"}} == 0',
        "disk_full": f"1 - node_filesystem_avail_bytes{{{FS}, {sel}}} "
        f"/ node_filesystem_size_bytes{{{FS}, {sel}}} > {t}",
        "memory_pressure": f"1 - node_memory_MemAvailable_bytes{{{sel}}} "
        f"/ node_memory_MemTotal_bytes{{{sel}}} > {t}",
        "cpu_saturated": f"instance:node_cpu_busy:ratio{{{sel}}} > {t}",
        "load_high": f"node_load1{{{sel}}} / instance:node_cpus:count{{{sel}}} > {t}",
        # the backup job writes both series (reconcile.backup.job, the textfile collector)
        "backup_too_old": f"time() - dagsync_backup_last_success_timestamp_seconds{{{sel}}} "
        f"> dagsync_backup_period_seconds{{{sel}}} + {_hours(t)}",
        "certificate_expiring": f'probe_ssl_earliest_cert_expiry{{job=~"{UPTIME_PREFIX}.+", '
        f"{sel}}} - time() < {_days(t)}",
    }
    return f"({exprs[alert.field]}) {JOIN}"


def _hours(value: float | None) -> int:
    return round((value or 0) * 3600)


def _days(value: float | None) -> int:
    return round((value or 0) * 86400)


def _seconds(value: int) -> str:
    return f"{value}s"


def _contracts(
    clients: Sequence[ClientConfig], cgv: Mapping[str, CgvPolicy], uptime: bool
) -> dict[str, list[str]]:
    """CGV article -> the contract versions (of these clients) whose term has that article."""
    by_article: dict[str, set[str]] = {}
    for config in clients:
        version = config.client.contract.cgv_version
        policy = cgv.get(version)
        if policy is None:
            raise DagsyncError(f"client {config.id}: no CGV version {version} in policies/cgv")
        term = policy.uptime_interval_max_minutes if uptime else policy.alert_interval_max_minutes
        by_article.setdefault(term.article, set()).add(version)
    return {article: sorted(v) for article, v in sorted(by_article.items())}


def alert_rules(
    monitoring: Monitoring, clients: Sequence[ClientConfig], cgv: Mapping[str, CgvPolicy]
) -> tuple[list[Rule], list[Rule]]:
    """(uptime rules, incident rules)."""
    uptime: list[Rule] = []
    incidents: list[Rule] = []
    for alert in ALERTS:
        policy: AlertPolicy = getattr(monitoring.alerts, alert.field)
        for article, versions in _contracts(clients, cgv, alert.uptime).items():
            sel = 'contract=~"' + "|".join(versions) + '"'
            rule: Rule = {
                "alert": alert.name,
                "expr": _expr(alert, sel, policy),
                "for": _seconds(policy.for_seconds),
                "labels": {
                    "article": article,
                    "runbook": policy.runbook,
                    "severity": str(policy.severity),
                },
                "annotations": {
                    "summary": f"{{{{ $labels.client }}}}/{{{{ $labels.server }}}}: "
                    f"{alert.summary}",
                },
            }
            (uptime if alert.uptime else incidents).append(rule)
    return uptime, incidents


def guarantee_rules(clients: Sequence[ClientConfig]) -> list[Rule]:
    """One `dagsync:root_access_open` per window that can open, then `dagsync:guarantee`."""
    rules: list[Rule] = []
    for config in clients:
        for window in config.client.contract.root_access:
            cond = windows.condition(window)
            if cond is None or not window.guarantees_suspended:
                continue
            labels = {"client": config.id, "request": window.request, "server": window.server}
            rules.append(
                {"record": ROOT_OPEN, "expr": f"vector(1) and on() ({cond})", "labels": labels}
            )
    node = f'group by (client, server) (up{{job="{NODE}"}})'
    in_force = f'label_replace({node}, "guarantee", "{IN_FORCE}", "", "")'
    open_ = f"group by (client, server) ({ROOT_OPEN})"
    suspended = f'label_replace({open_}, "guarantee", "{SUSPENDED}", "", "")'
    rules += maintenance.recording_rules(maintenance.windows(clients))
    rules.append(
        {
            "record": GUARANTEE,
            "expr": f"({in_force} unless on(client, server) {ROOT_OPEN}) or {suspended}",
        }
    )
    return rules


def metrology_rules(monitoring: Monitoring) -> list[Rule]:
    """CGV Art. 4's métrologie: CPU, bandwidth, active application and database connections."""
    w = f"[{monitoring.rate_window_seconds}s]"
    return [
        {
            "record": "instance:node_cpu_busy:ratio",
            "expr": f'1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{{mode="idle"}}{w}))',
        },
        {
            "record": "instance:node_cpus:count",
            "expr": 'count without (cpu, mode) (node_cpu_seconds_total{mode="idle"})',
        },
        {
            "record": "instance:node_network_receive_bytes:rate",
            "expr": f"sum without (device) (rate(node_network_receive_bytes_total{{{NETDEV}}}{w}))",
        },
        {
            "record": "instance:node_network_transmit_bytes:rate",
            "expr": f"sum without (device) (rate(node_network_transmit_bytes_total{{{NETDEV}}}{w}))",
        },
        {
            "record": "instance:db_connections:active",
            "expr": "mysql_global_status_threads_connected or sum without (datname, state) "
            '(pg_stat_activity_count{state="active"})',
        },
        {
            "record": "instance:app_connections:active",
            "expr": 'nginx_connections_active or sum without (state) (apache_workers{state="busy"})',
        },
    ]


def rule_files(
    monitoring: Monitoring, clients: Sequence[ClientConfig], cgv: Mapping[str, CgvPolicy]
) -> dict[str, dict[str, list[Group]]]:
    """Rule file name -> its document; the guarantee and metrology files come first."""
    interval = _seconds(monitoring.evaluation_interval_seconds)
    uptime, incidents = alert_rules(monitoring, clients, cgv)

    def doc(name: str, rules: list[Rule]) -> dict[str, list[Group]]:
        return {"groups": [{"name": f"dagsync-{name}", "interval": interval, "rules": rules}]}

    return {
        "rules/10-guarantee.yml": doc("guarantee", guarantee_rules(clients)),
        "rules/20-metrology.yml": doc("metrology", metrology_rules(monitoring)),
        "rules/30-uptime.yml": doc("uptime", uptime),
        "rules/40-incidents.yml": doc("incidents", incidents),
    }
