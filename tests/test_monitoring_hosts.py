"""DAG's monitoring host end to end on a test host, with Debian's Prometheus, Alertmanager,
blackbox_exporter and node exporter running inside it.

The test harness plays DAG's base set-up of the host (the services started on its loopback,
once the first configuration is there); dagsync owns the configuration folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dagsync.reconcile import monitoring
from dagsync.reconcile.core import Action, Change
from dagsync.reconcile.hosts.rootaccess import open_until
from dagsync.reconcile.monitoring import Inputs, driver
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.render import render_text
from dagsync.reconcile.run import RunOptions
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV, Overrides, load_overrides
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import testhosts
from dagsync.testing.hosts.network import unique_network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-monitoring")]

PROJECT = Path(__file__).resolve().parents[1]
NETWORK = unique_network("mon")
OPTIONS = RunOptions(parallel=2)
CONF = driver.CONF_DIR
START = f"""
setsid prometheus --config.file={CONF}/prometheus.yml --storage.tsdb.path=/tmp/prom \
  --web.listen-address=127.0.0.1:9090 --web.enable-lifecycle </dev/null >/tmp/prom.log 2>&1 &
setsid prometheus-alertmanager --config.file={CONF}/alertmanager.yml --storage.path=/tmp/am \
  --web.listen-address=127.0.0.1:9093 --cluster.listen-address= </dev/null >/tmp/am.log 2>&1 &
setsid prometheus-blackbox-exporter --config.file={CONF}/blackbox.yml \
  --web.listen-address=127.0.0.1:9115 </dev/null >/tmp/bb.log 2>&1 &
