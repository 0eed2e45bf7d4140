#!/usr/bin/env python3
"""The raw-SSH floor of a converge: the least any reconciler must do, written plainly.

    python bench/floor.py plan SPEC.json STATE
    python bench/floor.py apply SPEC.json STATE [--safe]

STATE is "0" or "1" (the desired state), or "@FILE" naming a file that holds it.

`plan`: connect to every host in parallel (paramiko, strict host keys from a known_hosts
file, TCP_NODELAY), run the same reads as `dagsync plan --only firewall,accounts` in ONE
command per host, hash the answer and compare it with the answer recorded for desired state
STATE ("0" or "1").  Exit 0 when every host matches, 2 when one differs (as
`--detailed-exitcode`), 1 on an error.

`apply`: the same read and comparison, then, on a host that differs, upload desired STATE's
ruleset, `nft -c -f` it and load it, in the same command.  `--safe` also buys what dagsync's
apply buys: before loading, the live table is snapshotted and a detached rollback timer armed;
after loading, a FRESH connection must succeed and disarm it.  The cost of that safety is then
measured, not assumed.

SPEC.json (written by bench/converge.py): {"key": path, "known_hosts": path, "read": command,
"hosts": [{"name", "address", "port"}], "expected": {"0": {name: sha256}, "1": {...}},
"rulesets": {"0": {name: text}, "1": {...}}}.  Only paramiko is imported: the floor pays
for the interpreter, paramiko and the network, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import paramiko

NFT_FILE = "/etc/nftables.d/dagsync.nft"
STATE_DIR = "/var/lib/dagsync-floor"
TIMER_SECONDS = 60


def connect(spec: dict[str, Any], host: dict[str, Any]) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(spec["known_hosts"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    sock = socket.create_connection((host["address"], host["port"]), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect(
        host["name"],
        port=host["port"],
        username="root",
        key_filename=spec["key"],
        sock=sock,
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    return client


def run(client: paramiko.SSHClient, command: str, stdin: bytes = b"") -> tuple[int, bytes]:
    channel = client.get_transport().open_session()  # type: ignore[union-attr]
    channel.set_combine_stderr(True)
    channel.exec_command(command)
    if stdin:
        channel.sendall(stdin)
    channel.shutdown_write()
    out = bytearray()
    while chunk := channel.recv(65536):
        out += chunk
    return channel.recv_exit_status(), bytes(out)


def load_command(safe: bool) -> str:
    """Upload (stdin), check, then load; with `safe`, snapshot and arm a rollback timer first."""
    steps = [
        f"mkdir -p {STATE_DIR} /etc/nftables.d",
        f"cat > {NFT_FILE}.tmp",
        f"nft -c -f {NFT_FILE}.tmp",
    ]
    if safe:
        steps += [
            "{ echo 'table inet dagsync'; echo 'delete table inet dagsync'; "
            f"nft list table inet dagsync; }} > {STATE_DIR}/rollback.nft",
            f"setsid sh -c 'sleep {TIMER_SECONDS}; nft -f {STATE_DIR}/rollback.nft' "
            f"</dev/null >/dev/null 2>&1 & echo $! > {STATE_DIR}/timer.pid",
        ]
    steps += [f"nft -f {NFT_FILE}.tmp", f"mv -f {NFT_FILE}.tmp {NFT_FILE}"]
    return "set -e\n" + "\n".join(steps)


DISARM = f'kill -s TERM -- -"$(cat {STATE_DIR}/timer.pid)" && rm -f {STATE_DIR}/timer.pid'


def converge(spec: dict[str, Any], host: dict[str, Any], state: str, mode: str) -> str:
    client = connect(spec, host)
    try:
        code, out = run(client, spec["read"])
        if code != 0:
            raise RuntimeError(f"{host['name']}: the read exited {code}")
        if hashlib.sha256(out).hexdigest() == spec["expected"][state][host["name"]]:
            return "unchanged"
        if mode == "plan":
            return "changes"
        ruleset = spec["rulesets"][state][host["name"]].encode()
        code, out = run(client, load_command(mode == "safe"), ruleset)
        if code != 0:
            raise RuntimeError(f"{host['name']}: the load exited {code}: {out[-500:]!r}")
        if mode == "safe":  # a fresh connection proves access, then disarms the timer
            fresh = connect(spec, host)
            try:
                code, _ = run(fresh, DISARM)
            finally:
                fresh.close()
            if code != 0:
                raise RuntimeError(f"{host['name']}: could not disarm the rollback timer")
        return "applied"
    finally:
        client.close()


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[2].startswith("@"):
        argv = [argv[0], argv[1], Path(argv[2][1:]).read_text().strip(), *argv[3:]]
    if len(argv) < 3 or argv[0] not in ("plan", "apply") or argv[2] not in ("0", "1"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 1
    spec = json.loads(Path(argv[1]).read_text())
    mode = "plan" if argv[0] == "plan" else ("safe" if "--safe" in argv[3:] else "apply")
    hosts = spec["hosts"]
    with ThreadPoolExecutor(len(hosts)) as pool:
        results = list(pool.map(lambda h: converge(spec, h, argv[2], mode), hosts))
    counts = {r: results.count(r) for r in sorted(set(results))}
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 2 if mode == "plan" and "changes" in counts else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
