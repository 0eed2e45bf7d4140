"""policies/dag.yaml `monitoring:`: DAG's Prometheus hosts, alert thresholds and timings.

Every number the monitoring configuration uses lives here, as data: thresholds, `for`
durations, scrape and evaluation intervals, Alertmanager's notification delays and the
exporters' ports.  The renderer (`dagsync.reconcile.monitoring`) turns them into Prometheus,
Alertmanager and blackbox_exporter files and refuses a combination that cannot keep a server's
declared `supervision` intervals (CGV Art. 4).
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address
from typing import Annotated

from pydantic import Field, StringConstraints

from dagsync.model.base import Email, HostBound, HostName, Slug, SshPublicKey, Strict

# A runbook line becomes an alert label that Prometheus expands as a Go template: no braces.
Runbook = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1F\x7F{}]+$"),
    Field(description="One line (no control characters, no `{` or `}`), at most 200 characters."),
    HostBound("runbook line"),
]


class MonitoringHost(Strict):
    """One of DAG's monitoring hosts: Prometheus, Alertmanager and blackbox_exporter."""

    name: Slug
    host: HostName
    address: IPv4Address | None = Field(
        default=None, description="Where the reconciler and the exporters' firewalls see it."
    )
    host_key: SshPublicKey | None = None


class Smtp(Strict):
    """How Alertmanager sends mail."""

    smarthost: HostName = Field(description="The relay Alertmanager sends through.")
    port: int = Field(default=25, ge=1, le=65535)
    sender: Email = Field(description="The From: address of alert mail.")


class Severity(StrEnum):
    """critical: sent to DAG's on-call and the client's technical contacts; warning: to
    DAG's on-call only."""

    CRITICAL = "critical"
    WARNING = "warning"


class AlertPolicy(Strict):
    """One alert's timing and text; `threshold` where the alert compares a ratio."""

    for_seconds: int = Field(
        ge=0, le=3600, description="How long the condition holds before the alert fires."
    )
    threshold: float | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="The alert's limit, in the unit its description gives (a ratio: 0.9 = 90 %).",
    )
    severity: Severity = Severity.CRITICAL
    runbook: Runbook = Field(description="The first thing on-call does, on one line.")


class Alerts(Strict):
    """Every alert dagsync renders; each must be declared (none is silently missing)."""

    uptime_failing: AlertPolicy = Field(description="An `uptime_urls` probe fails.")
    host_down: AlertPolicy = Field(description="The node exporter cannot be scraped.")
    exporter_missing: AlertPolicy = Field(
        description="A database or web-server exporter cannot be scraped while the host is up."
    )
    disk_full: AlertPolicy = Field(description="threshold: the used fraction of a filesystem.")
    memory_pressure: AlertPolicy = Field(description="threshold: the used fraction of RAM.")
    cpu_saturated: AlertPolicy = Field(description="threshold: the busy fraction of all CPUs.")
    load_high: AlertPolicy = Field(
        description="threshold: the 1-minute load average per CPU (2 = twice the CPUs)."
    )
    backup_too_old: AlertPolicy = Field(
        description="threshold: hours of grace after the backup's period (24 h daily, 168 h "
        "weekly) since the last success the backup job wrote for the node exporter."
    )
    certificate_expiring: AlertPolicy = Field(
        description="threshold: days before the earliest certificate an `uptime_urls` probe "
        "sees expires."
    )


class ExporterPorts(Strict):
    """The port each exporter listens on, on the client server's own address."""

    node: int = Field(default=9100, ge=1, le=65535)
    mysqld: int = Field(default=9104, ge=1, le=65535)
    postgres: int = Field(default=9187, ge=1, le=65535)
    nginx: int = Field(default=9113, ge=1, le=65535)
    apache: int = Field(default=9117, ge=1, le=65535)


class Monitoring(Strict):
    """DAG's supervision (CGV Art. 4): where it runs, how often it looks, when it alerts."""

    hosts: list[MonitoringHost] = Field(min_length=1)
    on_call: Email = Field(description="DAG's on-call address: every alert goes there.")
    smtp: Smtp
    scrape_interval_seconds: int = Field(
        default=30, ge=5, le=300, description="How often the exporters are scraped."
    )
    evaluation_interval_seconds: int = Field(
        default=15, ge=5, le=300, description="How often the rules are evaluated."
    )
    rate_window_seconds: int = Field(
        default=120, ge=30, le=900, description="The window of rate() over counters (CPU)."
    )
    probe_timeout_seconds: int = Field(
        default=10, ge=1, le=60, description="An uptime probe that takes longer fails."
    )
    group_wait_seconds: int = Field(
        default=10, ge=0, le=300, description="Alertmanager waits this long to batch alerts."
    )
    group_interval_seconds: int = Field(default=60, ge=1, le=3600)
    repeat_interval_minutes: int = Field(
        default=240, ge=1, le=10080, description="A firing alert is sent again this often."
    )
    blackbox_address: str = Field(
        default="127.0.0.1:9115",
        pattern=r"^[0-9.]+:[0-9]{1,5}$",
        description="Where Prometheus reaches blackbox_exporter on the monitoring host.",
    )
    exporters: ExporterPorts = Field(default_factory=ExporterPorts)
    alerts: Alerts