setsid prometheus-node-exporter --web.listen-address=127.0.0.1:9100 </dev/null >/tmp/ne.log 2>&1 &
"""
TOOLS = ("promtool", "amtool", "prometheus", "prometheus-alertmanager", "curl")


@dataclass(frozen=True)
class Lab:
    mon: TestHost
    inputs: Inputs
    overrides: Overrides

    def plan(self, inputs: Inputs | None = None) -> Plan:
        return driver.plan_hosts(inputs or self.inputs, self.overrides, OPTIONS)

    def apply(self, inputs: Inputs | None = None) -> str:
        report = driver.apply_hosts(inputs or self.inputs, self.overrides, OPTIONS, lambda p: True)
        assert report.ok, [(r.target.key, r.message, r.outcomes) for r in report.results]
        return " ".join(o.message for r in report.results for o in r.outcomes)

    def api(self, path: str) -> Any:
        out = self.mon.run(f"curl -fsS --max-time 10 http://127.0.0.1:9090{path}", check=True)
        return json.loads(out.stdout)["data"]


def _tools_missing() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    if missing:
        return f"install prometheus, prometheus-alertmanager and curl ({', '.join(missing)})"
    return None


def _wait(mon: TestHost, url: str) -> None:
    for _ in range(120):
        if mon.run(f"curl -fsS --max-time 2 {url} >/dev/null").returncode == 0:
            return
        time.sleep(0.25)
    logs = mon.run("tail -n 20 /tmp/prom.log /tmp/am.log /tmp/bb.log").stdout
    raise AssertionError(f"{url} never answered: {logs}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if reason := skip_reason() or _tools_missing():
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("monitoring")
    saved = os.environ.get(HOSTS_FILE_ENV)
    with testhosts(names=["mon1"], state_dir=base / "th", network=NETWORK) as hosts:
        mon = hosts["mon1"]
        path = base / "hosts.json"
        endpoint = {"address": mon.address, "host_key": mon.host_key_public}
        doc = {"version": 1, "ssh_key": str(hosts.client_key), "ssh_user": "root"}
        path.write_text(json.dumps({**doc, "hosts": {"dag/mon1": endpoint}}))
        os.environ[HOSTS_FILE_ENV] = str(path)
        try:
            yield Lab(mon, monitoring.load(PROJECT, validate=False), load_overrides(path))
        finally:
            if saved is None:
                os.environ.pop(HOSTS_FILE_ENV, None)
            else:
                os.environ[HOSTS_FILE_ENV] = saved


@pytest.fixture(scope="module")
def first_plan(lab: Lab) -> Plan:
    plan = lab.plan()
    message = lab.apply()
    assert message == (
        "prometheus not running alertmanager not running blackbox_exporter not running"
    )
    lab.mon.run(START, check=True)
    for port in (9090, 9093, 9115):
        _wait(lab.mon, f"http://127.0.0.1:{port}/-/ready")
    return plan


def _with_disk_threshold(inputs: Inputs, threshold: float) -> Inputs:
    mon = inputs.monitoring
    disk = mon.alerts.disk_full.model_copy(update={"threshold": threshold})
    alerts = mon.alerts.model_copy(update={"disk_full": disk})
    return replace_monitoring(inputs, mon.model_copy(update={"alerts": alerts}))


def replace_monitoring(inputs: Inputs, mon: Any) -> Inputs:
    return Inputs(inputs.repo, mon, inputs.cgv)


def test_the_first_plan_creates_every_file_of_the_configuration(first_plan: Plan) -> None:
    [target] = first_plan.targets
    assert target.target.key == "dag/mon1"
    [change] = target.changes
    assert change.action is Action.CREATE
    shown = {d.text for d in change.details}
    assert {"alertmanager.yml", "blackbox.yml", "prometheus.yml"} <= shown
    assert "targets/node/velo-savoie.json" in json.dumps(change.payload)


def test_prometheus_runs_the_rendered_rules_and_discovers_every_server(
    lab: Lab, first_plan: Plan
) -> None:
    groups = {g["name"]: g for g in lab.api("/api/v1/rules")["groups"]}
    assert sorted(groups) == [
        "dagsync-guarantee",
        "dagsync-incidents",
        "dagsync-metrology",
        "dagsync-uptime",
    ]
    host_down = next(r for r in groups["dagsync-incidents"]["rules"] if r["name"] == "HostDown")
    assert host_down["duration"] == lab.inputs.monitoring.alerts.host_down.for_seconds
    for _ in range(40):  # file_sd is read asynchronously after start
        targets = lab.api("/api/v1/targets")["activeTargets"]
        if len(targets) >= 13:
            break
        time.sleep(0.25)
    nodes = {
        (t["labels"]["client"], t["labels"]["server"])
        for t in targets
        if t["labels"]["job"] == "node"
    }
    assert nodes == {(c.id, s.name) for c, s in lab.inputs.repo.servers()}
    uptime = [t for t in targets if t["labels"]["job"] == "uptime-60s"]
    assert {t["labels"]["instance"] for t in uptime} == {
        u for _, s in lab.inputs.repo.servers() for u in s.supervision.uptime_urls
    }


def test_a_second_apply_changes_nothing(lab: Lab, first_plan: Plan) -> None:
    plan = lab.plan()
    assert not plan.has_changes, render_text(plan, colour=False)


def test_a_new_threshold_is_checked_activated_and_reloaded(lab: Lab, first_plan: Plan) -> None:
    changed = _with_disk_threshold(lab.inputs, 0.85)
    plan = lab.plan(changed)
    [change] = plan.targets[0].changes
    assert [(d.sign, d.text) for d in change.details] == [
        ("~", "rules/40-incidents.yml"),
        ("~", "tests/incidents.yml"),  # the proof's synthetic disk follows the threshold
    ]
    message = lab.apply(changed)
    assert message == "prometheus reloaded alertmanager reloaded blackbox_exporter reloaded"
    rules = lab.api("/api/v1/rules")["groups"]
    disk = next(r for g in rules for r in g["rules"] if r["name"] == "DiskFull")
    assert "> 0.85)" in disk["query"]
    lab.apply()  # back to git's threshold
    assert not lab.plan().has_changes


def test_a_hand_edit_and_a_stray_file_are_drift(lab: Lab, first_plan: Plan) -> None:
    lab.mon.run(f"echo '# hand edit' >> {CONF}/blackbox.yml && touch {CONF}/stray.yml", check=True)
    [change] = lab.plan().targets[0].changes
    assert sorted((d.sign, d.text) for d in change.details) == [
        ("-", "stray.yml"),
        ("~", "blackbox.yml"),
    ]
    lab.apply()
    assert not lab.plan().has_changes
    assert lab.mon.run(f"test -e {CONF}/stray.yml").returncode == 1


def test_a_configuration_that_fails_its_checks_is_never_activated(
    lab: Lab, first_plan: Plan
) -> None:
    before = lab.mon.run(f"sha256sum {CONF}/rules/40-incidents.yml", check=True).stdout
    state = driver.desired(lab.inputs, lab.inputs.monitoring.hosts[0])
    files = [
        [p, t.replace('"for": "60s"', '"for": "600s"') if p == "rules/40-incidents.yml" else t]
        for p, t in state.files
    ]
    change = Change(driver.KIND, Action.UPDATE, CONF, "too slow", (), {"files": files})
    endpoint = lab.overrides.hosts["dag/mon1"]
    creds = credentials("root", lab.overrides)
    session = HostSession(lab.plan().targets[0].target, endpoint, creds, OPTIONS.timeouts)
    session.open()
    try:
        [outcome] = driver.apply(session, [change])
    finally:
        session.close()
    assert outcome.status.value == "failed"
    assert "a check failed, nothing activated" in outcome.message
    # promtool test rules: HostDown and DiskFull (both `for: 60s`) broke the 5-minute promise
    assert "the timing proofs of DiskFull, HostDown fail" in outcome.message
    after = lab.mon.run(f"sha256sum {CONF}/rules/40-incidents.yml", check=True).stdout
    assert after == before
    assert not lab.plan().has_changes


def test_status_reads_every_server_from_the_running_prometheus(lab: Lab, first_plan: Plan) -> None:
    from dagsync.reconcile.monitoring import status

    servers = [(c.id, s.name) for c, s in lab.inputs.repo.servers()]
    for _ in range(240):  # the first scrapes and rule evaluations after start
        samples, problems = status.read(lab.inputs, lab.overrides, OPTIONS)
        assert problems == []
        rows = status.statuses(servers, samples)
        if all(r.up is not None and r.guarantee for r in rows):
            break
        time.sleep(0.5)
    # The example servers' addresses are documentation addresses: nothing answers there.
    assert [(r.client, r.server, r.up) for r in rows] == [(c, s, False) for c, s in servers]
    assert not any(r.healthy for r in rows)
    # Root access (CGV Art. 6): suspended exactly for a server whose window is open now.
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        config = lab.inputs.repo.client(row.client)
        windows = [w for w in config.client.contract.root_access if w.server == row.server]
        states = {
            any(open_until(w, now + dt.timedelta(seconds=d)) for w in windows) for d in (-60, 5)
        }
        if len(states) > 1:
            continue  # a window opened or closed while Prometheus evaluated: either is right
        opened = states.pop()
        assert row.guarantee == ("suspended_root_access" if opened else "in_force"), row
