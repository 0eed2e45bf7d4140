"""The rendered monitoring files, checked by Prometheus's and Alertmanager's own tools, and the
CGV Art. 4 timing promises proven by `promtool test rules` on generated synthetic series.

Each proof is also shown able to fail: a `for`, a scrape interval or an evaluation interval
made longer than the promise, or a root-access label that is not applied, makes promtool fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from dagsync.reconcile import monitoring
from dagsync.reconcile.monitoring import Inputs
from dagsync.reconcile.monitoring.proofs import parse, proofs
from dagsync.reconcile.monitoring.render import HEADER, dump, render
from dagsync.reconcile.monitoring.rules import ALERTS

PROJECT = Path(__file__).parents[1]
TOOLS = ("promtool", "amtool", "prometheus-blackbox-exporter")
pytestmark = pytest.mark.hosts  # a missing tool fails CI instead of skipping (conftest)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(
            "install prometheus, prometheus-alertmanager and prometheus-blackbox-exporter "
            f"({', '.join(missing)} missing)"
        )
    return monitoring.load(PROJECT, validate=False)


@pytest.fixture(scope="module")
def rendered(inputs: Inputs) -> dict[str, str]:
    mon = inputs.monitoring
    return render(mon, mon.hosts[0], inputs.repo.clients, inputs.cgv)


def _write(folder: Path, files: Mapping[str, str]) -> Path:
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return folder


def _run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def _prove(
    tmp: Path, inputs: Inputs, files: Mapping[str, str], *only: str
) -> subprocess.CompletedProcess[str]:
    """Generate the proofs for `files` and run them (those named in `only`, else all)."""
    tests = proofs(inputs, files)
    _write(tmp, {**files, **tests})
    names = [f"tests/{o}.yml" for o in only] or sorted(
        p for p in tests if not p.endswith("-rules.yml")
    )
    return _run("promtool", "test", "rules", *names, cwd=tmp)


def _edit(text: str, change: object) -> str:
    doc = parse(text)
    change(doc)  # type: ignore[operator]
    return HEADER + dump(doc)


def test_rendered_files_pass_promtool_amtool_and_blackbox_checks(
    tmp_path: Path, rendered: dict[str, str]
) -> None:
    folder = _write(tmp_path, rendered)
    config = _run("promtool", "check", "config", "prometheus.yml", cwd=folder)
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS: 4 rule files found" in config.stdout
    rule_files = sorted(p for p in rendered if p.startswith("rules/"))
    checked = _run("promtool", "check", "rules", *rule_files, cwd=folder)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "FAILED" not in checked.stdout + checked.stderr
    am = _run("amtool", "check-config", "alertmanager.yml", cwd=folder)
    assert am.returncode == 0, am.stdout + am.stderr
    assert "4 receivers" in am.stdout
    bb = _run(
        "prometheus-blackbox-exporter", "--config.check", "--config.file=blackbox.yml", cwd=folder
    )
    assert bb.returncode == 0, bb.stdout + bb.stderr


def test_promtool_rejects_a_broken_rule_file(tmp_path: Path, rendered: dict[str, str]) -> None:
    broken = dict(rendered)
    broken["rules/40-incidents.yml"] = rendered["rules/40-incidents.yml"].replace(
        "up{job=", "up{{job=", 1
    )
    folder = _write(tmp_path, broken)
    checked = _run("promtool", "check", "rules", "rules/40-incidents.yml", cwd=folder)
    assert checked.returncode != 0


def test_generated_rule_tests_prove_every_alert_on_every_server(
    tmp_path: Path, inputs: Inputs, rendered: dict[str, str]
) -> None:
    tests = proofs(inputs, rendered)
    expected: dict[str, list[str]] = {}
    for path in ("tests/uptime.yml", "tests/incidents.yml"):
        for case in parse(tests[path])["tests"]:  # type: ignore[attr-defined]
            firing = case["alert_rule_test"][1]
            for alert in firing["exp_alerts"]:
                labels = alert["exp_labels"]
                expected.setdefault(firing["alertname"], []).append(labels["instance"])
    assert set(expected) == {a.name for a in ALERTS}
    servers = [s for _, s in inputs.repo.servers()]
    assert len(expected["HostDown"]) == len(servers) == 6
    urls = [u for s in servers for u in s.supervision.uptime_urls]
    assert sorted(expected["UptimeFailing"]) == sorted(urls)
    proved = _prove(tmp_path, inputs, rendered)
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert proved.stdout.count("SUCCESS") == 3


def test_uptime_fires_one_interval_after_the_last_good_probe(
    inputs: Inputs, rendered: dict[str, str]
) -> None:
    case = parse(proofs(inputs, rendered)["tests/uptime.yml"])["tests"][0]  # type: ignore[index]
    healthy, firing = case["alert_rule_test"]
    assert healthy["exp_alerts"] == []
    gap = int(firing["eval_time"].rstrip("s")) - int(healthy["eval_time"].rstrip("s"))
    assert gap == 60  # uptime_interval_minutes: 1
    labels = firing["exp_alerts"][0]["exp_labels"]
    assert labels["guarantee"] == "in_force" and labels["article"] == "4"


@pytest.mark.parametrize(
    ("alert", "longer"),
    [
        ("UptimeFailing", "60s"),
        ("HostDown", "300s"),
        ("DiskFull", "250s"),  # 240 s still alerts within the 5 min: the promise holds
        ("CpuSaturated", "200s"),
        ("BackupTooOld", "300s"),
        ("CertificateExpiring", "300s"),
    ],
)
def test_a_for_longer_than_the_promise_fails_the_proof(
    tmp_path: Path, inputs: Inputs, rendered: dict[str, str], alert: str, longer: str
) -> None:
    def lengthen(doc: dict[str, object]) -> None:
        for group in doc["groups"]:  # type: ignore[attr-defined]
            for rule in group["rules"]:
                if rule.get("alert") == alert:
                    rule["for"] = longer

    files = dict(rendered)
    for path in (p for p in files if p.startswith("rules/")):
        files[path] = _edit(files[path], lengthen)
    proved = _prove(tmp_path, inputs, files, "uptime" if alert == "UptimeFailing" else "incidents")
    assert proved.returncode != 0
    failed = set(re.findall(r"alertname: (\w+),", proved.stdout + proved.stderr))
    assert failed == {alert}


@pytest.mark.parametrize(
    ("job", "longer", "alert"),
    [("uptime-60s", "120s", "UptimeFailing"), (None, "300s", "HostDown")],
)
def test_a_scrape_interval_longer_than_the_promise_fails_the_proof(
    tmp_path: Path,
    inputs: Inputs,
    rendered: dict[str, str],
    job: str | None,
    longer: str,
    alert: str,
) -> None:
    def slow(doc: dict[str, object]) -> None:
        if job is None:
            doc["global"]["scrape_interval"] = longer  # type: ignore[index]
            return
        for config in doc["scrape_configs"]:  # type: ignore[attr-defined]
            if config["job_name"] == job:
                config["scrape_interval"] = longer

    files = {**rendered, "prometheus.yml": _edit(rendered["prometheus.yml"], slow)}
    proved = _prove(tmp_path, inputs, files, "uptime" if job else "incidents")
    assert proved.returncode != 0
    assert f"alertname: {alert}," in proved.stdout + proved.stderr


def test_a_slower_evaluation_fails_the_proof(
    tmp_path: Path, inputs: Inputs, rendered: dict[str, str]
) -> None:
    def slow(doc: dict[str, object]) -> None:
        for group in doc["groups"]:  # type: ignore[attr-defined]
            group["interval"] = "4m"

    files = dict(rendered)
    files["rules/40-incidents.yml"] = _edit(files["rules/40-incidents.yml"], slow)
    proved = _prove(tmp_path, inputs, files, "incidents")
    assert proved.returncode != 0
    assert "alertname: HostDown," in proved.stdout + proved.stderr


def test_alerts_inside_a_root_access_window_are_labelled_outside_the_guarantee(
    tmp_path: Path, inputs: Inputs, rendered: dict[str, str]
) -> None:
    tests = proofs(inputs, rendered)
    case = parse(tests["tests/root-access.yml"])["tests"][0]  # type: ignore[index]
    before, inside = (c["exp_alerts"][0]["exp_labels"] for c in case["alert_rule_test"])
    assert (before["guarantee"], inside["guarantee"]) == ("in_force", "suspended_root_access")
    assert inside["client"] == "cime-conseil" and inside["server"] == "dev1"
    _write(tmp_path, {**rendered, **tests})
    proved = _run("promtool", "test", "rules", "tests/root-access.yml", cwd=tmp_path)
    assert proved.returncode == 0, proved.stdout + proved.stderr
    # Without the window's rule, the same test fails: the label comes from the window.
    rules = parse(tests["tests/root-access-rules.yml"])
    group = rules["groups"][0]  # type: ignore[index]
    group["rules"] = [r for r in group["rules"] if r["record"] != "dagsync:root_access_open"]
    (tmp_path / "tests/root-access-rules.yml").write_text(HEADER + dump(rules))
    broken = _run("promtool", "test", "rules", "tests/root-access.yml", cwd=tmp_path)
    assert broken.returncode != 0
    assert "suspended_root_access" in broken.stdout + broken.stderr


def test_target_files_are_valid_file_sd_json(rendered: dict[str, str]) -> None:
    for path in (p for p in rendered if p.startswith("targets/")):
        groups = json.loads(rendered[path])
        assert all(set(g) == {"labels", "targets"} for g in groups), path
