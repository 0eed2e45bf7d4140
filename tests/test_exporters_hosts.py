"""Debian's exporters on a test host, reconciled from the YAML: the node and mysqld exporters of
velo-savoie/db1 listen on the server's address, their ports are opened by the host firewall to
the monitoring host only (derived from `monitoring.hosts[].address`), a second apply changes
nothing, and a stopped exporter is drift that the next apply repairs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import read_yaml, write_yaml
from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.model.server import Frequency
from dagsync.reconcile.backup import job
from dagsync.reconcile.hosts.exporters import binary
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
)
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.testing.hosts.probes import probe_from, tcp_probe

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-exporters")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("exp")
RUNNER = f"{NET.prefix}.1"
SERVER = "clients/velo-savoie/servers/db1.yaml"
SHORT = 0.3  # seconds a probe waits: a dropped SYN is a timeout
KINDS = ("firewall", "exporters")


@dataclass
class World:
    lab: TestHosts
    root: Path

    @property
    def db1(self) -> str:
        return self.lab["db1"].address


def _make_repo(root: Path, lab: TestHosts) -> None:
    for folder in ("policies", "schemas"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(REPO / "clients/velo-savoie", root / "clients/velo-savoie")
    dag = root / "policies/dag.yaml"
    text = dag.read_text().replace("management_ranges:\n", f"management_ranges:\n  - {RUNNER}/32\n")
    text = text.replace(
        "      host: mon1.dagtechnologies.example\n",
        f"      host: mon1.dagtechnologies.example\n      address: {lab['mon1'].address}\n",
    )
    dag.write_text(text)
    data = read_yaml(root / SERVER)
    data["ips"] = [lab["db1"].address]  # the exporters listen on the server's own address
    write_yaml(root / SERVER, data)
    overrides = {
        "version": 1,
        "hosts": {
            "velo-savoie/db1": {
                "address": lab["db1"].address,
                "port": 22,
                "host_key": lab["db1"].host_key_public,
            }
        },
        "ssh_key": str(lab.client_key),
    }
    (root / ".dagsync-sandbox").mkdir()
    (root / ".dagsync-sandbox/hosts.json").write_text(json.dumps(overrides))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := skip_reason():
        pytest.skip(reason)
    missing = [j for j in ("node", "mysqld") if not os.access(binary(j), os.X_OK)]
    if missing:
        pytest.skip(f"install prometheus-{'/'.join(missing)}-exporter (Debian)")
    base = tmp_path_factory.mktemp("exporters")
    with pytest.MonkeyPatch.context() as mp:
        for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV):
            mp.delenv(var, raising=False)
        mp.setenv(SANDBOX_ENV, "1")
        names = ("db1", "mon1", "outsider")
        with testhosts(names=names, state_dir=base / "th", network=NET) as lab:
            _make_repo(base / "repo", lab)
            yield World(lab, base / "repo")


def scope(w: World) -> Scope:
    return Scope(w.root, servers=("db1",), kinds=KINDS, connect_timeout=3.0)


def plan_json(w: World, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = run_plan(scope(w), "json", detailed_exitcode=True)
    return code, json.loads(capsys.readouterr().out)


def changes_of(plan: Any, kind: str) -> list[Any]:
    return [c for t in plan["targets"] for c in t.get("changes", []) if c["kind"] == kind]


def scrape(w: World, port: int) -> str:
    """GET /metrics from inside the monitoring host's network namespace."""
    argv = ["ip", "netns", "exec", w.lab["mon1"].namespace, "curl", "-fsS", "--max-time", "5"]
    out = subprocess.run(
        [*argv, f"http://{w.db1}:{port}/metrics"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def exporter_pids(w: World, job: str) -> list[int]:
    """The exporter's processes in db1's network namespace (processes of every test host are
    visible from here)."""
    netns = Path(f"/run/netns/{w.lab['db1'].namespace}").stat().st_ino
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            if argv0 == binary(job) and (entry / "ns/net").stat().st_ino == netns:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def converged(world: World) -> World:
    assert run_apply(scope(world), yes=True, record=False) == 0
    return world


def test_the_exporters_answer_the_monitoring_host_on_the_servers_address(
    converged: World,
) -> None:
    w = converged
    node = scrape(w, 9100)
    assert "node_exporter_build_info" in node
    assert "mysql_exporter" in scrape(w, 9104) or "mysql_up" in scrape(w, 9104)
    cmd = Path(f"/proc/{exporter_pids(w, 'node')[0]}/cmdline").read_bytes().split(b"\0")
    assert f"--web.listen-address={w.db1}:9100".encode() in cmd


def test_the_exporters_are_not_reachable_from_elsewhere(converged: World) -> None:
    w = converged
    for port in (9100, 9104):
        assert probe_from(w.lab["mon1"], w.db1, port, SHORT) == "open"
        assert probe_from(w.lab["outsider"], w.db1, port, SHORT) == "timeout"
        assert tcp_probe(w.db1, port, SHORT) == "timeout"  # the runner: management SSH only


def test_a_second_apply_plans_nothing(converged: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, plan = plan_json(converged, capsys)
    assert code == 0, plan
    assert changes_of(plan, "exporters") == [] and changes_of(plan, "firewall") == []


def test_a_stopped_exporter_is_drift_and_the_apply_restarts_it(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    for pid in exporter_pids(w, "node"):
        os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not exporter_pids(w, "node"):
            break
        subprocess.run(["sleep", "0.05"], check=True)
    code, plan = plan_json(w, capsys)
    assert code == 2
    (change,) = changes_of(plan, "exporters")
    assert change["resource"] == "prometheus-node-exporter"
    assert ["~", "start it: it is not running"] in change["details"]
    assert run_apply(scope(w), yes=True, record=False) == 0
    assert "node_exporter_build_info" in scrape(w, 9100)
    code, plan = plan_json(w, capsys)
    assert code == 0 and changes_of(plan, "exporters") == []


def test_the_backup_jobs_last_success_is_scraped_through_the_textfile_collector(
    converged: World,
) -> None:
    w = converged
    script = "\n".join(job._metrics_lines(job.PERIOD_SECONDS[Frequency.WEEKLY])) + "\n"
    done = w.lab["db1"].run(script)
    assert done.returncode == 0, done.stderr
    samples = [line for line in scrape(w, 9100).splitlines() if line.startswith("dagsync_")]
    assert "dagsync_backup_period_seconds 604800" in samples
    assert any(s.startswith("dagsync_backup_last_success_timestamp_seconds ") for s in samples)
