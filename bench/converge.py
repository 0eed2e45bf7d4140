#!/usr/bin/env python3
"""Converge benchmark: dagsync against the raw-SSH floor and ansible-playbook on N test hosts.

    sudo python bench/converge.py [--hosts 20 [50 100 ...]] [--rounds 5] [--warmup 1] [--no-ansible]

For each size, in the same interleaved rounds (this VM's speed drifts, so ratios are also
paired per round):

- the FLOOR (bench/floor.py): the least any reconciler must do, written plainly with paramiko
  (parallel connections, strict host keys, TCP_NODELAY, the same reads in one command per
  host, compared with the desired answer); for the change, the same upload, `nft -c -f` and
  load, and a SAFE floor that also snapshots, arms a rollback timer and confirms over a fresh
  connection, as dagsync's apply does — so that the cost of that safety is measured;

- `dagsync plan` with nothing to change, vs `ansible-playbook` with nothing to change;
- `dagsync apply --yes` of a one-port change on every host (the third open port flips
  10000+i <-> 20000+i in every server's YAML), vs `ansible-playbook` doing the same job
  (bench/ansible/: the same nftables file templated, checked with `nft -c`, loaded by a
  handler; the same user and authorized keys), with pipelining and ControlPersist on.

Before timing it checks that both tools do the same job: after dagsync converges the hosts,
Ansible changes nothing (its template renders the same bytes), and after Ansible applies a
change, `dagsync plan` sees no drift.  It prints medians, ratios and the targets (no-op plan
>= 10x faster than Ansible's no-op, apply >= 5x faster, no-op plan for 20 hosts < 1.5 s).

Targets (issue 20): no-op plan <= 1.3x the floor at every size; apply <= 1.3x the safe
floor; per-host cost of the no-op plan flat within 20% from the smallest to the largest size;
no-op plan at 100 hosts < 2 s.  Exit code 0 only when every target holds.  Needs root, iproute2, openssh-server, nftables.
ansible-core is used from PATH; if it is missing, the script installs it once (pip, from
PyPI) into bench/results/ansible-venv.
Everything else lives under bench/results/converge-<time>/ and the hosts are always removed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

from dagsync.testing.hosts.checks import skip_reason  # noqa: E402
from dagsync.testing.hosts.lab import TestHosts, up  # noqa: E402
from dagsync.testing.hosts.network import unique_network  # noqa: E402
from dagsync.testing.hosts.probes import tcp_probe  # noqa: E402
from dagsync.testing.hosts.teardown import down  # noqa: E402

ANSIBLE_CORE = "ansible-core>=2.17,<2.20"
NETWORK = unique_network("bnch")  # names and a /24 of this run's own
FLOOR = HERE / "floor.py"
# The floor's reads: what `dagsync plan --only firewall,accounts` reads, in one command.
FLOOR_READ = (
    "nft list table inet dagsync; getent passwd; getent group; cut -d: -f1,2 /etc/shadow; "
    "cat /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys 2>/dev/null; true"
)
CLIENT = "bench-client"
BLOCKED = [
    "198.51.100.7/32",
    "198.51.100.8/32",
    "203.0.113.99/32",
    "203.0.113.100/32",
    "192.0.2.200/32",
]
OPS_KEYS = ("ops-alice", "ops-bob")
KEYS_HEADER = "# managed by dagsync: keys come from the server's YAML"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} converge: {message}", file=sys.stderr, flush=True)


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=env, cwd=cwd)
    if check and proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)[:200]} exited {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


# --- the configuration repository dagsync reads ------------------------------------------


def _ports(i: int, flipped: bool) -> list[int]:
    return [8000 + i, 9000 + i, (20000 if flipped else 10000) + i]


def _server_yaml(i: int, flipped: bool, keys: Sequence[str]) -> str:
    ports = "".join(
        f"    - protocol: tcp\n      port: {p}\n      service: svc-{n}\n"
        f"      sources: [198.51.100.0/24]\n      justification: Benchmark service {n}.\n"
        for n, p in zip("abc", _ports(i, flipped), strict=True)
    )
    key_lines = "".join(f"      - {k}\n" for k in keys)
    return f"""name: h{i}
