"""The report's availability read from a real Prometheus on a test monitoring host.

A month of uptime probes is backfilled into Debian's Prometheus (`promtool tsdb
create-blocks-from openmetrics`), then the report reads it over SSH as `dagsync report` does;
each day's figure is cross-checked with Prometheus' own instant query for that day.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from dagsync.reconcile import monitoring
from dagsync.reconcile.monitoring import Inputs
from dagsync.reconcile.run import RunOptions
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV, Overrides, load_overrides
from dagsync.report import prometheus
from dagsync.report.model import Month
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import testhosts
from dagsync.testing.hosts.network import unique_network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-report-prometheus")]

PROJECT = Path(__file__).resolve().parents[1]
NETWORK = unique_network("rpm")
OCTOBER = Month.parse("2026-10")
STEP = 300  # one probe every 5 minutes
DOWN = {3: 72, 17: 12}  # day -> probes failed (of 288): 6 hours on the 3rd, 1 hour on the 17th
START = """
printf 'global: {}\\n' > /root/prometheus.yml
promtool tsdb create-blocks-from openmetrics /root/seed.om /root/prom >/root/backfill.log 2>&1
setsid prometheus --config.file=/root/prometheus.yml --storage.tsdb.path=/root/prom \
  --storage.tsdb.retention.time=3650d --web.listen-address=127.0.0.1:9090 \
  </dev/null >/tmp/prom.log 2>&1 &
"""


def seed() -> str:
    """OpenMetrics text: shop1's probe every 5 minutes in October, failing as DOWN says."""
    lines = ["# TYPE probe_success gauge"]
    labels = 'job="uptime-shop1",client="alpine-books",server="shop1",instance="https://x.example"'
    start = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp())
    for i in range(31 * 288):
        t = start + i * STEP + STEP // 2  # never on midnight: a day holds 288 probes
        day, slot = i // 288 + 1, i % 288
        ok = 0 if slot < DOWN.get(day, 0) else 1
        lines.append(f"probe_success{{{labels}}} {ok} {t}")
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestHost, Inputs, Overrides]]:
    if reason := skip_reason():
        pytest.skip(reason)
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        pytest.skip("install prometheus (promtool)")
    base = tmp_path_factory.mktemp("report-prometheus")
    saved = os.environ.get(HOSTS_FILE_ENV)
    with testhosts(names=["mon1"], state_dir=base / "th", network=NETWORK) as hosts:
        mon = hosts["mon1"]
        (mon.root / "root" / "seed.om").write_text(seed())
        mon.run(START, check=True, timeout=300)
        for _ in range(240):
            if mon.run("curl -fsS --max-time 2 http://127.0.0.1:9090/-/ready").returncode == 0:
                break
            time.sleep(0.25)
        path = base / "hosts.json"
        endpoint = {"address": mon.address, "host_key": mon.host_key_public}
        doc = {"version": 1, "ssh_key": str(hosts.client_key), "ssh_user": "root"}
        path.write_text(json.dumps({**doc, "hosts": {"dag/mon1": endpoint}}))
        os.environ[HOSTS_FILE_ENV] = str(path)
        try:
            yield mon, monitoring.load(PROJECT, validate=False), load_overrides(path)
        finally:
            if saved is None:
                os.environ.pop(HOSTS_FILE_ENV, None)
            else:
                os.environ[HOSTS_FILE_ENV] = saved


def own_query(mon: TestHost, day: dt.date) -> float:
    """Prometheus' instant answer for `day`: the same expression evaluated at its end."""
    end = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp())
    expr = quote(prometheus.query("alpine-books"))
    url = f"http://127.0.0.1:9090/api/v1/query?query={expr}&time={end}"
    out = mon.run(f"curl -fsS --max-time 10 '{url}'", check=True).stdout
    (sample,) = json.loads(out)["data"]["result"]
    return float(sample["value"][1])


def test_each_days_availability_is_prometheus_own_figure(
    lab: tuple[TestHost, Inputs, Overrides],
) -> None:
    mon, inputs, overrides = lab
    found, problems = prometheus.read(
        inputs, overrides, RunOptions(parallel=1), "alpine-books", OCTOBER
    )
    assert problems == [] and found is not None, mon.run("cat /root/backfill.log").stdout
    (shop1,) = found
    daily = dict(shop1.daily)
    assert sorted(daily) == list(OCTOBER.days())
    for day in (dt.date(2026, 10, d) for d in (1, 3, 17, 31)):
        assert daily[day] == pytest.approx(own_query(mon, day))
    assert daily[dt.date(2026, 10, 3)] == pytest.approx(1 - 72 / 288)
    assert daily[dt.date(2026, 10, 17)] == pytest.approx(1 - 12 / 288)
    assert daily[dt.date(2026, 10, 2)] == 1.0


def test_another_client_has_no_probe_there(lab: tuple[TestHost, Inputs, Overrides]) -> None:
    _, inputs, overrides = lab
    found, _ = prometheus.read(inputs, overrides, RunOptions(parallel=1), "cime-conseil", OCTOBER)
    assert found == ()
