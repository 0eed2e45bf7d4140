"""Benchmark: rendering the monitoring configuration against `promtool check config`.

    python bench/monitoring.py [--clients 2000] [--runs 3] [--keep DIR]

Builds N clients x 3 servers in memory from the example client `velo-savoie` (ids, server
names and addresses rewritten; every tenth client holds a root-access window, so that the
window rules are part of the work), then times, in the same run and on the same files:

- render: `dagsync.reconcile.monitoring.render.render` (targets, rules, routes), in process;
- write: the rendered files written to a folder;
- peer: `promtool check config prometheus.yml` on that folder (it parses every rule file and
  every file_sd target file).

It prints the median of each, the number of files and targets, and the ratio render / peer;
the exit code is 0 when the ratio is at most TARGET_RATIO and promtool accepts the files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dagsync.reconcile import monitoring  # noqa: E402
from dagsync.reconcile.monitoring.render import render  # noqa: E402
from dagsync.validate.repository import ClientConfig  # noqa: E402

TARGET_RATIO = 1.0


def clients(count: int) -> list[ClientConfig]:
    inputs = monitoring.load(ROOT, validate=False)
    base = inputs.repo.client("velo-savoie")
    window = inputs.repo.client("cime-conseil").client.contract.root_access[0]
    made: list[ClientConfig] = []
    for i in range(count):
        cid = f"client-{i:05d}"
        servers = []
        for j, server in enumerate(base.servers):
            n = i * 3 + j
            ip = IPv4Address(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
            servers.append(server.model_copy(update={"ips": [ip]}))
        contract = base.client.contract
        if i % 10 == 0:
            moved = window.model_copy(update={"server": base.servers[0].name})
            contract = contract.model_copy(update={"root_access": [moved]})
        client = base.client.model_copy(update={"id": cid, "contract": contract})
        made.append(ClientConfig(client, tuple(servers)))
    return made


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the rendered files in this folder")
    args = parser.parse_args(argv)
    if shutil.which("promtool") is None:
        print("promtool is missing: apt-get install prometheus", file=sys.stderr)
        return 2
    inputs = monitoring.load(ROOT, validate=False)
    mon = inputs.monitoring
    many = clients(args.clients)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="dagsync-bench-monitoring-"))
    renders, writes, checks = [], [], []
    files: dict[str, str] = {}
    checked = subprocess.CompletedProcess[str]([], 0, "", "")
    for _ in range(args.runs):
        start = time.perf_counter()
        files = render(mon, mon.hosts[0], many, inputs.cgv)
        renders.append(time.perf_counter() - start)
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        for parent in sorted({(folder / p).parent for p in files}):
            parent.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            (folder / path).write_text(text)
        writes.append(time.perf_counter() - start)
        start = time.perf_counter()
        checked = subprocess.run(
            ["promtool", "check", "config", "prometheus.yml"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        checks.append(time.perf_counter() - start)
    targets = sum(text.count('"targets"') for p, text in files.items() if p.startswith("targets/"))
    ratio = _median(renders) / _median(checks)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z  {args.clients} clients x 3 servers")
    print(f"files: {len(files)}  target groups: {targets}  runs: {args.runs}")
    print(f"render (dagsync)               {_median(renders):8.3f} s")
    print(f"write the files                {_median(writes):8.3f} s")
    print(f"promtool check config (peer)   {_median(checks):8.3f} s")
    print(f"ratio render / promtool        {ratio:8.2f}  (target <= {TARGET_RATIO})")
    if checked.returncode != 0:
        print(checked.stdout[-2000:] + checked.stderr[-2000:], file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
