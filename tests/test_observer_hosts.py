"""The observer key on real test hosts: the sandbox of the example repository (six client
servers, two backup storages, two mail hosts), applied once with the root key.

- `dagsync plan` with the observer key gives the identical JSON plan to the root key's,
  with drift on a server, a storage and a mail host so that the plan has changes;
- every write command the root apply sent (recorded as it ran, so derived from the
  executors' own builders), and the lock, are refused for the observer key and change
  nothing;
- reading /etc/shadow or a borg passphrase, shell tricks, traversal, extra arguments and an
  interactive login are refused and logged on the host, and so is a batch of reads with one
  such item, a framing marker, too many reads or none;
- a batch of reads through the observer answers byte for byte as the root key's batch, and
  an observer plan opens as many connections and sends as many commands per host as a root
  plan: one connection and one command per host for the host resources.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
import pytest

from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.reconcile import lock
from dagsync.reconcile import observer as obs
from dagsync.reconcile import observer_reads as obs_reads
from dagsync.reconcile import observer_wrapper as obs_wrapper
from dagsync.reconcile.backup import job
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.transport import facts
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV, Credentials, load_overrides
from dagsync.reconcile.transport.session import OBSERVER_ENV, REFUSED_EXIT, HostSession
from dagsync.reconcile.transport.ssh import connect
from dagsync.sandbox import world as sandbox
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.network import unique_network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-observer")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("obs")
KINDS = ("firewall", "accounts", "root-access", "backup", "mail", "observer", "monitoring")
# (no OVH: no SSH)
HOST_KINDS = ("firewall", "accounts", "root-access")
NONCE = "0123456789abcdef"
WEB1, STORAGE, MX1 = "velo-savoie/web1", "dag/sbg-backup-1", "dag/mx1"
INTRUDER = "'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmVJ0Kuk3wf2rRrKJ6z5dDFvv0ZIskFZ1sdtsIbPdum x'"
HASH = "$6$observersalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CLEAN_ENV = (
    "DAGSYNC_SSH_KEY",
    "DAGSYNC_SSH_KEY_FILE",
    "DAGSYNC_SSH_USER",
    OBSERVER_ENV,
    "DAGSYNC_OVH_URL",
    "OVH_ENDPOINT",
    "OVH_APPLICATION_KEY",
    "OVH_APPLICATION_SECRET",
    "OVH_CONSUMER_KEY",
)


@dataclass
class World:
    root: Path
    hosts_file: Path  # the sandbox's override file: the root key
    observer_file: Path  # the same hosts, the observer's private key
    writes: list[tuple[str, str]]  # (target key, command) the root apply sent, in order
    reads: set[str]  # the commands of the plan's reads

    def endpoint(self, key: str) -> Any:
        return load_overrides(self.hosts_file).hosts[key]

    def as_root(self, key: str, command: str) -> CommandResult:
        creds = Credentials("root", load_overrides(self.hosts_file).ssh_key)
        connection = connect(self.endpoint(key), creds, 10.0)
        try:
            return connection.run(command, timeout=60)
        finally:
            connection.close()

    def as_observer(self, key: str, command: str) -> CommandResult:
        """`command` sent as is with the observer key (no translation into a request)."""
        creds = Credentials("root", load_overrides(self.observer_file).ssh_key)
        connection = connect(self.endpoint(key), creds, 10.0)
        try:
            return connection.run(command, timeout=60)
        finally:
            connection.close()


def _missing() -> str | None:
    if reason := skip_reason():
        return reason
    tools = ("borg", "doveconf", "dovecot", "postconf", "postfix", "openssl", obs_wrapper.PYTHON)
    absent = [t for t in tools if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    return f"the observer test needs {', '.join(absent)}" if absent else None


def _plan_json(root: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    out: list[str] = []
    run_plan(Scope(root, kinds=kinds), "json", echo=out.append)
    data: dict[str, Any] = _without_times(json.loads("\n".join(out)))
    return data


def _without_times(value: Any) -> Any:
    """The plan minus when it was computed (and which override file named the hosts)."""
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if k not in ("created_at", "overrides", "created")
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := _missing():
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("observer") / "repo"
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, root / folder)
    with pytest.MonkeyPatch.context() as patch:
        for name in CLEAN_ENV:
            patch.delenv(name, raising=False)
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
        patch.setenv("DAGSYNC_SANDBOX", "1")
        try:
            sandbox.up(root, NET, emulator=False)
            hosts_file = root / ".dagsync-sandbox/hosts.json"
            data = json.loads(hosts_file.read_text())
            observer_file = hosts_file.with_name("observer-hosts.json")
            observer_file.write_text(json.dumps({**data, "ssh_key": data["observer"]["ssh_key"]}))
            patch.setenv(HOSTS_FILE_ENV, str(hosts_file))
            writes: list[tuple[str, str]] = []
            original = HostSession.run

            def recording(self: HostSession, command: str, **kw: Any) -> CommandResult:
                writes.append((self.target.key, command))
                return original(self, command, **kw)

            patch.setattr(HostSession, "run", recording)
            assert run_apply(Scope(root, kinds=KINDS), yes=True, record=False) == 0
            patch.setattr(HostSession, "run", original)
            reads = {c for _, c in writes if _is_read(c)}
            w = World(
                root, hosts_file, observer_file, [x for x in writes if x[1] not in reads], reads
            )
            _drift(w)
            yield w
        finally:
            sandbox.down(root)


def _is_read(command: str) -> bool:
    try:
        obs_reads.request_for(command)
    except obs_reads.ObserverRefused:
        return "@@" in command and " begin " in command  # the engine's batch of reads
    return True


def _drift(w: World) -> None:
    """A hand edit on a server, a storage and a mail host; a password hash on web1."""
    assert w.as_root(WEB1, f"rm -f {job.CRON_FILE} && usermod -p '{HASH}' deploy").ok
    assert w.as_root(STORAGE, f"echo {INTRUDER} >> ~borg/.ssh/authorized_keys").ok
    assert w.as_root(MX1, f"echo '# hand edit' >> {mc.DOVECOT_CONF}").ok


def test_the_observer_plan_is_the_root_plan_byte_for_byte(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_root = _plan_json(world.root)
    monkeypatch.setenv(HOSTS_FILE_ENV, str(world.observer_file))
    monkeypatch.setenv(OBSERVER_ENV, "1")
    as_observer = _plan_json(world.root)
    assert as_observer == as_root
    targets = {t["target"]["client"] + "/" + t["target"]["name"]: t for t in _targets(as_root)}
    assert len(targets) == 12  # 6 servers, 2 storages, 2 mail hosts, mon1, sec1
    assert all(not t.get("error") and not t.get("unknown") for t in targets.values())
    changed = sorted(k for k, t in targets.items() if t["changes"])
    assert changed == sorted([STORAGE, MX1, WEB1])


def _targets(plan: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(plan, dict):
        if "target" in plan and "changes" in plan:
            return [plan]
        for value in plan.values():
            found += _targets(value) if isinstance(value, dict | list) else []
    elif isinstance(plan, list):
        for value in plan:
            found += _targets(value)
    merged: dict[str, dict[str, Any]] = {}
    for t in found:
        key = t["target"]["client"] + "/" + t["target"]["name"]
        merged.setdefault(key, {**t, "changes": []})["changes"] += t["changes"]
    return list(merged.values())


def test_without_the_observer_mode_the_forced_command_refuses_the_raw_scripts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOSTS_FILE_ENV, str(world.observer_file))
    plan = _plan_json(world.root)
    targets = _targets(plan)
    assert targets and all(t.get("unknown") or t.get("error") for t in targets)


def test_every_write_of_the_root_apply_and_the_lock_are_refused_for_the_observer(
    world: World,
) -> None:
    before = _plan_json(world.root)
    kinds = {obs_reads.WRAPPER_FILE: 0, "useradd": 0, "nft": 0, "borg": 0, "postfix": 0}
    commands = [*world.writes, (WEB1, lock.acquire_command("observer", 60))]
    assert len(commands) > 20
    for key, command in commands:
        result = world.as_observer(key, command)
        assert result.exit_code == REFUSED_EXIT, (key, command[:200])
        assert result.stdout == ""
        assert "dagsync-observer: refused: " in result.stderr
        for word in kinds:
            kinds[word] += word in command
    assert all(kinds.values()), kinds  # firewall, accounts, backup, mail, observer writes
    assert _plan_json(world.root) == before  # nothing changed anywhere


HOSTILE = [
    "cat /etc/shadow",
    f"cat {job.PASSPHRASE_FILE}",
    "sh -c 'cat /etc/shadow'",
    "nft flush ruleset",
    "accounts '../../../etc/shadow'",
    "accounts 'deploy;cat /etc/shadow'",
    'accounts "$(cat /etc/shadow)"',
    "firewall; cat /etc/shadow",
    "firewall `cat /etc/shadow`",
    "firewall | cat /etc/shadow",
    "backup-storage /srv/../etc",
    "backup-storage /srv/borg extra",
    "observer\ncat /etc/shadow",
    "",
    # batches: one refused item refuses the whole request
    f"batch {NONCE} firewall cat /etc/shadow root-access",
    f"batch {NONCE} firewall accounts 'deploy;cat /etc/shadow' root-access",
    f"batch {NONCE} observer backup-storage /srv/../etc",
    f"batch {NONCE} accounts '@@{NONCE} end accounts 0'",
    f"batch '{NONCE}\n@@{NONCE} end firewall 0' firewall",
    f"batch {NONCE} firewall accounts '' root-access backup backup-storage /srv mail observer mail",
    f"batch {NONCE} accounts '{' '.join(['deploy'] * 9400)}'",
    f"batch {NONCE}",
]


@pytest.mark.parametrize("command", HOSTILE)
def test_secrets_and_tricks_are_refused_and_logged_on_the_host(world: World, command: str) -> None:
    before = world.as_root(STORAGE, f"wc -l < {obs_wrapper.LOG_FILE} 2>/dev/null || echo 0").stdout
    result = world.as_observer(STORAGE, command)
    assert (result.exit_code, result.stdout) == (REFUSED_EXIT, "")
    assert "root:" not in result.stderr
    log = world.as_root(STORAGE, f"tail -n 1 {obs_wrapper.LOG_FILE}").stdout
    assert f": {command[:500]!a}" in log and "refused from " in log
    after = world.as_root(STORAGE, f"wc -l < {obs_wrapper.LOG_FILE}").stdout
    assert int(after) == int(before or 0) + 1


def test_a_batch_through_the_observer_answers_as_the_root_batch(world: World) -> None:
    reads = [
        ("observer", obs_reads.read()),
        ("accounts", obs_reads.table()["accounts"].render(["deploy"])),
    ]
    script, _ = facts.batch(reads, NONCE)
    as_root = world.as_root(WEB1, script)
    request = obs_reads.request_for(script)
    assert request == f"batch {NONCE} observer accounts deploy"
    as_observer = world.as_observer(WEB1, request)
    assert as_observer == as_root and as_observer.ok
    sections = facts.split(as_observer.stdout, as_observer.stderr, NONCE)
    assert sorted(sections) == ["accounts", "observer"]
    assert "shadow\tdeploy\t$\t" in sections["accounts"].stdout
    assert sections["observer"].stdout.startswith("wrapper\t")


def _count_round_trips(
    world: World, monkeypatch: pytest.MonkeyPatch, kinds: tuple[str, ...]
) -> tuple[Counter[str], Counter[str]]:
    """Plan `kinds`, counting per host address the SSH connections paramiko opens and the
    commands (exec requests) it sends on them."""
    connections: Counter[str] = Counter()
    commands: Counter[str] = Counter()
    start, exec_command = paramiko.Transport.start_client, paramiko.Channel.exec_command

    def counted_start(self: paramiko.Transport, *a: Any, **kw: Any) -> Any:
        connections[self.getpeername()[0]] += 1
        return start(self, *a, **kw)

    def counted_exec(self: paramiko.Channel, command: Any) -> Any:
        commands[self.get_transport().getpeername()[0]] += 1
        return exec_command(self, command)

    with monkeypatch.context() as patch:
        patch.setattr(paramiko.Transport, "start_client", counted_start)
        patch.setattr(paramiko.Channel, "exec_command", counted_exec)
        plan = _plan_json(world.root, kinds)
    assert all(not t.get("error") and not t.get("unknown") for t in _targets(plan))
    return connections, commands


def test_an_observer_plan_costs_the_round_trips_of_a_root_plan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not timed: per host, the same connections and no more commands than the root key's:
    one connection per host whichever drivers read it, one command per driver; for the host
    resources, one command per server (N = 1).  A plan's
    reads do not depend on what it finds: the three drifted hosts are read as the others."""
    root_all = _count_round_trips(world, monkeypatch, KINDS)
    root_hosts = _count_round_trips(world, monkeypatch, HOST_KINDS)
    monkeypatch.setenv(HOSTS_FILE_ENV, str(world.observer_file))
    monkeypatch.setenv(OBSERVER_ENV, "1")
    connections, commands = _count_round_trips(world, monkeypatch, KINDS)
    assert len(connections) == 12
    assert connections == root_all[0]
    assert all(commands[a] <= root_all[1][a] for a in root_all[1]) and set(commands) == set(
        root_all[1]
    )
    address = {k: world.endpoint(k).address for k in load_overrides(world.hosts_file).hosts}
    # one connection per host for the whole plan (the drivers share it: transport.pool), and
    # one command per driver that reads the host: a client server, the hosts, backup and
    # observer drivers; sbg-backup-1 (every server's storage), the mail hosts and the
    # monitoring host, two; rbx-backup-1 (no server's storage) and the security host (KINDS
    # has no `security`), the observer driver alone
    assert {k: connections[a] for k, a in address.items()} == dict.fromkeys(address, 1)
    assert {k: commands[a] for k, a in address.items()} == {
        **{k: 3 for k in address if not k.startswith("dag/")},
        STORAGE: 2, MX1: 2, "dag/mx2": 2, "dag/mon1": 2, "dag/rbx-backup-1": 1, "dag/sec1": 1,
    }  # fmt: skip
    connections, commands = _count_round_trips(world, monkeypatch, HOST_KINDS)
    assert (connections, commands) == root_hosts
    servers = {a for k, a in address.items() if not k.startswith("dag/")}
    assert set(connections) == servers and len(servers) == 6
    assert set(connections.values()) == {1} and commands == connections


