"""Benchmark: CrowdSec propagation on test hosts (CGV Art. 4, « répercuté immédiatement »).

    sudo python3 bench/security.py [--servers 20] [--runs 3]

One client with N servers sharing blocks network-wide, one opted-out client with one server,
DAG's security host and attackers, configured by dagsync (`dagsync.sandbox.security_lab`).
Per run, in the same run:

- attack: an attacker makes failed SSH logins (unknown users) against server 1, one at a time,
  until one gets no answer; then time from the start of the last answered attempt (the
  attack's last packet comes later: an upper bound) to the drop of the attacker's packets on
  the last of the N servers.  It also
  prints when the decision appeared in the local API (what detection and the agent's alert
  push cost) and when the first server dropped;
- push: `dagsync block`'s push (`cscli decisions add` on the security host for the client's
  scope) of a fresh address, timed from the start of the push to the drop on the last server.

A drop is seen by a TCP connect from the attacker to a closed port of each server (port 9):
a reset means not dropped, no answer within 0.25 s means dropped (so the probes never reach
sshd's logs).  Targets: attack <= 10 s, push <= 5 s, on every run, and never a drop on the
opted-out client's server.  Exit code 0 only when every target holds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from ipaddress import ip_network
from pathlib import Path

from dagsync.reconcile.security import crowdsec, push
from dagsync.sandbox.security_lab import ClientSpec, Lab, run_step, security_lab, tools_missing

MAIN = Path(__file__).resolve().parents[1]
ATTACK_TARGET = 10.0
PUSH_TARGET = 5.0
CLOSED_PORT = 9

# Runs inside the attacker's network namespace: waits for "go" on stdin (watch mode) or
# attacks (attack mode) while probing every server; prints one JSON object.
_HELPER = r"""
import json, select, socket, subprocess, sys, threading, time
mode, target, servers, deadline = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4])
drops, done = {}, threading.Event()
def probe_all():
    while not done.is_set() and len(drops) < len(servers):
        start, socks = time.time(), {}
        for a in servers:
            if a in drops: continue
            s = socket.socket(); s.setblocking(False); s.connect_ex((a, 9)); socks[s] = a
        pending = dict(socks)
        end = time.monotonic() + 0.25
        while pending and time.monotonic() < end:
            _, w, _ = select.select([], list(pending), [], max(0, end - time.monotonic()))
            for s in w: pending.pop(s)
        for s, a in pending.items(): drops[a] = start
        for s in socks: s.close()
        time.sleep(0.02)
    done.set()
last = took = None
if mode == "watch":
    print("ready", flush=True); sys.stdin.readline()
t = threading.Thread(target=probe_all); t.start()
if mode == "attack":
    opts = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", "/dev/null", "-F", "/dev/null"]
    for i in range(40):
        begun = time.time()
        p = subprocess.run(["timeout", "3", "ssh", *opts, "-l", f"probe{i}", target, "true"],
                           capture_output=True, text=True)
        if "Permission denied" not in p.stderr: break
        last, took = begun, time.time() - begun
