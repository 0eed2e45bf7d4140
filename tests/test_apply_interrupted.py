"""An apply stopped by SIGINT, SIGTERM or its deadline: what was finished is known and
recorded, the rest is recorded `interrupted`, and a hung target cannot hold the apply."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from dagsync.reconcile import drivers
from dagsync.reconcile.combine import plan_all
from dagsync.reconcile.core import Action, Change, Target
from dagsync.reconcile.driverspec import Confirm, Context, Driver
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.records import records
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
from dagsync.reconcile.resource import Outcome, Status
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.supervise import supervised
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.validate.repository import Repository, load_repository

PROJECT = Path(__file__).resolve().parents[1]
AT = "2026-11-29T10:00:00+00:00"


def _target(key: str, summary: str) -> TargetPlan:
    client, name = key.split("/", 1)
    change = Change("firewall", Action.UPDATE, "ruleset", summary)
    return TargetPlan(Target(client, name), "192.0.2.1", changes=(change,))


def _driver(name: str, keys: list[str], hang: threading.Event | None = None) -> Driver:
    """Applies its targets one by one (each reported at once); with `hang`, the last one
    never returns until `hang` is set (an SSH command stuck on a host)."""
    plan = Plan(tuple(_target(k, f"{name} on {k}") for k in keys), AT)

    def apply(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
        assert confirm(plan)
        results = []
        for i, t in enumerate(plan.targets):
            if hang is not None and i == len(plan.targets) - 1:
                print("hanging", flush=True)  # the CLI test signals only from here on
                hang.wait(60)
            outcomes = tuple(Outcome(c, Status.APPLIED) for c in t.changes)
            results.append(HostResult(t.target, HostStatus.APPLIED, outcomes))
        return ApplyReport(plan, tuple(results), AT, AT)

    return Driver(name, ("firewall",), ("firewall",), lambda ctx: plan, apply)


@pytest.fixture(scope="module")
def repo() -> Repository:
    return load_repository(PROJECT, validate=False)


def test_a_hung_target_cannot_hold_the_apply_past_its_deadline(repo: Repository) -> None:
    hang = threading.Event()
    table = (
        _driver("one", ["velo-savoie/web1", "velo-savoie/web2"]),
        _driver("two", ["alpine-books/shop1", "cime-conseil/dev1"], hang=hang),
    )
    ctx = Context(repo, Selection(), Overrides(), RunOptions())
    combined = plan_all(ctx, table)
    started = time.monotonic()
    try:
        run = supervised(
            lambda: drivers.apply_all(ctx, combined, lambda plan: True, table=table), 1.0
        )
    finally:
        hang.set()
    assert time.monotonic() - started < 5
    assert run.stopped_by == "the deadline of 1 s"
    assert run.exit_code == 124
    assert run.report is not None
    done = {r.target.key: r.status for r in run.report.results}
    assert done == {
        "velo-savoie/web1": HostStatus.APPLIED,
        "velo-savoie/web2": HostStatus.APPLIED,
        "alpine-books/shop1": HostStatus.APPLIED,
    }
    assert run.unfinished == {"cime-conseil/dev1": []}
    summary = run.summary()
    assert "done (3): alpine-books/shop1, velo-savoie/web1, velo-savoie/web2" in summary
    assert "NOT finished: cime-conseil/dev1" in summary
    (cime,) = [
        r for r in records(run.report, interrupted=run.unfinished) if r["client"] == "cime-conseil"
    ]
    assert cime["servers"] == [
        {
            "server": "dev1",
            "result": "interrupted",
            "resources_changed": [],
            "error": "apply interrupted before anything on it was reported",
        }
    ]


def test_an_apply_that_ends_in_time_is_not_stopped(repo: Repository) -> None:
    table = (_driver("one", ["velo-savoie/web1"]),)
    ctx = Context(repo, Selection(), Overrides(), RunOptions())
    combined = plan_all(ctx, table)
    run = supervised(lambda: drivers.apply_all(ctx, combined, lambda p: True, table=table), 30)
    assert run.stopped_by is None and run.unfinished == {}
    assert run.report is not None and [r.status for r in run.report.results] == [HostStatus.APPLIED]


def test_an_error_of_the_apply_is_raised_not_swallowed() -> None:
    def boom() -> ApplyReport:
        raise RuntimeError("driver bug")

    with pytest.raises(RuntimeError, match="driver bug"):
        supervised(boom, 30)


SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from test_apply_interrupted import _driver
    from dagsync.reconcile import drivers
    from dagsync.reconcile.run import Selection
    from dagsync.reconcile.driverspec import Context
    from dagsync.reconcile.combine import plan_all
    from dagsync.reconcile.run import RunOptions
    from dagsync.reconcile.transport.inventory import Overrides
    from dagsync.reconcile.supervise import exit_now, supervised
    from dagsync.validate.repository import load_repository

    repo = load_repository(Path(sys.argv[2]), validate=False)
    table = (_driver("one", ["velo-savoie/web1"]), _driver("two", ["velo-savoie/db1",
             "alpine-books/shop1"], hang=threading.Event()))
    ctx = Context(repo, Selection(), Overrides(), RunOptions())
    combined = plan_all(ctx, table)
    print("applying", flush=True)
    run = supervised(lambda: drivers.apply_all(ctx, combined, lambda p: True, table=table), None)
    print(run.summary(), flush=True)
    exit_now(run.exit_code)
    """
)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_apply_says_what_was_and_was_not_done(
    tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(Path(__file__).parent), str(PROJECT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT / "src")},
    )
    assert proc.stdout is not None
    assert _lines_until(proc.stdout, "hanging")[:1] == ["applying"]  # web1, db1 done; shop1 hangs
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert f"apply stopped by {signum.name}:" in out
    assert "done (2): velo-savoie/db1, velo-savoie/web1" in out
    assert "NOT finished: alpine-books/shop1" in out


