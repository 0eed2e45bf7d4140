"""The monitoring configuration as a pure function of git: targets, rules, routes, timings."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dagsync.model.client import RootAccessWindow, Weekday
from dagsync.reconcile import monitoring
from dagsync.reconcile.hosts.rootaccess import open_until
from dagsync.reconcile.monitoring import Inputs, budget, driver, windows
from dagsync.reconcile.monitoring.proofs import parse
from dagsync.reconcile.monitoring.render import render
from dagsync.validate.repository import ClientConfig

PROJECT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return monitoring.load(PROJECT, validate=False)


def _render(inputs: Inputs, **alerts: dict[str, Any]) -> dict[str, str]:
    mon = inputs.monitoring
    if alerts:
        changed = {
            name: getattr(mon.alerts, name).model_copy(update=update)
            for name, update in alerts.items()
        }
        mon = mon.model_copy(update={"alerts": mon.alerts.model_copy(update=changed)})
    return render(mon, mon.hosts[0], inputs.repo.clients, inputs.cgv)


def _rules(files: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in (p for p in files if p.startswith("rules/")):
        for group in parse(files[path])["groups"]:  # type: ignore[attr-defined]
            for rule in group["rules"]:
                found[rule.get("alert") or f"{rule['record']}#{len(found)}"] = rule
    return found


def test_the_same_git_renders_the_same_bytes_whatever_the_order_of_clients(inputs: Inputs) -> None:
    mon = inputs.monitoring
    clients = inputs.repo.clients
    first = render(mon, mon.hosts[0], clients, inputs.cgv)
    again = render(mon, mon.hosts[0], tuple(reversed(clients)), inputs.cgv)
    assert first == again
    assert list(first) == sorted(first)


def test_each_client_has_its_own_target_files_labelled_client_server_role_contract(
    inputs: Inputs,
) -> None:
    files = _render(inputs)
    for config in inputs.repo.clients:
        node = json.loads(files[f"targets/node/{config.id}.json"])
        assert [g["labels"]["server"] for g in node] == [s.name for s in config.servers]
        for group, server in zip(node, config.servers, strict=True):
            assert group["labels"] == {
                "client": config.id,
                "contract": config.client.contract.cgv_version,
                "role": str(server.role),
                "server": server.name,
            }
            assert group["targets"] == [f"{server.ips[0]}:9100"]
    others = [p for p in files if p.startswith("targets/") and "alpine-books" not in p]
    assert all("alpine-books" not in files[p] for p in others)


def test_exporters_follow_what_each_server_declares(inputs: Inputs) -> None:
    files = _render(inputs)
    jobs = {p.split("/")[1] for p in files if p.startswith("targets/") and "cime-conseil" in p}
    # cime-conseil: PostgreSQL and Apache; the others MariaDB and nginx.
    assert jobs == {"node", "postgres", "apache", "uptime-60s"}
    assert "targets/mysqld/alpine-books.json" in files
    alpine = inputs.repo.client("alpine-books")
    server = alpine.servers[0]
    fewer = server.supervision.model_copy(update={"metrics": ["cpu", "ram", "disk"]})
    lean = ClientConfig(alpine.client, (server.model_copy(update={"supervision": fewer}),))
    mon = inputs.monitoring
    lean_files = render(mon, mon.hosts[0], (lean,), inputs.cgv)
    assert sorted(p for p in lean_files if p.startswith("targets/")) == [
        "targets/node/alpine-books.json",
        "targets/uptime-60s/alpine-books.json",
    ]


def test_uptime_urls_are_probed_through_blackbox_at_the_declared_interval(inputs: Inputs) -> None:
    files = _render(inputs)
    prom = parse(files["prometheus.yml"])
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}  # type: ignore[attr-defined]
    uptime = jobs["uptime-60s"]
    assert uptime["scrape_interval"] == "60s"
    assert uptime["params"] == {"module": ["dagsync_http"]}
    assert uptime["relabel_configs"][-1]["replacement"] == inputs.monitoring.blackbox_address
    targets = json.loads(files["targets/uptime-60s/alpine-books.json"])
    assert targets[0]["targets"] == ["https://www.alpine-books.example/"]
    blackbox = parse(files["blackbox.yml"])
    assert blackbox["modules"]["dagsync_http"]["timeout"] == "10s"  # type: ignore[index]


def test_thresholds_and_durations_come_from_the_policies(inputs: Inputs) -> None:
    files = _render(inputs, disk_full={"threshold": 0.8, "for_seconds": 45})
    disk = _rules(files)["DiskFull"]
    assert "> 0.8)" in disk["expr"] and "> 0.9)" not in disk["expr"]
    assert disk["for"] == "45s"
    assert disk["labels"]["runbook"] == inputs.monitoring.alerts.disk_full.runbook
    assert disk["labels"]["article"] == inputs.cgv["2024-01"].alert_interval_max_minutes.article


def test_backup_age_and_certificate_thresholds_are_hours_and_days_from_the_policies(
    inputs: Inputs,
) -> None:
    rules = _rules(
        _render(inputs, backup_too_old={"threshold": 2.5}, certificate_expiring={"threshold": 7})
    )
    backup = rules["BackupTooOld"]["expr"]
    assert "time() - dagsync_backup_last_success_timestamp_seconds{" in backup
    assert "> dagsync_backup_period_seconds{" in backup and "} + 9000)" in backup
    cert = rules["CertificateExpiring"]["expr"]
    assert cert.startswith('(probe_ssl_earliest_cert_expiry{job=~"uptime-.+", ')
    assert "- time() < 604800)" in cert
    assert rules["CertificateExpiring"]["labels"]["severity"] == "warning"


def test_every_alert_carries_its_article_runbook_and_severity(inputs: Inputs) -> None:
    alerts = {k: v for k, v in _rules(_render(inputs)).items() if "#" not in k}
    assert set(alerts) == {
        "UptimeFailing",
        "HostDown",
        "ExporterMissing",
        "DiskFull",
        "MemoryPressure",
        "CpuSaturated",
        "LoadHigh",
        "BackupTooOld",
        "CertificateExpiring",
    }
    for rule in alerts.values():
        assert set(rule["labels"]) == {"article", "runbook", "severity"}
        assert "group_left(guarantee) dagsync:guarantee" in rule["expr"]


def _with_interval(config: ClientConfig, server: str, minutes: int) -> ClientConfig:
    servers = []
    for s in config.servers:
        if s.name == server:
            sup = s.supervision.model_copy(update={"alert_interval_minutes": minutes})
            s = s.model_copy(update={"supervision": sup})
        servers.append(s)
    return ClientConfig(config.client, tuple(servers), config.requests)


def test_one_servers_unkeepable_interval_leaves_out_only_that_server(inputs: Inputs) -> None:
    # velo-savoie/web2 asks for alerts within 1 minute: CpuSaturated needs 295 s.
    clients = [
        _with_interval(c, "web2", 1) if c.id == "velo-savoie" else c for c in inputs.repo.clients
    ]
    mon = inputs.monitoring
    files = render(mon, mon.hosts[0], clients, inputs.cgv)
    node = json.loads(files["targets/node/velo-savoie.json"])
    assert [g["labels"]["server"] for g in node] == ["db1", "web1"]
    assert "web2" not in "".join(files[p] for p in files if p.startswith("rules/"))
    for other in ("alpine-books", "cime-conseil"):
        assert json.loads(files[f"targets/node/{other}.json"])  # everyone else is watched
    kept, refused = budget.kept(mon, clients)
    assert [s.name for c in kept for s in c.servers if c.id == "velo-savoie"] == ["db1", "web1"]
    assert len(refused) == 1
    assert refused[0].startswith("velo-savoie/web2 is not monitored (validator rule MON004): ")
    assert "cpu_saturated can be sent 295 s after a fault" in refused[0]
    assert "over the declared alert interval of 60 s" in refused[0]


def test_the_plan_notes_the_server_left_out_and_proves_only_the_others(inputs: Inputs) -> None:
    clients = tuple(
        _with_interval(c, "web2", 1) if c.id == "velo-savoie" else c for c in inputs.repo.clients
    )
    narrowed = replace(inputs, repo=replace(inputs.repo, clients=clients))
    want = driver.desired(narrowed, inputs.monitoring.hosts[0])
    assert len(want.refused) == 1 and want.refused[0].startswith("velo-savoie/web2 ")
    files = dict(want.files)
    assert '"server": "web2"' not in files["tests/incidents.yml"]
    assert '"server": "web1"' in files["tests/incidents.yml"]
    whole = driver.desired(inputs, inputs.monitoring.hosts[0])
    assert whole.refused == ()
    assert '"server": "web2"' in dict(whole.files)["tests/incidents.yml"]


def test_an_uptime_url_off_the_clients_vhost_names_is_not_probed(inputs: Inputs) -> None:
    clients = []
    for config in inputs.repo.clients:
        if config.id == "alpine-books":
            shop1 = config.servers[0]
            urls = ["https://www.alpine-books.example/", "https://victim.example.org/login"]
            sup = shop1.supervision.model_copy(update={"uptime_urls": urls})
            config = ClientConfig(
                config.client, (shop1.model_copy(update={"supervision": sup}),), config.requests
            )
        clients.append(config)
    mon = inputs.monitoring
    files = render(mon, mon.hosts[0], clients, inputs.cgv)
    assert "victim.example.org" not in "".join(files.values())
    probed = json.loads(files["targets/uptime-60s/alpine-books.json"])
    assert probed[0]["targets"] == ["https://www.alpine-books.example/"]
    _, refused = budget.kept(mon, clients)
    assert refused == [
        "alpine-books/shop1: uptime URL(s) https://victim.example.org/login not probed: not on "
        "one of the client's vhost names (validator rule MON005)"
    ]


@pytest.mark.parametrize(
    ("alert", "for_seconds", "promise"),
    [("host_down", 250, "alert interval of 300 s"), ("uptime_failing", 1, "uptime interval")],
)
def test_policies_that_cannot_keep_a_declared_interval_leave_those_servers_out(
    inputs: Inputs, alert: str, for_seconds: int, promise: str
) -> None:
    mon = inputs.monitoring
    changed = getattr(mon.alerts, alert).model_copy(update={"for_seconds": for_seconds})
    mon = mon.model_copy(update={"alerts": mon.alerts.model_copy(update={alert: changed})})
    _, refused = budget.kept(mon, inputs.repo.clients)
    assert refused and all(promise in line for line in refused)
    assert any(line.startswith("alpine-books/shop1 is not monitored") for line in refused)
    files = _render(inputs, **{alert: {"for_seconds": for_seconds}})
    assert "targets/node/alpine-books.json" not in files  # shop1 is its only server
    assert "prometheus.yml" in files


def test_critical_alerts_reach_on_call_and_the_clients_technical_contacts(inputs: Inputs) -> None:
    am = parse(_render(inputs)["alertmanager.yml"])
    route: dict[str, Any] = am["route"]  # type: ignore[assignment]
    assert route["receiver"] == "dag-oncall"
    assert route["routes"][0] == {"receiver": "dag-oncall", "continue": True}
    velo = next(r for r in route["routes"] if r["receiver"] == "client-velo-savoie")
    assert velo["matchers"] == ['client="velo-savoie"', 'severity="critical"']
    receivers = {r["name"]: r for r in am["receivers"]}  # type: ignore[attr-defined]
    assert [c["to"] for c in receivers["client-velo-savoie"]["email_configs"]] == [
        "it@velo-savoie.example"
    ]
    assert receivers["dag-oncall"]["email_configs"][0]["to"] == inputs.monitoring.on_call


def _covered(runs: list[windows.Run], moment: dt.datetime) -> bool:
    """What the PromQL condition computes, in Python: time bounds, then the UTC week minute."""
    minute = ((moment.weekday() + 1) % 7) * 1440 + moment.hour * 60 + moment.minute
    for run in runs:
        weekly = not run.weekly or any(a <= minute < b for a, b in run.weekly)
        if run.start <= moment < run.end and weekly:
            return True
    return False


@pytest.mark.parametrize(
    ("days", "hours"),
    [
        (["mon", "wed", "sun"], ["01:30", "03:30"]),  # over both changes of offset (Sundays)
        (["tue", "fri"], ["09:00", "18:00"]),
        (["mon"], ["00:00", "00:30"]),  # Monday 00:00 Paris is Sunday in UTC: the week wraps
    ],
)
def test_a_root_access_window_is_open_in_promql_exactly_when_it_grants_root(
    days: list[str], hours: list[str]
) -> None:
    window = RootAccessWindow(
        server="web1",
        granted_to="someone",
        start=dt.date(2026, 3, 20),
        end=dt.date(2026, 11, 5),
        days=[Weekday(d) for d in days],
        hours=hours,
        guarantees_suspended=True,
        request="REQ-2026-001",
    )
    runs = windows.runs(window)
    moment = dt.datetime(2026, 3, 19, tzinfo=dt.UTC)
    seen = 0
    while moment < dt.datetime(2026, 11, 7, tzinfo=dt.UTC):
        expected = open_until(window, moment) is not None
        assert _covered(runs, moment) == expected, moment
        seen += expected
        moment += dt.timedelta(minutes=10)
    assert seen > 0
    assert len(runs) <= 5  # grouped by offset, not one clause per day


STATUS = PROJECT / "tests" / "data" / "monitoring" / "status-velo-savoie.txt"


def test_status_reads_each_server_from_prometheus_answers() -> None:
    from dagsync.reconcile.monitoring import status
    from dagsync.reconcile.resource import CommandResult

    samples = status.parse(CommandResult(0, STATUS.read_text(), ""))
    assert isinstance(samples, dict)
    servers = [("velo-savoie", "db1"), ("velo-savoie", "web1"), ("velo-savoie", "web2")]
    db1, web1, web2 = status.statuses(servers, samples)
    assert (db1.up, db1.firing, db1.guarantee) == (False, ("HostDown",), "suspended_root_access")
    assert (web1.up, web1.firing, web1.uptime_24h, web1.cert_days) == (True, (), 0.9993, 54.2)
    assert web1.healthy and not db1.healthy
    assert web2.up is None and web2.uptime_24h is None  # Prometheus has no sample yet
    text = status.render_text([db1, web1])
    assert text.splitlines() == [
        "velo-savoie/db1: DOWN; firing: HostDown; uptime 24h n/a, 30d n/a; certificate n/a; "
        "last backup n/a; guarantee suspended root access",
        "velo-savoie/web1: up; firing: none; uptime 24h 99.93%, 30d 99.99%; certificate 54 "
        "days; last backup n/a; guarantee in force",
    ]
    assert json.loads(status.render_json([web1]))["servers"][0]["uptime_30d"] == 0.99991


def test_status_says_unknown_when_prometheus_does_not_answer() -> None:
    from dagsync.reconcile.core import Unknown
    from dagsync.reconcile.monitoring import status
    from dagsync.reconcile.resource import CommandResult

    failed = status.parse(CommandResult(3, "", "Prometheus does not answer on 127.0.0.1:9090"))
    assert isinstance(failed, Unknown) and "does not answer" in failed.reason
    garbled = status.parse(CommandResult(0, "@@dagsync-query up\n<html>\n", ""))
    assert isinstance(garbled, Unknown)
