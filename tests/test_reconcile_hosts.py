"""End to end on real test hosts: velo-savoie's three servers on three network-namespace hosts,
plus an outsider host whose address velo-savoie blocks.  Proved from outside with real TCP
connects; nothing here mocks SSH, nftables or useradd."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from conftest import read_yaml, write_yaml
from dagsync.commands.block import add_block
from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.errors import DagsyncError
from dagsync.reconcile import lock
from dagsync.reconcile.hosts.engine import apply
from dagsync.reconcile.lock import ApplyLocked
from dagsync.reconcile.report import HostStatus
from dagsync.reconcile.resource import ApplyOptions
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    load_overrides,
    overrides_path,
)
from dagsync.reconcile.transport.session import HostSession, Timeouts
from dagsync.reconcile.transport.ssh import credentials
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.testing.hosts.probes import probe_from, tcp_probe
from dagsync.validate.repository import load_repository

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-reconcile")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("rc")
RUNNER = f"{NET.prefix}.1"
NAMES = ("web1", "web2", "db1", "outsider")
SERVERS = ("web1", "web2", "db1")
PORTS = (80, 443, 3306, 8080)
HOST_KINDS = ("firewall", "accounts", "root-access")  # vhosts: tests/test_appstack_hosts.py
SHORT = 0.3  # seconds a probe waits: a dropped SYN is a timeout
HOSTILE = "x$(touch /tmp/pwned1);`touch /tmp/pwned2` 'q' \"d\" \\ | & > /tmp/pwned3 < *"

_LISTENER = """
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in sys.argv[2:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port)))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        conn.close()
"""


@dataclass
class World:
    lab: TestHosts
    root: Path  # the configuration repository
    keys: dict[str, Path]  # account name -> private key
    root_ruleset_before: str

    def host(self, name: str) -> TestHost:
        return self.lab[name]

    @property
    def servers_dir(self) -> Path:
        return self.root / "clients/velo-savoie/servers"


# --- building the repository ---------------------------------------------------------------


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
    )
    return path.with_suffix(".pub").read_text().strip()


def _make_repo(root: Path, lab: TestHosts, pub: dict[str, str]) -> None:
    for folder in ("policies", "schemas"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(REPO / "clients/velo-savoie", root / "clients/velo-savoie")
    dag = root / "policies/dag.yaml"
    dag.write_text(
        dag.read_text().replace("management_ranges:\n", f"management_ranges:\n  - {RUNNER}/32\n")
    )
    servers = root / "clients/velo-savoie/servers"
    for name in SERVERS:
        data = read_yaml(servers / f"{name}.yaml")
        for account in data.get("accounts", []):
            account["keys"] = [pub[account["name"]]]
        if name == "web2":
            sftp = {
                "name": "upload",
                "kind": "sftp",
                "owner": "Vélo Savoie IT",
                "keys": [pub["upload"]],
            }
            data["accounts"].append(sftp)
        if name == "db1":
            web = [f"{lab[w].address}/32" for w in ("web1", "web2")]
            data["firewall"]["open_ports"][0]["sources"] = web
        write_yaml(servers / f"{name}.yaml", data)
    add_block(root, "velo-savoie", lab["outsider"].address, "test: the outsider host is blocked")
    overrides = {
        "version": 1,
        "hosts": {
            f"velo-savoie/{n}": {
                "address": lab[n].address,
                "port": 22,
                "host_key": lab[n].host_key_public,
            }
            for n in SERVERS
        },
        "ssh_key": str(lab.client_key),
    }
    (root / ".dagsync-sandbox").mkdir()
    (root / ".dagsync-sandbox/hosts.json").write_text(json.dumps(overrides, indent=1))


def _listen(lab: TestHosts) -> list[subprocess.Popen[str]]:
    procs = []
    for name in SERVERS:
        host = lab[name]
        argv = [
            "ip",
            "netns",
            "exec",
            host.namespace,
            sys.executable,
            "-c",
            _LISTENER,
            host.address,
        ]
        proc = subprocess.Popen([*argv, *map(str, PORTS)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        procs.append(proc)
    return procs


def _root_ruleset() -> str:
    return subprocess.run(
        ["nft", "list", "ruleset"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := skip_reason():
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("reconcile")
    before = _root_ruleset()
    with pytest.MonkeyPatch.context() as mp:
        for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV):
            mp.delenv(var, raising=False)
        mp.setenv(SANDBOX_ENV, "1")  # the test hosts' override file is read only then
        with testhosts(names=NAMES, state_dir=base / "th", network=NET) as lab:
            keys_dir = base / "keys"
            keys_dir.mkdir()
            pub = {
                n: _keygen(keys_dir / n, f"{n}@velo-savoie") for n in ("deploy", "dba", "upload")
            }
            _make_repo(base / "repo", lab, pub)
            listeners = _listen(lab)
            try:
                yield World(lab, base / "repo", {n: keys_dir / n for n in pub}, before)
            finally:
                for proc in listeners:
                    proc.kill()
                    proc.wait()


def scope(w: World, **changes: Any) -> Scope:
    # These tests are about the host resources; backups, mail and vhosts have their own host
    # tests (nginx would need the ports 80 and 443 that this module's listeners hold).
    return Scope(w.root, **{"connect_timeout": 3.0, "kinds": HOST_KINDS, **changes})


def do_apply(w: World, **changes: Any) -> int:
    return run_apply(scope(w, **changes), yes=True, record=False)


def do_plan(w: World, fmt: str = "text", **changes: Any) -> int:
    return run_plan(scope(w, **changes), fmt, detailed_exitcode=True)


@pytest.fixture
def converged(world: World, capsys: pytest.CaptureFixture[str]) -> World:
    assert do_apply(world) == 0, capsys.readouterr()
    capsys.readouterr()
    return world


@contextmanager
def edited(w: World, path: Path) -> Iterator[Any]:
    """Edit a YAML file as data; it is restored (and re-applied) afterwards."""
    original = path.read_text()
    data = read_yaml(path)
    try:
        yield data
    finally:
        path.write_text(original)
        assert do_apply(w) == 0


def save(path: Path, data: Any) -> None:
    write_yaml(path, data)


def ssh_as(
    w: World, user: str, host: str, key: Path, command: str = "true"
) -> subprocess.CompletedProcess[str]:
    argv = [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={w.lab.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ConnectTimeout=3",
        "-l",
        user,
        w.host(host).address,
        command,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=20)


# --- the firewall, proved from outside ----------------------------------------------------


def test_declared_ports_answer_and_undeclared_ones_are_dropped(converged: World) -> None:
    w = converged
    web1, db1 = w.host("web1").address, w.host("db1").address
    assert tcp_probe(web1, 443, SHORT) == "open"
    assert tcp_probe(web1, 80, SHORT) == "open"
    assert tcp_probe(web1, 8080, SHORT) == "timeout"  # something listens, nothing declared
    assert tcp_probe(db1, 3306, SHORT) == "timeout"  # the runner is not a declared source
    assert probe_from(w.host("web1"), db1, 3306, SHORT) == "open"  # web1 is one
    assert tcp_probe(db1, 22, 2.0) == "open"  # management range
    assert probe_from(w.host("web2"), db1, 22, SHORT) == "timeout"  # not a management address


def test_a_blocked_address_cannot_connect_to_any_server_of_the_client(converged: World) -> None:
    w = converged
    outsider, web2 = w.host("outsider"), w.host("web2")
    for name in ("web1", "db1"):
        port = 443 if name == "web1" else 22
        assert probe_from(outsider, w.host(name).address, port, SHORT) == "timeout"
    assert probe_from(web2, w.host("web1").address, 443, SHORT) == "open"


def test_other_hosts_and_the_machine_itself_are_untouched(converged: World) -> None:
    assert _root_ruleset() == converged.root_ruleset_before
    assert converged.host("outsider").run("nft list ruleset", check=True).stdout == ""
    table = converged.host("web1").run("nft list tables", check=True).stdout
    assert table.split() == ["table", "inet", "dagsync"]


def test_a_second_apply_changes_nothing_and_says_so(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert do_apply(converged) == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert do_plan(converged) == 0
    assert "No changes: 3 server(s)" in capsys.readouterr().out


def test_manual_drift_shows_in_plan_and_apply_repairs_it(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    w.host("web2").run("nft add rule inet dagsync input tcp dport 8080 accept", check=True)
    assert tcp_probe(w.host("web2").address, 8080, SHORT) == "open"
    assert do_plan(w) == 2
    out = capsys.readouterr().out
    assert f"velo-savoie/web2 ({NET.address(2)}, production): 1 to change" in out
    assert "      - tcp dport 8080 accept" in out
    assert f"velo-savoie/web1 ({NET.address(1)}, production): no changes" in out
    assert do_apply(w) == 0
    assert tcp_probe(w.host("web2").address, 8080, SHORT) == "timeout"
    assert do_plan(w) == 0


def test_plan_markdown_for_a_pr_comment(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    with edited(converged, converged.servers_dir / "web1.yaml") as data:
        data["firewall"]["open_ports"].append(
            {
                "protocol": "tcp",
                "port": 8080,
                "service": "http-alt",
                "sources": ["192.0.2.128/27"],
                "justification": "The Chambéry office previews the staging shop from its own network.",
            }
        )
        save(converged.servers_dir / "web1.yaml", data)
        assert do_plan(converged, "markdown") == 2
        out = capsys.readouterr().out
        assert out.startswith("### dagsync plan\n\nPlan: 0 to add, 1 to change")
        assert f"| `velo-savoie/web1` (prod) | {NET.address(1)} | 0 | 1 | 0 | 0 | changes |" in out
        assert '\n+     ip saddr 192.0.2.128/27 tcp dport 8080 accept comment "http-alt"\n' in out


# --- failures ------------------------------------------------------------------------------


def test_failing_hosts_do_not_stop_the_others(
    converged: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    w = converged
    overrides = json.loads((w.root / ".dagsync-sandbox/hosts.json").read_text())
    overrides["hosts"]["velo-savoie/web2"]["host_key"] = w.host("web1").host_key_public  # wrong key
    overrides["hosts"]["velo-savoie/db1"]["port"] = 2222  # nothing listens there
    bad = tmp_path / "hosts.json"
    bad.write_text(json.dumps(overrides))
    monkeypatch.setenv(HOSTS_FILE_ENV, str(bad))
    with edited(w, w.servers_dir / "web1.yaml") as data:
        data["firewall"]["open_ports"][0]["port"] = 8080  # web1: 443 -> 8080
        save(w.servers_dir / "web1.yaml", data)
        assert do_apply(w, connect_timeout=1.0) == 1
        out = capsys.readouterr().out
        assert "velo-savoie/web1  applied" in out
        assert "velo-savoie/web2  FAILED" in out and "not the pinned" in out
        assert (
            "velo-savoie/db1   FAILED" in out and f"cannot connect to {NET.address(3)}:2222" in out
        )
        assert tcp_probe(w.host("web1").address, 8080, SHORT) == "open"
        monkeypatch.delenv(HOSTS_FILE_ENV)


def test_a_wrong_host_key_is_refused_before_anything_is_read(
    converged: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    w = converged
    overrides = json.loads((w.root / ".dagsync-sandbox/hosts.json").read_text())
    overrides["hosts"]["velo-savoie/db1"]["host_key"] = w.host("web2").host_key_public
    bad = tmp_path / "hosts.json"
    bad.write_text(json.dumps(overrides))
    monkeypatch.setenv(HOSTS_FILE_ENV, str(bad))
    assert do_plan(w) == 1
    out = capsys.readouterr().out
    assert f"velo-savoie/db1 ({NET.address(3)}, production): ERROR" in out
    assert "presented host key ssh-ed25519 SHA256:" in out and "refusing to connect" in out
    assert f"velo-savoie/web1 ({NET.address(1)}, production): no changes" in out


def test_a_lock_out_ruleset_forced_past_the_validator_is_rolled_back(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    repo = load_repository(w.root)
    # The runner (RUNNER, the bridge) is not in these ranges: its SSH would be cut.
    lockout = replace(
        repo,
        settings=repo.settings.model_copy(
            update={"management_ranges": [ip_network("192.0.2.0/28")]}
        ),
    )
    options = RunOptions(
        timeouts=Timeouts(connect=3.0),
        apply=ApplyOptions(confirm_timeout=2.0, fresh_connect_timeout=1.0),
        holder="test",
        kinds=frozenset(HOST_KINDS),
    )
    overrides = load_overrides(overrides_path(w.root))
    report = apply(
        lockout, Selection(("velo-savoie",), ("web1",)), overrides, options, lambda _: True
    )
    [result] = report.results
    assert result.status is HostStatus.ROLLED_BACK, result
    assert "restored its previous ruleset" in result.outcomes[0].message
    assert not report.ok
    assert tcp_probe(w.host("web1").address, 22, 2.0) == "open"
    assert do_plan(w) == 0  # the previous, correct ruleset is back, file included
    capsys.readouterr()


def test_a_second_concurrent_apply_is_refused_naming_the_holder(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    session = open_session(w, "web1")
    holder = json.dumps(
        {
            "by": "alice@ops-laptop",
            "pid": 4242,
            "since": "2026-11-29T10:00:00+00:00",
            "command": "dagsync apply --client velo-savoie",
        }
    )
    session.lock(holder)
    try:
        with pytest.raises(ApplyLocked) as refused:
            do_apply(w)
        assert refused.value.exit_code == 2
        assert str(refused.value).startswith(
            "another apply holds 1 of the 3 host(s) of this run (velo-savoie/web1 is locked by "
            "another apply: alice@ops-laptop (pid 4242"
        )
        assert str(refused.value).endswith(
            "every lock this run took was released and nothing was changed"
        )
        assert "Plan:" not in capsys.readouterr().out  # refused before any plan
    finally:
        session.close()
    assert do_apply(w) == 0


_CLI_APPLY = (
    "import sys\nfrom dagsync.cli import main\n"
    "sys.exit(main(['apply', '--repo', sys.argv[1], '--yes', '--any-commit', '--no-record',"
    " '--only', 'firewall,accounts,root-access']))\n"
)


def _apply_together(w: World, lock_dirs: tuple[Path, Path]) -> list[tuple[int, str]]:
    """Two `dagsync apply` processes started at the same moment (each with its run-lock
    folder: one folder is one machine); their exit codes and error output."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLI_APPLY, str(w.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "DAGSYNC_LOCK_DIR": str(folder)},
        )
        for folder in lock_dirs
    ]
    return [(proc.wait(120), proc.communicate()[1]) for proc in procs]