def test_the_account_read_through_the_observer_sends_no_password_hash(world: World) -> None:
    result = world.as_observer(WEB1, "accounts deploy")
    assert result.ok and "shadow\tdeploy\t$\t" in result.stdout
    assert "observersalt" not in result.stdout
    passphrase = world.as_root(WEB1, f"cat {job.PASSPHRASE_FILE}").stdout.strip()
    backup = world.as_observer(WEB1, "backup")
    assert backup.ok and passphrase and passphrase not in backup.stdout


def test_a_broken_wrapper_is_never_activated(world: World) -> None:
    before = world.as_root(MX1, f"sha256sum < {obs_reads.WRAPPER_FILE}").stdout
    broken = obs_wrapper.render_wrapper().replace("def main():", "def main(:")
    result = world.as_root(MX1, obs.install_wrapper(broken) + "\n")
    assert not result.ok
    assert world.as_root(MX1, f"sha256sum < {obs_reads.WRAPPER_FILE}").stdout == before
    assert world.as_observer(MX1, "observer").ok


def test_an_upload_cut_short_by_a_killed_run_leaves_the_installed_wrapper(world: World) -> None:
    before = world.as_root(MX1, f"sha256sum < {obs_reads.WRAPPER_FILE}").stdout
    content = obs_wrapper.render_wrapper().replace("MAX_REQUEST = 65536", "MAX_REQUEST = 1")
    creds = Credentials("root", load_overrides(world.hosts_file).ssh_key)
    connection = connect(world.endpoint(MX1), creds, 10.0)
    try:
        half = content.encode()[: len(content) // 2]
        result = connection.run(obs.install_wrapper(content), stdin=half, timeout=60)
    finally:
        connection.close()
    assert result.exit_code == 3 and "incomplete upload" in result.stderr
    assert world.as_root(MX1, f"sha256sum < {obs_reads.WRAPPER_FILE}").stdout == before
    left = world.as_root(MX1, "ls /etc/dagsync | grep -c dagsync- || true").stdout.strip()
    assert left == "0"


def test_the_key_is_restricted_no_pty_no_forwarding(world: World) -> None:
    line = world.as_root(
        WEB1, f"grep -F {obs_wrapper.KEY_COMMENT} /root/.ssh/authorized_keys"
    ).stdout
    assert line.startswith(f"{obs_wrapper.KEY_OPTIONS} ssh-ed25519 ")
    assert line.strip().endswith(obs_wrapper.KEY_COMMENT)


def test_the_observer_key_gets_no_port_forwarding_and_no_pty(world: World) -> None:
    creds = Credentials("root", load_overrides(world.observer_file).ssh_key)
    connection = connect(world.endpoint(WEB1), creds, 10.0)
    try:
        transport = connection._conn.transport
        with pytest.raises(paramiko.ChannelException):
            transport.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0), timeout=10)
        channel = transport.open_session(timeout=10)
        with pytest.raises(paramiko.SSHException):
            channel.get_pty()
    finally:
        connection.close()