role: production
ovh:
  service_name: ns{4000000 + i}.ip-203-0-113.eu
  datacenter: gra3
  type: bare_metal
  commercial_range: advance
ips: [203.0.{113 if i < 200 else 112}.{i % 200 + 1}]
ssh:
  port: 22
  host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqRrp1LA/NrvQiUz6oIQpfItrlU99S9E1raF1nK5bVa
os: {{name: debian, version: "12"}}
accounts:
  - name: ops
    kind: ssh
    owner: DAG operations
    keys:
{key_lines}firewall:
  icmp: true
  open_ports:
{ports}supervision:
  metrics: [cpu, ram, disk, bandwidth, load, app_connections, db_connections]
  alert_interval_minutes: 5
  uptime_interval_minutes: 1
backup:
  frequency: daily
  schedule: "02:00"
  retention_days: 7
  scope: [system, files, databases]
  storage: sbg-backup-1
"""


def _client_yaml() -> str:
    text = (REPO / "clients/velo-savoie/client.yaml").read_text()
    text = text.replace("id: velo-savoie", f"id: {CLIENT}")
    head, _, _ = text.partition("\nnetwork:")
    entries = "".join(
        f"    - address: {b}\n      reason: Benchmark block\n      added_on: 2026-10-02\n"
        for b in BLOCKED
    )
    return head + "\nnetwork:\n  share_blocklist_network_wide: true\n  blocklist:\n" + entries


@dataclass(frozen=True)
class Setup:
    state: Path
    repo: Path
    lab: TestHosts
    keys: tuple[str, ...]
    ansible: Path  # the folder with inventory, vars and the playbook copy


def make_repo(state: Path, lab: TestHosts, keys: Sequence[str]) -> Path:
    repo = state / "repo"
    shutil.copytree(REPO / "policies", repo / "policies")
    shutil.copytree(REPO / "schemas", repo / "schemas")
    base = repo / "clients" / CLIENT
    (base / "servers").mkdir(parents=True)
    (base / "client.yaml").write_text(_client_yaml())
    shutil.copy(REPO / "clients/velo-savoie/requests.yaml", base / "requests.yaml")
    write_servers(repo, lab, keys, flipped=False)
    overrides = {
        "version": 1,
        "hosts": {
            f"{CLIENT}/{h.name}": {"address": h.address, "port": 22, "host_key": h.host_key_public}
            for h in lab.hosts
        },
        "management_ranges": [f"{NETWORK.prefix}.1/32"],
        "ssh_key": str(lab.client_key),
    }
    (repo / ".dagsync-sandbox").mkdir()
    (repo / ".dagsync-sandbox/hosts.json").write_text(json.dumps(overrides, indent=1))
    os.environ["DAGSYNC_SANDBOX"] = "1"  # dagsync reads the override only in sandbox mode
    return repo


def write_servers(repo: Path, lab: TestHosts, keys: Sequence[str], *, flipped: bool) -> None:
    for host in lab.hosts:
        i = int(host.name[1:])
        path = repo / "clients" / CLIENT / "servers" / f"{host.name}.yaml"
        path.write_text(_server_yaml(i, flipped, keys))


# --- the Ansible side -------------------------------------------------------------------


def ansible_playbook() -> Path:
    found = shutil.which("ansible-playbook")
    if found:
        return Path(found)
    venv = HERE / "results" / "ansible-venv"
    playbook = venv / "bin" / "ansible-playbook"
    if not playbook.exists():
        log(f"ansible-playbook not found: installing {ANSIBLE_CORE} into {venv} (once)")
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "-q", ANSIBLE_CORE])
    return playbook


def write_ansible_vars(folder: Path, lab: TestHosts, keys: Sequence[str], *, flipped: bool) -> None:
    (folder / "host_vars").mkdir(parents=True, exist_ok=True)
    for host in lab.hosts:
        i = int(host.name[1:])
        ports = [
            {"port": p, "service": f"svc-{n}"}
            for n, p in zip("abc", _ports(i, flipped), strict=True)
        ]
        data = {"target_key": f"{CLIENT}/{host.name}", "open_ports": ports}
        (folder / "host_vars" / f"{host.name}.yml").write_text(json.dumps(data) + "\n")


def make_ansible(state: Path, lab: TestHosts, keys: Sequence[str]) -> Path:
    folder = state / "ansible"
    shutil.copytree(HERE / "ansible", folder)
    inventory = ["[testhosts]"] + [f"{h.name} ansible_host={h.address}" for h in lab.hosts]
    inventory += [
        "",
        "[testhosts:vars]",
        "ansible_user=root",
        f"ansible_ssh_private_key_file={lab.client_key}",
        f"ansible_ssh_common_args=-o UserKnownHostsFile={lab.known_hosts} "
        "-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes",
        "ansible_python_interpreter=/usr/bin/python3",
    ]
    (folder / "inventory.ini").write_text("\n".join(inventory) + "\n")
    (folder / "group_vars").mkdir(exist_ok=True)
    group = {
        "blocked4": sorted(BLOCKED, key=_ip_key),
        "management4": sorted(
            ["192.0.2.0/28", "192.0.2.64/29", f"{NETWORK.prefix}.1/32"], key=_ip_key
        ),
        "source4": "198.51.100.0/24",
        "ops_authorized_keys": "\n".join([KEYS_HEADER, *keys]) + "\n",
    }
    (folder / "group_vars" / "all.yml").write_text(json.dumps(group, indent=1) + "\n")
    write_ansible_vars(folder, lab, keys, flipped=False)
    return folder


def _ip_key(text: str) -> tuple[int, ...]:
    address, _, length = text.partition("/")
    return (*(int(x) for x in address.split(".")), int(length or 32))


def ansible_env(state: Path, folder: Path, n: int) -> dict[str, str]:
    home = state / "ansible-home"
    for sub in ("tmp", "cp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(folder / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(home / "cp"),
        "ANSIBLE_FORKS": str(n),
        "ANSIBLE_NOCOLOR": "1",
    }


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    prepare: Callable[[], None] | None = None
    repeat: int = 1
    ok_codes: tuple[int, ...] = (0,)


def timed(bench: Bench) -> float:
    if bench.prepare:
        bench.prepare()
    start = time.perf_counter()
    proc = subprocess.run(
        bench.argv, env=bench.env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in bench.ok_codes:
        raise SystemExit(
            f"{bench.name}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed


def rounds(benches: Sequence[Bench], count: int, warmup: int) -> dict[str, list[list[float]]]:
    results: dict[str, list[list[float]]] = {b.name: [] for b in benches}
    for r in range(warmup + count):
        measured = {b.name: [timed(b) for _ in range(b.repeat)] for b in benches}
        if r >= warmup:
            for name, values in measured.items():
                results[name].append(values)
        shown = " ".join(f"{k}={statistics.median(v):.2f}" for k, v in measured.items())
        log(f"round {r + 1}/{warmup + count}{' (warm-up)' if r < warmup else ''}: {shown}")
    return results


_SHIM = (
    "import sys, click; from dagsync.commands.reconcile import plan, apply; "
    "click.Group(commands={'plan': plan, 'apply': apply}).main(sys.argv[1:], prog_name='dagsync')"
)
_LAUNCHER: list[str] = [sys.executable, "-m", "dagsync"]


# The same job as the Ansible playbook: the host firewall and the authorized keys (dagsync's
# other drivers, backups, shared mail and OVH, have no counterpart in the playbook).
ONLY = ("--only", "firewall,accounts")


def dagsync_argv(*args: str) -> list[str]:
    return [*_LAUNCHER, *args]


def check_registered() -> None:
    """Use `python -m dagsync`; before the CLI registers plan/apply, a shim without it."""
    out = run(dagsync_argv("--help"), check=False).stdout
    if not re.search(r"^\s+plan\b", out, re.M):
        log(
            "`dagsync plan` is not registered in dagsync.cli: timing the commands through a "
            "shim (without dagsync.cli's own imports)"
        )
        _LAUNCHER[:] = [sys.executable, "-c", _SHIM]


# --- sanity ----------------------------------------------------------------------------------


def changed_counts(output: str) -> list[int]:
    return [int(m) for m in re.findall(r"changed=(\d+)", output)]


def sanity(
    s: Setup, apb: list[str] | None, env: dict[str, str], flip: Callable[[bool], None]
) -> None:
    n = len(s.lab.hosts)
    log("first converge with dagsync")
    run(dagsync_argv("apply", "--repo", str(s.repo), "--yes", "--no-record", *ONLY))
    run(dagsync_argv("plan", "--repo", str(s.repo), "--detailed-exitcode", *ONLY))
    if apb is not None:
        log("Ansible on converged hosts must change nothing (same nft bytes, same keys)")
        out = run(apb, env=env).stdout
        if changed_counts(out) != [0] * n:
            raise SystemExit(f"Ansible changed something after dagsync converged:\n{out[-4000:]}")
        log("Ansible applies a one-port change; dagsync must then see no drift")
        flip(True)
        out = run(apb, env=env).stdout
        if changed_counts(out) != [2] * n:
            raise SystemExit(
                f"the Ansible change run did not change+reload every host:\n{out[-4000:]}"
            )
        run(dagsync_argv("plan", "--repo", str(s.repo), "--detailed-exitcode", *ONLY))
        flip(False)
        run(dagsync_argv("apply", "--repo", str(s.repo), "--yes", "--no-record", *ONLY))
    host = s.lab.hosts[0]
    probes = (tcp_probe(host.address, 8001, 0.3), tcp_probe(host.address, 8999, 0.3))
    if probes != ("timeout", "timeout") or tcp_probe(host.address, 22, 1.0) != "open":
        raise SystemExit(f"ruleset not in effect on {host.name}: {probes}")
    log("sanity checks passed")


# --- the floor -------------------------------------------------------------------------------


def floor_spec(s: Setup, flip: Callable[[bool], None]) -> Path:
    """What the floor compares with and loads, recorded from hosts that dagsync converged to
    each desired state (the floor does the same job, so it must reach the same state)."""
    sys.path.insert(0, str(HERE))
    import floor  # bench/floor.py

    spec: dict[str, object] = {
        "key": str(s.lab.client_key),
        "known_hosts": str(s.lab.known_hosts),
        "read": FLOOR_READ,
        "hosts": [{"name": h.name, "address": h.address, "port": h.port} for h in s.lab.hosts],
    }
    expected: dict[str, dict[str, str]] = {}
    rulesets: dict[str, dict[str, str]] = {}
    for state in (True, False):  # hosts end in state 0, where the rounds start
        flip(state)
        run(dagsync_argv("apply", "--repo", str(s.repo), "--yes", "--no-record", *ONLY))
        key = "1" if state else "0"
        expected[key], rulesets[key] = {}, {}
        for host in s.lab.hosts:
            client = floor.connect(spec, {"name": host.name, "address": host.address, "port": 22})
            try:
                code, out = floor.run(client, FLOOR_READ)
            finally:
                client.close()
            if code != 0:
                raise SystemExit(f"the floor's read failed on {host.name} ({code})")
            expected[key][host.name] = hashlib.sha256(out).hexdigest()
            rulesets[key][host.name] = host.run(f"cat {floor.NFT_FILE}", check=True).stdout
    spec["expected"], spec["rulesets"] = expected, rulesets
    path = s.state / "floor-spec.json"
    path.write_text(json.dumps(spec) + "\n")
    return path


# --- report ----------------------------------------------------------------------------------


def _medians(results: dict[str, list[list[float]]]) -> dict[str, float]:
    return {k: statistics.median([x for r in v for x in r]) for k, v in results.items()}


def _paired(results: dict[str, list[list[float]]], a: str, b: str) -> str:
    ratios = [
        statistics.median(x) / statistics.median(y)
        for x, y in zip(results[a], results[b], strict=True)
    ]
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def summarize(results: dict[str, list[list[float]]], n: int) -> str:
    med = _medians(results)
    lines = [
        f"## converge benchmark, {n} hosts, {len(next(iter(results.values())))} rounds",
        "",
        "| what | median s | per host ms |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v:.3f} | {1000 * v / n:.1f} |" for k, v in med.items()]
    plan_floor = med["dagsync-plan-noop"] / med["floor-plan-noop"]
    apply_safe = med["dagsync-apply-change"] / med["floor-safe-apply-change"]
    safety = med["floor-safe-apply-change"] / med["floor-apply-change"]
    lines += [
        "",
        f"- no-op plan / floor = {plan_floor:.2f}x of medians, paired "
        f"{_paired(results, 'dagsync-plan-noop', 'floor-plan-noop')} "
        f"(target <= 1.3x: {_verdict(plan_floor <= 1.3)})",
        f"- apply / safe floor = {apply_safe:.2f}x of medians, paired "
        f"{_paired(results, 'dagsync-apply-change', 'floor-safe-apply-change')} "
        f"(target <= 1.3x: {_verdict(apply_safe <= 1.3)})",
        f"- the cost of safety (safe floor / floor, rollback timer + fresh connection): "
        f"{safety:.2f}x",
        f"- apply / plain floor = "
        f"{_paired(results, 'dagsync-apply-change', 'floor-apply-change')} paired",
    ]
    if "ansible-noop" in med:
        noop = med["ansible-noop"] / med["dagsync-plan-noop"]
        change = med["ansible-change"] / med["dagsync-apply-change"]
        lines += [
            f"- Ansible / dagsync: no-op {noop:.1f}x (paired "
            f"{_paired(results, 'ansible-noop', 'dagsync-plan-noop')}), change {change:.1f}x "
            f"(paired {_paired(results, 'ansible-change', 'dagsync-apply-change')}); "
            f"Ansible / floor: no-op {med['ansible-noop'] / med['floor-plan-noop']:.1f}x",
        ]
    if n >= 100:
        ok = med["dagsync-plan-noop"] < 2.0
        lines.append(
            f"- no-op plan for {n} hosts: {med['dagsync-plan-noop']:.3f} s "
            f"(target < 2 s at 100 hosts: {_verdict(ok)})"
        )
    lines.append(
        f"- imports: python {med['python-startup']:.3f} s, paramiko {med['import-paramiko']:.3f} s, "
        f"dagsync plan path {med['import-dagsync-plan']:.3f} s (all include interpreter start)"
    )
    return "\n".join(lines) + "\n"


def sweep_summary(per_size: dict[int, dict[str, float]]) -> str:
    """Per-host cost of each contestant across sizes; the flatness target of the no-op plan."""
    sizes = sorted(per_size)
    names = [k for k in per_size[sizes[0]] if k.startswith(("floor-", "dagsync-", "ansible-"))]
    lines = [
        "## per-host cost (ms) across sizes",
        "",
        "| what | " + " | ".join(str(n) for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name in names:
        cells = " | ".join(f"{1000 * per_size[n][name] / n:.1f}" for n in sizes)
        lines.append(f"| {name} | {cells} |")
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        growth = (per_size[last]["dagsync-plan-noop"] / last) / (
            per_size[first]["dagsync-plan-noop"] / first
        )
        lines += [
            "",
            f"- no-op plan per-host cost at {last} / at {first} hosts: {growth:.2f} "
            f"(target <= 1.2: {_verdict(growth <= 1.2)})",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[20])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--no-ansible", action="store_true", help="Only dagsync and the floors (faster sweeps)."
    )
    args = parser.parse_args(argv)
    if reason := skip_reason():
        raise SystemExit(f"cannot run: {reason}")
    check_registered()
    apb_bin = None if args.no_ansible else ansible_playbook()
    base = HERE / "results" / time.strftime("converge-%Y%m%d-%H%M%S")
    reports, per_size = [], {}
    for n in args.hosts:
        state = base / f"{n}-hosts"
        state.mkdir(parents=True)
        log(f"state in {state}; bringing up {n} test hosts")
        lab = up(n, state_dir=state / "th", network=NETWORK)
        try:
            results = _measure(state, lab, apb_bin, args)
        finally:
            log("taking the test hosts down")
            down(lab.state_dir)
        reports.append(summarize(results, n))
        per_size[n] = _medians(results)
    report = "\n".join([*reports, sweep_summary(per_size)])
    (base / "summary.md").write_text(report)
    print(report)
    return 1 if "MISSED" in report else 0


def _ops_keys(state: Path) -> tuple[str, ...]:
    keys = []
    for name in OPS_KEYS:
        path = state / name
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"{name}@dagsync",
                "-f",
                str(path),
            ]
        )
        keys.append(" ".join(path.with_suffix(".pub").read_text().split()[:3]))
    return tuple(keys)


def _measure(
    state: Path, lab: TestHosts, apb_bin: Path | None, args: argparse.Namespace
) -> dict[str, list[list[float]]]:
    n = len(lab.hosts)
    keys = _ops_keys(state)
    repo = make_repo(state, lab, keys)
    folder = make_ansible(state, lab, keys)
    s = Setup(state, repo, lab, keys, folder)
    env = ansible_env(state, folder, n)
    apb = (
        [str(apb_bin), "-i", str(folder / "inventory.ini"), str(folder / "dagsync.yml")]
        if apb_bin
        else None
    )
    desired = state / "floor-state"  # the floor reads the desired state ("0"/"1") here

    def flip(flipped: bool) -> None:
        write_servers(repo, lab, keys, flipped=flipped)
        write_ansible_vars(folder, lab, keys, flipped=flipped)
        desired.write_text("1" if flipped else "0")

    sanity(s, apb, env, flip)
    spec = floor_spec(s, flip)
    state_box = {"flipped": False}

    def toggle() -> None:
        """Every change contestant makes a real change: it flips the desired state first."""
        state_box["flipped"] = not state_box["flipped"]
        flip(state_box["flipped"])

    def toggle_cold() -> None:
        """A real change: the new YAML is validated, not found in the validation cache."""
        from dagsync.validate.speed.cache import cache_path

        cache_path(repo).unlink(missing_ok=True)
        toggle()

    py = sys.executable
    floor = [py, str(FLOOR)]
    benches = [
        Bench("floor-plan-noop", [*floor, "plan", str(spec), f"@{desired}"], repeat=2),
        Bench(
            "dagsync-plan-noop",
            dagsync_argv("plan", "--repo", str(repo), "--detailed-exitcode", *ONLY),
            repeat=2,
        ),
        Bench("floor-apply-change", [*floor, "apply", str(spec), f"@{desired}"], prepare=toggle),
        Bench(
            "floor-safe-apply-change",
            [*floor, "apply", str(spec), f"@{desired}", "--safe"],
            prepare=toggle,
        ),
        Bench(
            "dagsync-apply-change",
            dagsync_argv("apply", "--repo", str(repo), "--yes", "--no-record", *ONLY),
            prepare=toggle_cold,
        ),
        Bench("python-startup", [py, "-c", "pass"], repeat=3),
        Bench("import-paramiko", [py, "-c", "import paramiko"], repeat=3),
        Bench(
            "import-dagsync-plan",
            [py, "-c", "import dagsync.cli, dagsync.reconcile.hosts.engine"],
            repeat=3,
        ),
    ]
    if apb is not None:
        benches[2:2] = [
            Bench("ansible-noop", apb, env),
            Bench("ansible-change", apb, env, prepare=toggle),
        ]
    results = rounds(benches, args.rounds, args.warmup)
    (state / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    sys.exit(main())
