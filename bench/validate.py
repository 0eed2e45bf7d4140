"""Benchmark: `dagsync validate` against `check-jsonschema` on a synthetic repository.

    python bench/validate.py [--clients 2000] [--runs 5] [--keep DIR]

Generates N clients x 3 servers from the example client `velo-savoie` (ids, server names, OVH
service names, domains and IPs rewritten so that they are unique; IPs come from 10.0.0.0/8 and
are only strings in files), then times, in the same run:

- `dagsync validate --no-cache` (full validation: YAML, model, CGV rules, invariants);
- `check-jsonschema` over the same files with the generated schemas (schema pass only, one
  invocation per schema);
- `dagsync validate` with a warm cache (nothing changed);
- `dagsync validate` after changing one client.

It prints the median of each, the ratio dagsync / check-jsonschema, the peak memory of the
largest process of each command, and whether the targets hold.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TEMPLATE = "velo-savoie"
DOC_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")
TARGET_RATIO = 0.5
TARGET_MEMORY_MB = 500.0
TARGET_ONE_CHANGED_S = 0.5


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each run, and the largest resident set of any process (MB)."""

    seconds: tuple[float, ...]
    cpu_seconds: tuple[float, ...]
    peak_mb: float
    exit_codes: tuple[int, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# --- generation ----------------------------------------------------------------------------


def _ip_mapper(index: int) -> Callable[[str], str]:
    """Map the template's documentation /24s to three /24s of 10.0.0.0/8 owned by one client."""

    def prefix(k: int) -> str:
        n = 3 * index + k
        return f"10.{n // 256}.{n % 256}."

    table = {net: prefix(k) for k, net in enumerate(DOC_NETS)}
    pattern = re.compile("|".join(re.escape(n) for n in DOC_NETS))
    return lambda text: pattern.sub(lambda m: table[m.group(0)], text)


def _rewrite(text: str, index: int, servers: Sequence[str]) -> str:
    client_id = f"client-{index:05d}"
    text = _ip_mapper(index)(text)
    text = text.replace(TEMPLATE, client_id)
    text = text.replace("velo_shop", f"shop_{index:05d}")  # a database name is one client's
    text = re.sub(r"\bns(\d+)\.ip-", lambda m: f"ns{index:05d}{m.group(1)}.ip-", text)
    for name in servers:
        text = re.sub(rf"\b{re.escape(name)}\b(?![.-])", f"{name}-{index:05d}", text)
    return text


def generate(target: Path, clients: int) -> int:
    """Write a repository of `clients` clients made from the template; return its file count."""
    for name in ("policies", "schemas"):
        shutil.copytree(PROJECT / name, target / name)
    source = PROJECT / "clients" / TEMPLATE
    files = {p.relative_to(source).as_posix(): p.read_text() for p in source.rglob("*.yaml")}
    servers = sorted(Path(rel).stem for rel in files if rel.startswith("servers/"))
    count = 0
    for index in range(clients):
        client = target / "clients" / f"client-{index:05d}"
        (client / "servers").mkdir(parents=True)
        for rel, text in files.items():
            name = rel
            for server in servers:
                name = name.replace(f"servers/{server}.yaml", f"servers/{server}-{index:05d}.yaml")
            (client / name).write_text(_rewrite(text, index, servers))
            count += 1
    return count


# --- measuring -----------------------------------------------------------------------------


def _run(cmd: Sequence[str], cwd: Path) -> tuple[float, float, float, int]:
    """Run once: wall seconds, CPU seconds (user + system, with the worker processes), peak RSS
    in MB of the process or any descendant it waited for, exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if "Traceback" in err:
            sys.exit(f"{cmd[0]} crashed:\n{err}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def measure(
    commands: Sequence[Sequence[str]], cwd: Path, runs: int, before: Callable[[int], None] | None
) -> Timing:
    """Time `runs` runs of a sequence of commands (their times add up)."""
    seconds, cpu_seconds, peak, codes = [], [], 0.0, []
    for run in range(runs):
        if before is not None:
            before(run)
        total, cpu = 0.0, 0.0
        for cmd in commands:
            elapsed, used, rss, code = _run(cmd, cwd)
            total, cpu = total + elapsed, cpu + used
            peak = max(peak, rss)
            codes.append(code)
        seconds.append(total)
        cpu_seconds.append(cpu)
    return Timing(tuple(seconds), tuple(cpu_seconds), peak, tuple(codes))


def script(name: str) -> str:
    """A console script of this interpreter's environment (not a shim that adds start-up time)."""
    local = Path(sys.executable).with_name(name)
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed: pip install -e '.[test]'")
    return found


def check_jsonschema_commands(repo: Path) -> list[list[str]]:
    exe = script("check-jsonschema")
    groups = {
        "client.schema.json": sorted(repo.glob("clients/*/client.yaml")),
        "requests.schema.json": sorted(repo.glob("clients/*/requests.yaml")),
        "server.schema.json": sorted(repo.glob("clients/*/servers/*.yaml")),
    }
    return [
        [exe, "--schemafile", f"schemas/{schema}", *(p.relative_to(repo).as_posix() for p in files)]
        for schema, files in groups.items()
    ]


def _changer(repo: Path) -> Callable[[int], None]:
    """Before each run, change one value of one client (a different client each time) in a
    way that keeps it valid: the text of a port's justification."""

    def change(run: int) -> None:
        path = next((repo / "clients" / f"client-{run:05d}" / "servers").glob("db1-*.yaml"))
        text = path.read_text()
        path.write_text(
            text.replace("query the shop database.", f"query the shop database (change {run}).", 1)
        )

    return change


# --- report --------------------------------------------------------------------------------


def _line(label: str, t: Timing) -> str:
    runs = ", ".join(f"{s:.3f}" for s in t.seconds)
    cpu = statistics.median(t.cpu_seconds)
    return (
        f"  {label:<36} median {t.median:7.3f} s (CPU {cpu:7.3f} s)   "
        f"peak {t.peak_mb:6.1f} MB   runs: {runs}"
    )


def report(files: int, full: Timing, peer: Timing, cached: Timing, one: Timing) -> bool:
    ratio = full.median / peer.median
    checks = [
        (f"full validation <= {TARGET_RATIO} x check-jsonschema", ratio <= TARGET_RATIO),
        (f"peak memory < {TARGET_MEMORY_MB:.0f} MB", full.peak_mb < TARGET_MEMORY_MB),
        (f"one client changed < {TARGET_ONE_CHANGED_S} s", one.median < TARGET_ONE_CHANGED_S),
        ("dagsync found the generated repository clean", set(full.exit_codes) == {0}),
        ("check-jsonschema accepted every file", set(peer.exit_codes) == {0}),
    ]
    print(f"{files} files")
    print(_line("dagsync validate --no-cache", full))
    print(_line("check-jsonschema (3 invocations)", peer))
    print(_line("dagsync validate (cache warm)", cached))
    print(_line("dagsync validate (1 client changed)", one))
    print(
        f"  ratio dagsync / check-jsonschema: {ratio:.3f} "
        f"({peer.median / len_or_one(files) * 1000:.2f} ms a file for check-jsonschema, "
        f"{full.median / len_or_one(files) * 1000:.2f} ms for dagsync)"
    )
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {label}")
    return all(ok for _, ok in checks)


def len_or_one(n: int) -> int:
    return max(n, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--keep", type=Path, default=None, help="Generate into this (new) folder and keep it."
    )
    args = parser.parse_args(argv)
    dagsync = script("dagsync")
    with tempfile.TemporaryDirectory(prefix="dagsync-bench-") as tmp:
        repo = args.keep or Path(tmp) / "repo"
        files = generate(repo, args.clients)
        full = measure([[dagsync, "validate", "--no-cache", "--repo", "."]], repo, args.runs, None)
        peer = measure(check_jsonschema_commands(repo), repo, args.runs, None)
        warm = [dagsync, "validate", "--repo", "."]
        _run(warm, repo)
        cached = measure([warm], repo, args.runs, None)
        one = measure([warm], repo, args.runs, _changer(repo))
        ok = report(files, full, peer, cached, one)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