CLI_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from test_apply_interrupted import _driver
    from dagsync.reconcile import drivers
    hang = threading.Event() if sys.argv[3] == "hang" else None
    drivers.DRIVERS = (
        _driver("hosts", ["velo-savoie/web1", "velo-savoie/web2"]),
        _driver("backup", ["velo-savoie/db1"], hang=hang),
    )
    from dagsync.cli import main
    print("applying", flush=True)
    sys.exit(main(["apply", "--yes", "--any-commit", "--client", "velo-savoie",
                   "--repo", sys.argv[2], *sys.argv[4:]]))
    """
)


def _lines_until(stream: IO[str], marker: str) -> list[str]:
    """The lines before `marker` (a machine under load takes its time: no sleep guesses)."""
    lines = []
    for line in iter(stream.readline, ""):
        if line.strip() == marker:
            return lines
        lines.append(line.strip())
    raise AssertionError(f"the command ended before printing {marker!r}: {lines}")


def _cli(tmp_path: Path, root: Path, mode: str, *extra: str) -> subprocess.Popen[str]:
    script = tmp_path / "cli.py"
    script.write_text(CLI_SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), str(Path(__file__).parent), str(root), mode, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT / "src")},
    )


def test_dagsync_apply_interrupted_records_it_and_the_next_apply_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagsync.gitops.notes import read_applies
    from dagsync.reconcile.lastapply import since_last_apply
    from test_gitops_helpers import Scratch

    repo = Scratch.create(tmp_path / "r", monkeypatch)
    head = repo.git("rev-parse", "HEAD")
    proc = _cli(tmp_path, repo.root, "hang")
    assert proc.stdout is not None
    assert _lines_until(proc.stdout, "hanging")[:1] == ["applying"]  # web1, web2 done; db1 hangs
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "apply stopped by SIGINT:" in err
    assert "done (2): velo-savoie/web1, velo-savoie/web2" in err
    assert "NOT finished: velo-savoie/db1" in err
    (record,) = read_applies(repo.root, "HEAD")
    assert record["result"] == "interrupted"
    results = {s["server"]: (s["result"], "digest" in s) for s in record["servers"]}
    assert results == {"db1": ("interrupted", False), "web1": ("ok", True), "web2": ("ok", True)}
    assert [t.key for t in since_last_apply(repo.root, head).targets] == ["velo-savoie/db1"]

    proc = _cli(tmp_path, repo.root, "run")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert sorted(r["result"] for r in read_applies(repo.root, "HEAD")) == ["interrupted", "ok"]
    assert since_last_apply(repo.root, head).targets == ()


def test_dagsync_apply_stops_at_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_gitops_helpers import Scratch

    repo = Scratch.create(tmp_path / "r", monkeypatch)
    started = time.monotonic()
    proc = _cli(tmp_path, repo.root, "hang", "--deadline", "2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 124, err
    assert time.monotonic() - started < 30
    assert "apply stopped by the deadline of 2 s:" in err
