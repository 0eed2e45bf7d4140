"""On test hosts: a host that hangs mid-apply cannot hold `dagsync apply` past its deadline;
what was done is recorded, the hung target is recorded `interrupted`, the next apply converges.

Run under the shared lock: `flock /tmp/dagsync-hosts.lock python3 -m pytest ...`.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagsync.gitops.notes import read_applies
from test_reconcile_hosts import World, converged, do_plan, edited, save, world  # noqa: F401

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-reconcile")]

IDENTITY = {
    "GIT_AUTHOR_NAME": "Jean Dupont",
    "GIT_AUTHOR_EMAIL": "jean.dupont@dag.example",
    "GIT_COMMITTER_NAME": "Jean Dupont",
    "GIT_COMMITTER_EMAIL": "jean.dupont@dag.example",
}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _apply(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "dagsync", "apply", "--yes", "--any-commit"),
            *("--repo", str(root), "--only", "firewall,accounts,root-access"),
            *("--connect-timeout", "3", *extra),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_hung_host_is_recorded_interrupted_and_the_next_apply_converges(
    converged: World,  # noqa: F811
) -> None:
    w = converged
    if not (w.root / ".git").exists():
        (w.root / ".gitignore").write_text(".dagsync-sandbox/\n.dagsync-cache/\n")
        _git(w.root, "init", "-q", "-b", "main")
        _git(w.root, "add", "-A")
        _git(w.root, "commit", "-q", "-m", "the test hosts' configuration")
    web2 = w.host("web2")
    with (
        edited(w, w.servers_dir / "web1.yaml") as one,
        edited(w, w.servers_dir / "web2.yaml") as two,
    ):
        one["firewall"]["open_ports"][1]["port"] = 8080
        save(w.servers_dir / "web1.yaml", one)
        extra = copy.deepcopy(two["accounts"][0])
        extra["name"] = "hung"
        two["accounts"].append(extra)
        save(w.servers_dir / "web2.yaml", two)
        _git(w.root, "commit", "-q", "-am", "web1 opens 8080; web2 gets an account")
        # useradd reads /etc/login.defs: as a FIFO with no writer, it blocks for ever.
        web2.run("mv /etc/login.defs /etc/login.defs.saved && mkfifo /etc/login.defs", check=True)
        started = time.monotonic()
        try:
            stopped = _apply(w.root, "--deadline", "20")
        finally:
            web2.run(
                "timeout 2 sh -c 'cat /etc/login.defs.saved > /etc/login.defs'; "
                "rm -f /etc/login.defs && mv /etc/login.defs.saved /etc/login.defs",
                check=False,
            )
        assert time.monotonic() - started < 90
        assert stopped.returncode == 124, stopped.stdout + stopped.stderr
        assert "apply stopped by the deadline of 20 s:" in stopped.stderr
        assert "NOT finished: velo-savoie/web2" in stopped.stderr
        done = next(line for line in stopped.stderr.splitlines() if "done (" in line)
        assert "velo-savoie/web1" in done and "velo-savoie/db1" in done
        (record,) = read_applies(w.root, "HEAD")
        results = {s["server"]: s["result"] for s in record["servers"]}
        assert results["web1"] == "ok" and results["web2"] == "interrupted"
        assert results["db1"] in ("ok", "unchanged")  # finished: not interrupted

        converging = _apply(w.root)
        assert converging.returncode == 0, converging.stdout + converging.stderr
        records = read_applies(w.root, "HEAD")
        assert len(records) == 2
        again = {s["server"]: s["result"] for s in records[-1]["servers"]}
        assert again["web2"] == "ok"
        assert do_plan(w) == 0
        assert "hung" in web2.run("getent passwd hung", check=False).stdout
    assert _apply(w.root).returncode == 0  # back to the configuration of the other tests


def test_ctrl_c_on_a_hung_host_says_what_was_done_and_records_it(
    converged: World,  # noqa: F811
) -> None:
    w = converged
    if not (w.root / ".git").exists():
        (w.root / ".gitignore").write_text(".dagsync-sandbox/\n.dagsync-cache/\n")
        _git(w.root, "init", "-q", "-b", "main")
        _git(w.root, "add", "-A")
        _git(w.root, "commit", "-q", "-m", "the test hosts' configuration")
    web2 = w.host("web2")
    with edited(w, w.servers_dir / "web2.yaml") as two:
        extra = copy.deepcopy(two["accounts"][0])
        extra["name"] = "stuck"
        two["accounts"].append(extra)
        save(w.servers_dir / "web2.yaml", two)
        _git(w.root, "commit", "-q", "-am", "web2 gets an account")
        web2.run("mv /etc/login.defs /etc/login.defs.saved && mkfifo /etc/login.defs", check=True)
        try:
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "dagsync", "apply", "--yes", "--any-commit"),
                    *("--repo", str(w.root), "--only", "firewall,accounts,root-access"),
                    *("--connect-timeout", "3"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(12)  # web1 and db1 are done, web2 waits in useradd
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            web2.run(
                "timeout 2 sh -c 'cat /etc/login.defs.saved > /etc/login.defs'; "
                "rm -f /etc/login.defs && mv /etc/login.defs.saved /etc/login.defs",
                check=False,
            )
        assert proc.returncode == 130, out + err
        assert "apply stopped by SIGINT:" in err
        assert "NOT finished: velo-savoie/web2" in err
        records = read_applies(w.root, "HEAD")
        assert len(records) == 1  # on the new commit
        assert {s["server"]: s["result"] for s in records[-1]["servers"]}["web2"] == "interrupted"
        assert _apply(w.root).returncode == 0
        assert do_plan(w) == 0
    assert _apply(w.root).returncode == 0
