"""`promtool test rules` proof that no alert leaves during DAG's planned maintenance (CGV
Art. 5), and that alerting resumes within the declared interval once it ends.

Each window is moved to the start of promtool's clock (t = 0 is 1970-01-01T00:00Z), its
duration kept: the server's node exporter is down from the start, so HostDown fires before
the window (`in_force`), is withheld inside it, and fires again by the end of the window +
`alert_interval_minutes` - evaluation - `group_wait`.  The moved `dagsync:maintenance` rules
come from the same code as the rendered ones (`rules.guarantee_rules`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from dagsync.model.exporters import NODE
from dagsync.reconcile.monitoring import Inputs
from dagsync.reconcile.monitoring.maintenance import EPOCH, windows
from dagsync.reconcile.monitoring.proofs import (
    WARMUP_SECONDS,
    _expected,
    _file,
    _series,
    _server_labels,
    timing,
)
from dagsync.reconcile.monitoring.render import HEADER, dump
from dagsync.reconcile.monitoring.rules import IN_FORCE, guarantee_rules
from dagsync.validate.repository import ClientConfig

GROUP = "dagsync-guarantee"


def maintenance_proofs(inputs: Inputs, files: Mapping[str, str]) -> dict[str, str]:
    """tests/maintenance.yml and the moved rules it needs; nothing without a window."""
    t = timing(files)
    s = t.scrape_of(NODE)
    cursor = 0  # each window in its own stretch of time: their moved rules never overlap
    moved: list[ClientConfig] = []
    tests: list[dict[str, object]] = []
    servers = {(c.id, srv.name): (c, srv) for c, srv in inputs.repo.servers()}
    for window in windows(inputs.repo.clients):
        if not window.servers:
            continue
        config, server = servers[(window.client, window.servers[0])]
        minutes = int((window.end - window.start).total_seconds() // 60)
        # HostDown has long fired before the window opens; windows start on a minute
        begin = math.ceil((cursor + WARMUP_SECONDS * 3) / 60) * 60
        start = EPOCH + dt.timedelta(seconds=begin)
        declared = config.client.maintenance[window.index]
        shifted = [declared.model_copy(update={"start": start, "duration_minutes": minutes})]
        client = config.client.model_copy(update={"maintenance": shifted})
        moved.append(ClientConfig(client, config.servers))
        end = begin + minutes * 60
        promise = server.supervision.alert_interval_minutes * 60
        resumed = end + promise - t.evaluation - t.group_wait
        cursor = resumed
        node = _server_labels(config, server, NODE, f"{server.name}:node")
        firing = [_expected("HostDown", t, node, IN_FORCE)]
        tests.append(
            {
                "name": f"maintenance {window.request} {window.client}/{server.name}: no alert "
                f"between {begin}s and {end}s, HostDown again by {resumed}s",
                "interval": f"{s}s",
                "input_series": [
                    {"series": _series("up", node), "values": f"0+0x{math.ceil(resumed / s) + 2}"}
                ],
                "alert_rule_test": [
                    {"alertname": "HostDown", "eval_time": f"{begin - s}s", "exp_alerts": firing},
                    {"alertname": "HostDown", "eval_time": f"{begin}s", "exp_alerts": []},
                    {"alertname": "HostDown", "eval_time": f"{end - s}s", "exp_alerts": []},
                    {"alertname": "HostDown", "eval_time": f"{resumed}s", "exp_alerts": firing},
                ],
            }
        )
    if not tests:
        return {}
    rules = [f"../{p}" for p in sorted(files) if p.startswith("rules/")]
    others = [r for r in rules if not r.endswith("10-guarantee.yml")]
    group = {"name": GROUP, "interval": f"{t.evaluation}s", "rules": guarantee_rules(moved)}
    return {
        "tests/maintenance-rules.yml": HEADER + dump({"groups": [group]}),
        "tests/maintenance.yml": _file(["maintenance-rules.yml", *others], t.evaluation, tests),
    }
