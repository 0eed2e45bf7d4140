"""Fuzz the validator with tens of thousands of mutated example files.

    python bench/fuzz_validate.py [--count 20000] [--seed 14] [--jobs 2] [--cli 200]

Each mutant (`dagsync.testing.mutate`: deleted, inserted and replaced characters, shuffled and
re-indented lines, odd tags and scalars, anchors, deep nesting, huge lists, stray bytes)
replaces one file of a copy of the example repository; its client is checked in-process and the
result rendered as JSON and SARIF (the SARIF is validated against the official schema). Then
`--cli` of them run through the real command line, in a child process each (a crash of the C
parser would show as a signal there). Every run must finish without an exception, exit in
{0, 1, 2} (2 only for an internal error: none is expected) and within the CPU budget per file.

Prints the counts, the slowest mutants and the verdict; exits 1 if any mutant failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SCHEMA = PROJECT / "tests" / "data" / "sarif-schema-2.1.0.json"
CPU_BUDGET_S = 1.5  # per mutant, in-process (the suite asserts the same)


def _repository(target: Path) -> Path:
    for name in ("clients", "policies", "schemas"):
        shutil.copytree(PROJECT / name, target / name)
    return target


def _originals(repo: Path) -> list[tuple[str, str]]:
    files = sorted(p.relative_to(repo).as_posix() for p in (repo / "clients").rglob("*.yaml"))
    return [(rel, (repo / rel).read_text()) for rel in files]


def _check_slice(args: tuple[int, int, int]) -> tuple[int, list[str], list[tuple[float, str]]]:
    """Check the `size` mutants of slice `index` of the corpus of `seed` in-process; (count,
    failures, slowest). Each slice has its own derived seed: the corpus is reproducible."""
    seed, index, size = args
    import jsonschema

    from dagsync.findings import Result
    from dagsync.testing.mutate import mutants
    from dagsync.validate.checker import check_client
    from dagsync.validate.reading import Collector, load_policies
    from dagsync.validate.report import render_json, render_sarif
    from dagsync.validate.run import discover

    schema = json.loads(SCHEMA.read_text())
    sarif = jsonschema.validators.validator_for(schema)(schema)
    failures: list[str] = []
    timings: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        repo = _repository(Path(folder)).resolve()
        originals = _originals(repo)
        policies = load_policies(repo, Collector(None))
        today = dt.date(2026, 11, 2)
        for mutant in mutants(seed * 100_003 + index, originals, size):
            rel = mutant.name.split(":")[1]
            (repo / rel).write_bytes(mutant.data)
            started = time.process_time()
            try:
                files = discover(repo).clients[rel.split("/")[1]]
                report = check_client(repo, files, policies, today)
                result = Result(tuple(sorted(set(report.findings))), len(files.all), 1)
                json.loads(render_json(result))
                sarif.validate(json.loads(render_sarif(result)))
            except Exception:  # every failure is counted and shown
                failures.append(f"{mutant.name}: {traceback.format_exc(limit=3)}")
            elapsed = time.process_time() - started
            timings.append((elapsed, mutant.name))
            if elapsed > CPU_BUDGET_S:
                failures.append(f"{mutant.name}: {elapsed:.2f} s of CPU")
            (repo / rel).write_text(dict(originals)[rel])
    return size, failures, sorted(timings, reverse=True)[:5]


def _cli(seed: int, count: int) -> tuple[dict[int, int], list[str]]:
    """`count` mutants through `python -m dagsync validate` (json and sarif alternately)."""
    from dagsync.testing.mutate import mutants

    codes: dict[int, int] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        repo = _repository(Path(folder)).resolve()
        originals = _originals(repo)
        for number, mutant in enumerate(mutants(seed + 1, originals, count)):
            rel = mutant.name.split(":")[1]
            (repo / rel).write_bytes(mutant.data)
            fmt = ("json", "sarif")[number % 2]
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dagsync",
                    "validate",
                    "--repo",
                    str(repo),
                    "--no-cache",
                    "--format",
                    fmt,
                    str(repo / rel),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            codes[done.returncode] = codes.get(done.returncode, 0) + 1
            if done.returncode not in (0, 1) or "Traceback" in done.stderr:
                failures.append(f"{mutant.name}: exit {done.returncode} {done.stderr[-300:]}")
            else:
                try:
                    json.loads(done.stdout)
                except ValueError:
                    failures.append(f"{mutant.name}: no JSON on stdout")
            (repo / rel).write_text(dict(originals)[rel])
    return codes, failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="in-process mutants")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--cli", type=int, default=200, help="mutants through the CLI")
    args = parser.parse_args(argv)

    started = time.monotonic()
    step = max(1, args.count // (args.jobs * 8))
    slices = [
        (args.seed, index, min(step, args.count - start))
        for index, start in enumerate(range(0, args.count, step))
    ]
    checked, failures, slowest = 0, [], []
    with ProcessPoolExecutor(args.jobs) as pool:
        for count, failed, slow in pool.map(_check_slice, slices):
            checked += count
            failures.extend(failed)
            slowest.extend(slow)
    in_process = time.monotonic() - started
    codes, cli_failures = _cli(args.seed, args.cli) if args.cli else ({}, [])
    failures.extend(cli_failures)

    print(f"in-process: {checked} mutants in {in_process:.0f} s")
    print("slowest (CPU s): " + ", ".join(f"{t:.3f} {n}" for t, n in sorted(slowest)[-5:][::-1]))
    if args.cli:
        print(f"CLI: {args.cli} mutants, exit codes {dict(sorted(codes.items()))}")
    for failure in failures[:20]:
        print("FAILED", failure)
    print(f"{'FAIL' if failures else 'OK'}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
