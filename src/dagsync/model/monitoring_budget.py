"""The timing promises of CGV Art. 4, computed on the data: can `monitoring:` keep a server's
declared `supervision` intervals?

Worst case, from the moment a fault starts to the moment Alertmanager sends the alert:

- incident (« Alerte automatique sur incident programmé toutes les 5min »): one scrape
  interval until a sample shows the fault, one evaluation until a rule sees it, the alert's
  `for` (rounded up to an evaluation), then Alertmanager's `group_wait`: their sum must fit in
  the server's `alert_interval_minutes`; an alert over a rate() also waits for the rate window;
- uptime (« Uptime applicatif avec alerte programmée toutes les 1min »): the probe runs every
  `uptime_interval_minutes` and the first failed probe fires the alert: the probe interval
  plus `for` must fit in the interval.

One function, two users: the validator (rule MON004, a finding at the server's field) and the
monitoring renderer (`reconcile.monitoring.budget`, which leaves out a server it cannot keep
its promise to, with a plan note, and renders the others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dagsync.model.monitoring import AlertPolicy, Monitoring
from dagsync.model.server import Supervision

ALERT_INTERVAL = "alert_interval_minutes"
UPTIME_INTERVAL = "uptime_interval_minutes"


@dataclass(frozen=True)
class Timing:
    """Which promise an alert keeps, and whether it is computed over a rate window."""

    uptime: bool = False  # kept within uptime_interval_minutes (else alert_interval_minutes)
    windowed: bool = False  # over a rate(): the fault shows once the rate window holds it


# Per field of `monitoring.alerts` (the model's Alerts: every alert dagsync renders).
TIMINGS: dict[str, Timing] = {
    "uptime_failing": Timing(uptime=True),
    "host_down": Timing(),
    "exporter_missing": Timing(),
    "disk_full": Timing(),
    "memory_pressure": Timing(),
    "cpu_saturated": Timing(windowed=True),
    "load_high": Timing(),
    "backup_too_old": Timing(),
    "certificate_expiring": Timing(),
}


@dataclass(frozen=True)
class Problem:
    """One promise the policies cannot keep: the `supervision` field it breaks, and why."""

    field: str  # alert_interval_minutes or uptime_interval_minutes
    alert: str  # the field of monitoring.alerts
    delay: int  # worst-case seconds from the fault to the notification
    promise: int  # the declared interval, in seconds
    why: str


def incident_delay(monitoring: Monitoring, policy: AlertPolicy, *, windowed: bool = False) -> int:
    """Worst-case seconds from a fault to an incident alert's notification."""
    evaluation = monitoring.evaluation_interval_seconds
    held = math.ceil(policy.for_seconds / evaluation) * evaluation  # fires on an evaluation
    window = monitoring.rate_window_seconds if windowed else 0
    return (
        monitoring.scrape_interval_seconds
        + evaluation
        + held
        + window
        + monitoring.group_wait_seconds
    )


def problems(monitoring: Monitoring, supervision: Supervision) -> list[Problem]:
    """Every alert whose worst case does not fit in the server's declared interval."""
    found = []
    for name, timing in TIMINGS.items():
        policy: AlertPolicy = getattr(monitoring.alerts, name)
        if timing.uptime:
            promise = supervision.uptime_interval_minutes * 60
            delay = promise + policy.for_seconds
            if supervision.uptime_urls and delay > promise:
                found.append(
                    Problem(
                        UPTIME_INTERVAL,
                        name,
                        delay,
                        promise,
                        f"the probe every {promise} s + for {policy.for_seconds}",
                    )
                )
            continue
        promise = supervision.alert_interval_minutes * 60
        delay = incident_delay(monitoring, policy, windowed=timing.windowed)
        if delay > promise:
            why = (
                f"scrape {monitoring.scrape_interval_seconds} + evaluation "
                f"{monitoring.evaluation_interval_seconds} + for {policy.for_seconds} + "
                f"group_wait {monitoring.group_wait_seconds}"
                + (f" + rate window {monitoring.rate_window_seconds}" if timing.windowed else "")
            )
            found.append(Problem(ALERT_INTERVAL, name, delay, promise, why))
    return found


def minimum_minutes(found: list[Problem], field: str) -> int:
    """The shortest interval, in whole minutes, the policies can keep for `field`."""
    return max(math.ceil(p.delay / 60) for p in found if p.field == field)
