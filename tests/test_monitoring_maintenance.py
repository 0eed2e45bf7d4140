"""DAG's planned interventions (CGV Art. 5, `maintenance:` in client.yaml) become Alertmanager
time intervals muting exactly the servers concerned, a `dagsync:maintenance` rule that
withholds their alerts, and a notice for the client."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dagsync.model.client import Maintenance
from dagsync.reconcile import monitoring
from dagsync.reconcile.monitoring import Inputs, maintenance
from dagsync.reconcile.monitoring.maintenance_proofs import maintenance_proofs
from dagsync.reconcile.monitoring.proofs import parse
from dagsync.reconcile.monitoring.render import HEADER, dump, render
from dagsync.validate.repository import ClientConfig

PROJECT = Path(__file__).resolve().parents[1]
# 23:30 Paris in winter (UTC+1) = 22:30 UTC, 150 minutes: over midnight UTC.
KERNEL = Maintenance(
    start=dt.datetime(2026, 12, 14, 23, 30),
    duration_minutes=150,
    nature="Mise à jour du noyau et redémarrage",
    request="REQ-2025-007",
    servers=["db1"],
)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return monitoring.load(PROJECT, validate=False)


def with_maintenance(inputs: Inputs, *windows: Maintenance) -> list[ClientConfig]:
    out = []
    for config in inputs.repo.clients:
        if config.id == "velo-savoie":
            client = config.client.model_copy(update={"maintenance": list(windows)})
            config = ClientConfig(client, config.servers, config.requests)
        out.append(config)
    return out


def rendered(inputs: Inputs, *windows: Maintenance) -> dict[str, str]:
    mon = inputs.monitoring
    return render(mon, mon.hosts[0], with_maintenance(inputs, *windows), inputs.cgv)


def test_a_window_is_a_utc_time_interval_split_at_midnight(inputs: Inputs) -> None:
    am: dict[str, Any] = parse(rendered(inputs, KERNEL)["alertmanager.yml"])
    assert am["time_intervals"] == [
        {
            "name": "maintenance velo-savoie 1 REQ-2025-007 20261214T2230Z",
            "time_intervals": [
                {
                    "times": [{"start_time": "22:30", "end_time": "24:00"}],
                    "days_of_month": ["14"],
                    "months": ["12"],
                    "years": ["2026"],
                },
                {
                    "times": [{"start_time": "00:00", "end_time": "01:00"}],
                    "days_of_month": ["15"],
                    "months": ["12"],
                    "years": ["2026"],
                },
            ],
        }
    ]


def test_only_the_servers_concerned_are_muted_on_every_route(inputs: Inputs) -> None:
    am: dict[str, Any] = parse(rendered(inputs, KERNEL)["alertmanager.yml"])
    first, catch_all = am["route"]["routes"][:2]
    name = "maintenance velo-savoie 1 REQ-2025-007 20261214T2230Z"
    assert first == {
        "receiver": "dag-oncall",
        "matchers": ['client="velo-savoie"', 'server="db1"'],
        "routes": [
            {"receiver": "dag-oncall", "continue": True, "mute_time_intervals": [name]},
            {
                "receiver": "client-velo-savoie",
                "matchers": ['severity="critical"'],
                "mute_time_intervals": [name],
            },
        ],
    }
    assert catch_all == {"receiver": "dag-oncall", "continue": True}
    assert "time_intervals" not in parse(rendered(inputs)["alertmanager.yml"])


def test_every_alert_is_withheld_while_its_servers_window_is_open(inputs: Inputs) -> None:
    files = rendered(inputs, KERNEL)
    guarantee: dict[str, Any] = parse(files["rules/10-guarantee.yml"])
    records = [r for r in guarantee["groups"][0]["rules"] if r["record"] == maintenance.RECORD]
    start = int(dt.datetime(2026, 12, 14, 22, 30, tzinfo=dt.UTC).timestamp())
    assert records == [
        {
            "record": "dagsync:maintenance",
            "expr": f"vector(1) and on() (vector(time()) >= {start} and vector(time()) < "
            f"{start + 150 * 60})",
            "labels": {"client": "velo-savoie", "request": "REQ-2025-007", "server": "db1"},
        }
    ]
    for path in ("rules/30-uptime.yml", "rules/40-incidents.yml"):
        for rule in parse(files[path])["groups"][0]["rules"]:  # type: ignore[index]
            assert rule["expr"].endswith("unless on(client, server) dagsync:maintenance")


def test_the_client_is_told_the_nature_start_and_probable_duration(inputs: Inputs) -> None:
    files = rendered(
        inputs, KERNEL, KERNEL.model_copy(update={"servers": [], "duration_minutes": 45})
    )
    assert files["notices/velo-savoie.txt"] == (
        "Client : Vélo Savoie Distribution SA\n"
        "Interventions techniques programmées par DAG Technologies (CGV, article 5).\n"
        "\n"
        "- Le 14/12/2026 à 23:30 (heure de Paris), durée probable 2 h 30 : Mise à jour du "
        "noyau et redémarrage.\n"
        "  Serveurs concernés : db1. Référence : REQ-2025-007.\n"
        "  La supervision de ces serveurs est suspendue pendant l'intervention.\n"
        "- Le 14/12/2026 à 23:30 (heure de Paris), durée probable 45 min : Mise à jour du "
        "noyau et redémarrage.\n"
        "  Serveurs concernés : db1, web1, web2. Référence : REQ-2025-007.\n"
        "  La supervision de ces serveurs est suspendue pendant l'intervention.\n"
    )
    assert not any(p.startswith("notices/alpine-books") for p in files)


def test_an_offset_in_the_start_is_honoured_and_seconds_round_outwards() -> None:
    m = KERNEL.model_copy(
        update={
            "start": dt.datetime(2026, 7, 1, 2, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "duration_minutes": 10,
        }
    )
    start, end = maintenance.bounds(m)
    assert (start, end) == (
        dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 1, 0, 11, tzinfo=dt.UTC),
    )


def _tools() -> None:
    missing = [t for t in ("promtool", "amtool") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"install prometheus and prometheus-alertmanager ({', '.join(missing)})")


def _write(folder: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)


def _run(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=300)


@pytest.mark.hosts
def test_amtool_accepts_the_muting_intervals_and_routing_is_unchanged_outside_them(
    inputs: Inputs, tmp_path: Path
) -> None:
    _tools()
    files = rendered(inputs, KERNEL, KERNEL.model_copy(update={"servers": []}))
    _write(tmp_path, files)
    checked = _run(tmp_path, "amtool", "check-config", "alertmanager.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for labels, receivers in (
        (["server=db1", "severity=critical"], "dag-oncall,client-velo-savoie"),
        (["server=web1", "severity=warning"], "dag-oncall"),
    ):
        test = ["amtool", "config", "routes", "test", "--config.file=alertmanager.yml"]
        routed = _run(tmp_path, *test, "client=velo-savoie", *labels)
        assert routed.stdout.strip() == receivers, routed.stderr
    # A route muted by an interval the file does not define is refused.
    doc: dict[str, Any] = parse(files["alertmanager.yml"])
    del doc["time_intervals"]
    (tmp_path / "alertmanager.yml").write_text(HEADER + dump(doc))
    broken = _run(tmp_path, "amtool", "check-config", "alertmanager.yml")
    assert broken.returncode != 0
    assert "undefined time interval" in broken.stdout + broken.stderr


@pytest.mark.hosts
def test_promtool_proves_no_alert_during_the_window_and_one_after_it(
    inputs: Inputs, tmp_path: Path
) -> None:
    _tools()
    two = KERNEL.model_copy(update={"duration_minutes": 20, "request": "REQ-2025-008"})
    files = rendered(inputs, KERNEL, two)
    clients = with_maintenance(inputs, KERNEL, two)
    narrowed = replace(inputs, repo=replace(inputs.repo, clients=tuple(clients)))
    tests = maintenance_proofs(narrowed, files)
    assert sorted(tests) == ["tests/maintenance-rules.yml", "tests/maintenance.yml"]
    cases = parse(tests["tests/maintenance.yml"])["tests"]  # type: ignore[index]
    assert [c["name"] for c in cases] == [
        "maintenance REQ-2025-007 velo-savoie/db1: no alert between 1800s and 10800s, HostDown "
        "again by 11075s",
        "maintenance REQ-2025-008 velo-savoie/db1: no alert between 12900s and 14100s, "
        "HostDown again by 14375s",
    ]
    _write(tmp_path, {**files, **tests})
    proved = _run(tmp_path, "promtool", "test", "rules", "tests/maintenance.yml")
    assert proved.returncode == 0, proved.stdout + proved.stderr
    # Without the window's rule, HostDown fires inside the window: the proof fails.
    rules: dict[str, Any] = parse(tests["tests/maintenance-rules.yml"])
    group = rules["groups"][0]
    group["rules"] = [r for r in group["rules"] if r.get("record") != maintenance.RECORD]
    (tmp_path / "tests/maintenance-rules.yml").write_text(HEADER + dump(rules))
    broken = _run(tmp_path, "promtool", "test", "rules", "tests/maintenance.yml")
    assert broken.returncode != 0
    assert "alertname: HostDown, time: 30m" in broken.stdout + broken.stderr


@pytest.mark.parametrize("start", ["1700000000", 1700000000, "2026-12-14", "14/12/2026 23:30"])
def test_a_start_that_is_not_a_date_and_time_is_refused(start: object) -> None:
    fields = {**KERNEL.model_dump(), "start": start}
    with pytest.raises(ValidationError, match="YYYY-MM-DDTHH:MM"):
        Maintenance.model_validate(fields)
    assert Maintenance.model_validate({**fields, "start": "2026-12-14T23:30"}).start == (
        dt.datetime(2026, 12, 14, 23, 30)
    )