def test_two_applies_started_together_one_applies_the_other_exits_2_having_changed_nothing(
    converged: World, tmp_path: Path
) -> None:
    w = converged
    with edited(w, w.servers_dir / "web1.yaml") as data:
        data["firewall"]["open_ports"][1]["port"] = 8080  # web1: 80 -> 8080
        save(w.servers_dir / "web1.yaml", data)
        same_machine = (tmp_path / "locks", tmp_path / "locks")
        results = _apply_together(w, same_machine)
        assert sorted(code for code, _ in results) == [0, 2], results
        loser = next(err for code, err in results if code == 2)
        assert "another apply of velo-savoie is running on this machine" in loser
        assert "nothing was changed" in loser
        assert tcp_probe(w.host("web1").address, 8080, SHORT) == "open"
        assert do_plan(w) == 0  # the winner applied everything


def test_two_applies_from_two_machines_never_split_the_hosts(
    converged: World, tmp_path: Path
) -> None:
    """No shared run lock (two machines): the host locks are all or none, so each run either
    applies everything or exits 2 having changed nothing (both may lose; never a split)."""
    w = converged
    with edited(w, w.servers_dir / "web2.yaml") as data:
        data["firewall"]["open_ports"][1]["port"] = 8080
        save(w.servers_dir / "web2.yaml", data)
        results = _apply_together(w, (tmp_path / "machine-a", tmp_path / "machine-b"))
        codes = sorted(code for code, _ in results)
        assert codes in ([0, 2], [2, 2]), results
        for code, err in results:
            if code == 2:
                assert "nothing was changed" in err and "another apply holds" in err, err
        opened = tcp_probe(w.host("web2").address, 8080, SHORT) == "open"
        assert opened == (codes == [0, 2])  # applied by the winner, or by nobody
        assert do_apply(w) == 0 and do_plan(w) == 0