t.join(deadline); done.set(); t.join()
print(json.dumps({"last": last, "took": took, "drops": drops}))
"""


def _helper(
    lab: Lab, attacker: str, mode: str, target: str, servers: list[str]
) -> subprocess.Popen[str]:
    ns = f"--net=/run/netns/{lab.host(attacker).namespace}"
    argv = ["nsenter", ns, "--", sys.executable, "-S", "-c", _HELPER, mode, target]
    argv += [json.dumps(servers), "60"]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _lapi_watch(lab: Lab, address: str, seen: dict[str, float], stop: threading.Event) -> None:
    scope = lab.scope_of("s1")
    member = lab.member("s1")
    url = crowdsec.lapi_url(lab.security.address, scope) + f"v1/decisions?ip={address}"
    key = lab.secrets.bouncer_key(scope.key, member.name)
    request = urllib.request.Request(url, headers={"X-Api-Key": key})
    while not stop.is_set():
        with urllib.request.urlopen(request, timeout=2) as answer:
            if json.loads(answer.read() or b"null"):
                seen["lapi"] = time.time()
                return
        time.sleep(0.05)


def attack_run(lab: Lab, attacker: str, servers: list[str], bystander: str) -> dict[str, float]:
    addresses = [lab.host(s).address for s in servers]
    seen: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(
        target=_lapi_watch, args=(lab, lab.host(attacker).address, seen, stop)
    )
    watcher.start()
    proc = _helper(lab, attacker, "attack", addresses[0], [*addresses, lab.host(bystander).address])
    out, _ = proc.communicate(timeout=120)
    stop.set()
    watcher.join()
    result = json.loads(out)
    drops: dict[str, float] = result["drops"]
    last = result["last"]
    bystander_dropped = lab.host(bystander).address in drops
    dropped = [drops[a] for a in addresses if a in drops]
    return {
        "lapi": seen.get("lapi", float("nan")) - last,
        "first": min(dropped) - last if dropped else float("nan"),
        "last": max(dropped) - last if len(dropped) == len(addresses) else float("inf"),
        "bystander_dropped": float(bystander_dropped),
        "attempt": result["took"],
    }


def push_run(lab: Lab, attacker: str, servers: list[str], bystander: str) -> dict[str, float]:
    addresses = [lab.host(s).address for s in servers]
    proc = _helper(lab, attacker, "watch", "-", [*addresses, lab.host(bystander).address])
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()  # ready
    network = ip_network(lab.host(attacker).address)
    steps = push.block_steps(lab.model.scopes, "alpha", network, "bench push")
    proc.stdin.write("go\n")
    proc.stdin.flush()
    start = time.time()
    for step in steps:
        run_step(lab.security, step)
    pushed = time.time() - start
    out, _ = proc.communicate(timeout=120)
    drops = json.loads(out)["drops"]
    dropped = [drops[a] for a in addresses if a in drops]
    return {
        "push": pushed,
        "first": min(dropped) - start if dropped else float("nan"),
        "last": max(dropped) - start if len(dropped) == len(addresses) else float("inf"),
        "bystander_dropped": float(lab.host(bystander).address in drops),
    }


def _line(name: str, runs: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in runs]
    return f"  {name:<46} median {statistics.median(values):6.2f} s   max {max(values):6.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if reason := tools_missing():
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    servers = [f"s{i}" for i in range(1, args.servers + 1)]
    specs = [ClientSpec("alpha", tuple(servers)), ClientSpec("omega", ("o1",), propagation=False)]
    attackers = [f"xa{r}" for r in range(args.runs)] + [f"xb{r}" for r in range(args.runs)]
    with (
        tempfile.TemporaryDirectory(prefix="dagsync-bench-sec-") as tmp,
        security_lab(Path(tmp), MAIN, specs, attackers) as lab,
    ):
        t0 = time.monotonic()
        lab.apply()
        lab.ready()
        print(
            f"{args.servers} servers + 1 opted out, configured and ready in "
            f"{time.monotonic() - t0:.1f} s (bouncer poll {crowdsec.BOUNCER_POLL})"
        )
        attacks = [attack_run(lab, f"xa{r}", servers, "o1") for r in range(args.runs)]
        pushes = [push_run(lab, f"xb{r}", servers, "o1") for r in range(args.runs)]
    print(
        f"attack on s1 -> drop on all {args.servers} servers ({args.runs} runs), from the start "
        "of the last login attempt s1 answered (its last packet comes up to one attempt later, "
        "so these are upper bounds; negative: the decision came from an earlier attempt and "
        "s1's bouncer had not polled yet):"
    )
    print(_line("one login attempt (its duration)", attacks, "attempt"))
    print(_line("decision in the local API (detection + push)", attacks, "lapi"))
    print(_line("first server drops", attacks, "first"))
    print(_line(f"last server drops (target <= {ATTACK_TARGET:.0f} s)", attacks, "last"))
    print(f"`dagsync block` push -> drop on all {args.servers} servers:")
    print(_line("cscli decisions add on the security host", pushes, "push"))
    print(_line("first server drops", pushes, "first"))
    print(_line(f"last server drops (target <= {PUSH_TARGET:.0f} s)", pushes, "last"))
    leaked = sum(r["bystander_dropped"] for r in attacks + pushes)
    print(f"opted-out client's server dropped the attacker: {int(leaked)} time(s) (target 0)")
    ok = (
        max(r["last"] for r in attacks) <= ATTACK_TARGET
        and max(r["last"] for r in pushes) <= PUSH_TARGET
        and leaked == 0
    )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
