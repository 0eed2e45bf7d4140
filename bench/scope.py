"""Benchmark: `dagsync scope` (the apply scope by desired-state digests) against validation.

    python bench/scope.py [--clients 2000] [--runs 3] [--keep DIR]

Generates the repository of `bench/validate.py` (N clients x 3 servers), commits it, records
one apply of every target at that commit (the records a full `dagsync apply` writes, with
every target's digest), changes one server of one client, commits, then times in the same run:

- `dagsync scope --format json` (load the models, every target's digest, the apply records);
- `dagsync validate --no-cache` (full validation), the reference the issue names.

It prints the median of each, their ratio, the number of targets and which are in scope (it
must be exactly the changed server), and exits 0 only when the scope is right and takes at
most TARGET_RATIO of the validation time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate as generator

TARGET_RATIO = 0.5


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@dag.example",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@dag.example",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def record_full_apply(repo: Path) -> int:
    """Record at HEAD the apply of every target, as a full `dagsync apply` would."""
    from dagsync.reconcile.core import Target
    from dagsync.reconcile.digests import digests
    from dagsync.reconcile.driverspec import KINDS
    from dagsync.reconcile.plan import Plan
    from dagsync.reconcile.records import record_run
    from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
    from dagsync.reconcile.run import Selection
    from dagsync.validate.repository import load_repository

    config = load_repository(repo, validate=False)
    keys = sorted(digests(config))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results = tuple(HostResult(Target(*key.split("/", 1)), HostStatus.UNCHANGED) for key in keys)
    record_run(repo, config, Selection(), KINDS, ApplyReport(Plan((), now), results, now, now))
    return len(keys)


def change_one_server(repo: Path) -> str:
    path = next(sorted((repo / "clients").glob("client-00007/servers/*.yaml")).__iter__())
    text = path.read_text()
    new = text.replace("schedule: ", 'schedule: "05:05"\n  # was: ', 1)
    path.write_text(new)
    return f"client-00007/{path.stem}"


def timed(cmd: Sequence[str], cwd: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds (CPU: user + system, worker processes included)."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, _, _ = generator._run(cmd, cwd)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="Generate into this new folder.")
    args = parser.parse_args(argv)
    dagsync = generator.script("dagsync")
    with tempfile.TemporaryDirectory(prefix="dagsync-bench-scope-") as tmp:
        repo = args.keep or Path(tmp) / "repo"
        generator.generate(repo, args.clients)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "generated")
        targets = record_full_apply(repo)
        changed = change_one_server(repo)
        _git(repo, "commit", "-q", "-am", "one server changed")
        command = [dagsync, "scope", "--format", "json", "--repo", "."]
        done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
        found = [t["target"] for t in json.loads(done.stdout)["targets"]]
        scope_s, scope_cpu = timed(command, repo, args.runs)
        valid = [dagsync, "validate", "--no-cache", "--repo", "."]
        valid_s, valid_cpu = timed(valid, repo, args.runs)
    ratio = scope_s / valid_s
    right = found == [changed]
    ok = right and ratio <= TARGET_RATIO
    print(f"clients: {args.clients}, targets: {targets}, runs: {args.runs} (medians)")
    print(f"dagsync scope               {scope_s:7.2f} s wall  {scope_cpu:7.2f} s CPU")
    print(f"dagsync validate --no-cache {valid_s:7.2f} s wall  {valid_cpu:7.2f} s CPU")
    print(f"in scope: {', '.join(found) or '-'}")
    print(
        f"scope / validation: {ratio:.2f} wall, {scope_cpu / valid_cpu:.2f} CPU "
        f"(target <= {TARGET_RATIO} wall): {'holds' if ratio <= TARGET_RATIO else 'DOES NOT HOLD'}; "
        f"scope is exactly the changed server ({changed}): {'yes' if right else 'NO'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