def test_a_dead_runners_host_lock_is_released_at_once_not_after_the_ttl(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runner died while the host was unreachable: sshd never saw its connection drop,
    so its `timeout 900 cat` holds the lock on. The next apply sees that the holder's process
    is gone, ends that lock and goes on."""
    w = converged
    web1 = w.host("web1")
    dead = subprocess.run(
        [sys.executable, "-c", "from dagsync.reconcile import lock; print(lock.holder_info())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    pidfile = "/root/orphan-stdin.pid"
    feeder = f"sh -c {shlex.quote(f'echo $$ > {pidfile}; exec sleep 600')}"
    holder = f"sh -c {shlex.quote(lock.acquire_command(dead, 900))}"
    log = "/root/orphan.log"
    # The previous test's apply may still hold the lock for a moment (its session's `cat`
    # ends when sshd sees the connection close, later on a loaded machine): wait for it.
    web1.run(f"mkdir -p {lock.LOCK_DIR}; flock -w 30 {lock.LOCK_FILE} true", check=True)
    orphan = f"setsid sh -c {shlex.quote(f'{feeder} | {holder}')} </dev/null >{log} 2>&1 &"
    web1.run(orphan, check=True)
    try:
        busy = f"flock -n {lock.LOCK_FILE} true; echo $?"
        deadline = time.monotonic() + 30  # a loaded 2-core machine starts it slowly
        while web1.run(busy).stdout.strip() != "1":
            seen = web1.run(f"cat {log}; ls -l {lock.LOCK_DIR} 2>&1").stdout
            assert time.monotonic() < deadline, f"the orphan lock was never taken:\n{seen}"
            time.sleep(0.1)
        started = time.monotonic()
        capsys.readouterr()
        assert do_apply(w) == 0
        assert time.monotonic() - started < 60  # not the 900 s TTL
        dead_pid = json.loads(dead)["pid"]
        assert (
            "velo-savoie/web1: released the lock of a run that is gone (its process "
            f"{dead_pid} on this machine has ended)"
        ) in capsys.readouterr().out
        assert web1.run(busy).stdout.strip() == "0"  # released after the apply, as usual
    finally:
        web1.run(f"kill $(cat {pidfile}) 2>/dev/null; rm -f {pidfile} {log}")


def open_session(w: World, name: str) -> HostSession:
    repo = load_repository(w.root, validate=False)
    overrides = load_overrides(overrides_path(w.root))
    from dagsync.reconcile.core import Target
    from dagsync.reconcile.transport.inventory import endpoint

    server = next(s for _, s in repo.servers() if s.name == name)
    where = endpoint(f"velo-savoie/{name}", server, overrides)
    return HostSession(Target("velo-savoie", name), where, credentials("root", overrides)).open()


def test_a_lock_left_by_a_killed_run_is_released(converged: World) -> None:
    # A separate process takes the lock and is killed with SIGKILL while holding it.
    script = (
        "import json, sys\n"
        "from dagsync.reconcile.core import Target\n"
        "from dagsync.reconcile.transport.inventory import Endpoint, Credentials\n"
        "from dagsync.reconcile.transport.session import HostSession\n"
        "from pathlib import Path\n"
        "e = Endpoint(sys.argv[1], 22, sys.argv[2], 'test')\n"
        "s = HostSession(Target('velo-savoie', 'web1'), e, Credentials('root', Path(sys.argv[3]))).open()\n"
        "s.lock('killed-run')\n"
        "print('locked', flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    web1 = converged.host("web1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            web1.address,
            web1.host_key_public,
            str(converged.lab.client_key),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    second = open_session(converged, "web1")
    try:
        with pytest.raises(Exception, match="killed-run"):
            second.lock("second")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while True:
            try:
                second.lock("second")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        second.close()


def test_a_lock_expires_after_its_time_to_live(converged: World) -> None:
    first = open_session(converged, "web1")
    second = open_session(converged, "web1")
    try:
        first.lock("stuck-run", ttl=1)
        with pytest.raises(Exception, match="stuck-run"):
            second.lock("second")
        time.sleep(1.5)
        second.lock("second")
    finally:
        second.close()
        first.close()


def test_a_saved_plan_is_applied_only_while_the_servers_still_match(
    converged: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    w = converged
    plan_file = tmp_path / "plan.json"
    web1 = w.host("web1")
    with edited(w, w.servers_dir / "web1.yaml") as data:
        data["firewall"]["open_ports"][1]["port"] = 8080  # web1: 80 -> 8080
        save(w.servers_dir / "web1.yaml", data)
        assert run_plan(scope(w), "json", detailed_exitcode=True, out=plan_file) == 2
        web1.run("nft add element inet dagsync blocked4 { 192.0.2.250 }", check=True)  # drift
        with pytest.raises(
            DagsyncError, match="web1: firewall changed since the plan was computed"
        ):
            run_apply(scope(w), yes=True, plan_file=plan_file, record=False)
        assert tcp_probe(web1.address, 8080, SHORT) == "timeout"  # nothing was applied
        assert run_plan(scope(w), "json", detailed_exitcode=True, out=plan_file) == 2
        assert run_apply(scope(w), yes=True, plan_file=plan_file, record=False) == 0
        assert tcp_probe(web1.address, 8080, SHORT) == "open"
        assert tcp_probe(web1.address, 80, SHORT) == "timeout"


def test_a_forged_plan_file_is_refused_and_none_of_its_commands_reaches_the_host(
    converged: World, tmp_path: Path
) -> None:
    """The reviewer's forged plan: a read that runs a script, a change whose payload adds a
    key to root's authorized_keys.  `apply --plan` recomputes the plan from the repository,
    finds that it differs, and refuses; the host never sees the file's commands."""
    w = converged
    plan_file = tmp_path / "plan.json"
    web1 = w.host("web1")
    marker = "/tmp/dagsync-forged-read"
    keys_before = web1.run("cat /root/.ssh/authorized_keys").stdout
    with edited(w, w.servers_dir / "web1.yaml") as data:
        data["firewall"]["open_ports"][1]["port"] = 8080  # a real change, so the plan applies
        save(w.servers_dir / "web1.yaml", data)
        assert run_plan(scope(w), "json", detailed_exitcode=True, out=plan_file) == 2
        plan = json.loads(plan_file.read_text())
        (target,) = [t for t in plan["targets"] if t["target"]["name"] == "web1"]
        target["reads"] = [
            {"kind": r["kind"], "command": f"touch {marker}; {r['command']}"}
            for r in target["reads"]
        ]
        evil = "echo ssh-ed25519 AAAAforged attacker >> /root/.ssh/authorized_keys"
        target["changes"].append(
            {
                "kind": "accounts",
                "action": "update",
                "resource": "user root",
                "summary": "update user root: + key",
                "details": [],
                "payload": {"name": "root", "script": evil},
            }
        )
        plan_file.write_text(json.dumps(plan))
        with pytest.raises(DagsyncError) as error:
            run_apply(scope(w), yes=True, plan_file=plan_file, record=False)
        assert str(error.value).startswith(
            "the saved plan does not match the plan computed now from the repository and the "
            "servers, nothing was applied: velo-savoie/web1: the saved read commands "
        )
        assert web1.run(f"test -e {marker}").returncode == 1  # the forged read never ran
        assert web1.run("cat /root/.ssh/authorized_keys").stdout == keys_before
        assert tcp_probe(web1.address, 8080, SHORT) == "timeout"  # nothing was applied


def test_a_killed_apply_leaves_no_half_written_file_and_a_rerun_converges(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    with edited(w, w.servers_dir / "web2.yaml") as data:
        data["firewall"]["open_ports"][1]["port"] = 8080
        data["accounts"][0]["keys"].append(data["accounts"][1]["keys"][0])
        save(w.servers_dir / "web2.yaml", data)
        script = (
            "import sys\nfrom pathlib import Path\n"
            "from dagsync.commands.reconcile import Scope, run_apply\n"
            f"run_apply(Scope(Path(sys.argv[1]), kinds={HOST_KINDS!r}), yes=True, record=False)\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(w.root)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Plan:"):
                break
        proc.send_signal(signal.SIGKILL)  # while the changes are being applied
        proc.wait()
        web2 = w.host("web2")
        leftovers = web2.run("ls -a /etc/nftables.d /home/deploy/.ssh", check=True).stdout
        assert "dagsync-" not in leftovers, leftovers
        assert do_apply(w) == 0
        assert do_plan(w) == 0
        assert tcp_probe(web2.address, 8080, SHORT) == "open"
        capsys.readouterr()


# --- accounts and root access --------------------------------------------------------------


def test_declared_accounts_log_in_and_undeclared_ones_are_locked_then_deleted(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    assert ssh_as(w, "deploy", "web1", w.keys["deploy"], "id -nG").stdout.split() == [
        "deploy",
        "dagsync-managed",
    ]
    with edited(w, w.servers_dir / "web1.yaml") as data:
        data["accounts"] = []
        save(w.servers_dir / "web1.yaml", data)
        assert do_plan(w) == 2
        out = capsys.readouterr().out
        assert (
            "  ~ accounts: lock user deploy (no longer declared; --allow-destroy deletes it)" in out
        )
        assert do_apply(w) == 0
        assert ssh_as(w, "deploy", "web1", w.keys["deploy"]).returncode != 0
        assert (
            w.host("web1")
            .run("getent shadow deploy", check=True)
            .stdout.split(":")[1]
            .startswith("!")
        )
        assert do_plan(w) == 0  # locked stays locked: nothing more to do
        assert do_plan(w, allow_destroy=True) == 2
        assert (
            "  - accounts: delete user deploy and its home /home/deploy" in capsys.readouterr().out
        )
        assert do_apply(w, allow_destroy=True) == 0
        assert w.host("web1").run("getent passwd deploy").returncode == 2
        assert w.host("web1").run("test -e /home/deploy").returncode == 1
    assert ssh_as(w, "deploy", "web1", w.keys["deploy"]).returncode == 0  # declared again


def test_an_sftp_account_can_only_use_sftp(converged: World) -> None:
    w = converged
    shell = ssh_as(w, "upload", "web2", w.keys["upload"], "id")
    assert shell.returncode != 0 and "allows sftp connections only" in shell.stdout + shell.stderr
    argv = [
        "sftp",
        "-F",
        "/dev/null",
        "-i",
        str(w.keys["upload"]),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={w.lab.known_hosts}",
        "-b",
        "-",
        f"upload@{w.host('web2').address}",
    ]
    proc = subprocess.run(argv, input="pwd\n", capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and "/home/upload" in proc.stdout


def test_root_login_only_while_a_root_access_window_is_open(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    today = dt.date.today()
    window = {
        "server": "web1",
        "granted_to": "Vélo Savoie IT",
        "start": today - dt.timedelta(days=1),
        "end": today + dt.timedelta(days=30),
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "hours": ["00:00", "23:59"],
        "guarantees_suspended": True,
        "request": "REQ-2023-010",
    }
    dag_key = w.lab.client_key
    assert ssh_as(w, "root", "web1", w.keys["deploy"]).returncode != 0
    with edited(w, w.root / "clients/velo-savoie/client.yaml") as data:
        data["contract"]["root_access"] = [window]
        save(w.root / "clients/velo-savoie/client.yaml", data)
        assert do_apply(w) == 0
        assert "root access for Vélo Savoie IT until 23:59" in capsys.readouterr().out
        assert ssh_as(w, "root", "web1", w.keys["deploy"]).returncode == 0
        keys = w.host("web1").run("cat /root/.ssh/authorized_keys", check=True).stdout
        assert 'expiry-time="' in keys and "# BEGIN dagsync root-access" in keys
        assert ssh_as(w, "root", "web2", w.keys["deploy"]).returncode != 0  # another server
    assert ssh_as(w, "root", "web1", w.keys["deploy"]).returncode != 0  # window removed
    assert ssh_as(w, "root", "web1", dag_key).returncode == 0  # DAG keeps its access


def test_shell_metacharacters_in_every_string_reach_the_host_literally(converged: World) -> None:
    """Key comments, owners (GECOS), the lock holder: none is ever interpreted by a shell."""
    w = converged
    with edited(w, w.servers_dir / "web1.yaml") as data:
        deploy = data["accounts"][0]
        hostile_key = " ".join([*deploy["keys"][0].split()[:2], HOSTILE])
        deploy["keys"] = [hostile_key]  # an existing user: its keys file is rewritten
        data["accounts"].append(
            {"name": "newcomer", "kind": "ssh", "owner": HOSTILE, "keys": [hostile_key]}
        )  # a new user: useradd with the owner as comment
        save(w.servers_dir / "web1.yaml", data)
        repo = load_repository(w.root)
        options = RunOptions(
            timeouts=Timeouts(connect=3.0), holder=HOSTILE, kinds=frozenset(HOST_KINDS)
        )
        overrides = load_overrides(overrides_path(w.root))
        report = apply(repo, Selection(servers=("web1",)), overrides, options, lambda _: True)
        assert report.ok, report.results
        web1 = w.host("web1")
        for user in ("deploy", "newcomer"):
            keys = web1.run(f"cat /home/{user}/.ssh/authorized_keys", check=True).stdout
            assert keys.splitlines()[-1] == hostile_key
        holder = web1.run("cat /var/lib/dagsync/apply.holder", check=True).stdout
        assert holder == HOSTILE + "\n"
        gecos = web1.run("getent passwd newcomer", check=True).stdout.split(":")[4]
        assert gecos == f"dagsync  {HOSTILE}"  # only ':' ',' and newlines are replaced
        found = web1.run("ls -a /tmp / /root /home/deploy /home/newcomer", check=True).stdout
        assert "pwned" not in found
        assert not list(Path("/tmp").glob("pwned*"))
        assert ssh_as(w, "newcomer", "web1", w.keys["deploy"], "true").returncode == 0
    assert w.host("web1").run("getent shadow newcomer", check=True).stdout.split(":")[1][0] == "!"
