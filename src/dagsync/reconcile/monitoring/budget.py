"""The timing promises of CGV Art. 4, checked on the data before anything is rendered.

Worst case, from the moment a fault starts to the moment Alertmanager sends the alert:

- incident (« Alerte automatique sur incident programmé toutes les 5min »): one scrape
  interval until a sample shows the fault, one evaluation until a rule sees it, the alert's
  `for`, then Alertmanager's `group_wait`: their sum must fit in the server's
  `alert_interval_minutes`;
- uptime (« Uptime applicatif avec alerte programmée toutes les 1min »): the probe runs every
  `uptime_interval_minutes` and the first failed probe fires the alert: the probe interval
  plus `for` must fit in the interval, and the evaluation and `group_wait` that follow are
  the only delay after it (one evaluation, 15 s by default, plus 10 s).

`promtool test rules` (tests/test_monitoring_promtool.py) proves the same promises on the
rendered rules with synthetic series.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from dagsync.model.monitoring import AlertPolicy, Monitoring
from dagsync.reconcile.monitoring.rules import ALERTS
from dagsync.validate.repository import ClientConfig


def incident_delay(monitoring: Monitoring, policy: AlertPolicy, *, windowed: bool = False) -> int:
    """Worst-case seconds from a fault to an incident alert's notification; an alert over a
    rate (`windowed`) also waits for the rate window to fill with the fault."""
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


def problems(monitoring: Monitoring, clients: Sequence[ClientConfig]) -> Iterator[str]:
    """Each server whose declared interval the policies cannot keep, with why."""
    for alert in ALERTS:
        policy: AlertPolicy = getattr(monitoring.alerts, alert.field)
        for config in clients:
            for server in config.servers:
                supervision = server.supervision
                if alert.uptime:
                    promise = supervision.uptime_interval_minutes * 60
                    delay = promise + policy.for_seconds
                    if supervision.uptime_urls and delay > promise:
                        yield (
                            f"{config.id}/{server.name}: {alert.name} fires {delay} s after a "
                            f"fault, over the declared uptime interval of {promise} s "
                            f"(monitoring.alerts.{alert.field}.for_seconds)"
                        )
                else:
                    promise = supervision.alert_interval_minutes * 60
                    delay = incident_delay(monitoring, policy, windowed=alert.windowed)
                    if delay > promise:
                        yield (
                            f"{config.id}/{server.name}: {alert.name} can be sent {delay} s "
                            f"after a fault (scrape {monitoring.scrape_interval_seconds} + "
                            f"evaluation {monitoring.evaluation_interval_seconds} + for "
                            f"{policy.for_seconds} + group_wait {monitoring.group_wait_seconds}"
                            f"{' + rate window' if alert.windowed else ''}), over the declared "
                            f"alert interval of {promise} s"
                        )
