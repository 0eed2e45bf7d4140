"""The observer account without hosts: its table covers every read a plan issues, its wrapper
runs exactly those and refuses (and logs) anything else, its resource installs and revokes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dagsync.errors import DagsyncError
from dagsync.reconcile import drivers
from dagsync.reconcile import observer as obs
from dagsync.reconcile import observer_reads as obs_reads
from dagsync.reconcile import observer_wrapper as obs_wrapper
from dagsync.reconcile.backup import driver as backup_driver
from dagsync.reconcile.backup.storage import StorageSpec, storage_read
from dagsync.reconcile.core import Action, Target, Unknown
from dagsync.reconcile.driverspec import Context
from dagsync.reconcile.hosts import accounts, engine, firewall
from dagsync.reconcile.hosts.engine import read_facts
from dagsync.reconcile.hosts.registry import HOST_RESOURCES
from dagsync.reconcile.hosts.work import works_from_repository
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.monitoring import driver as monitoring_driver
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.security import driver as security_driver
from dagsync.reconcile.security.credentials import Secrets
from dagsync.reconcile.transport import facts
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import Credentials, Endpoint, Overrides
from dagsync.reconcile.transport.session import OBSERVER_ENV, REFUSED_EXIT, HostSession
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmVJ0Kuk3wf2rRrKJ6z5dDFvv0ZIskFZ1sdtsIbPdum"
KEY = f"{HOST_KEY} ci-observer@dag"
NONCE = "0123456789abcdef"
FIREWALL = firewall.read(None)  # type: ignore[arg-type]  # the read takes no desired field


def wrapper(log: Path) -> dict[str, Any]:
    """The rendered wrapper, loaded as a module namespace, logging to `log`."""
    namespace: dict[str, Any] = {"__name__": "dagsync_observer_wrapper"}
    exec(compile(obs_wrapper.render_wrapper(), obs_reads.WRAPPER_FILE, "exec"), namespace)
    namespace["LOG"] = str(log)
    return namespace


def plan_reads() -> list[tuple[str, str]]:
    """Every (kind, command) `dagsync plan` of the example repository sends to a host."""
    repo = load_repository(REPO)
    dag_hosts = {
        f"dag/{name}": Endpoint(f"10.0.9.{i}", 22, HOST_KEY, "test")
        for i, name in enumerate(("sbg-backup-1", "rbx-backup-1", "mx1", "mx2", "mon1", "sec1"), 1)
    }
    overrides = Overrides(hosts=dag_hosts)
    now = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
    reads = [r for w in works_from_repository(repo, Selection(), overrides, now) for r in w.reads]
    run = backup_driver.build(repo, Selection(), overrides)
    reads += [(h.kind, h.read) for h in run.hosts() if h.read]
    clients = drivers._mail_clients(repo)
    reads.append((mail.KIND, mail.read(mail.desired(clients)[0])))
    ctx = Context(repo, Selection(), overrides, RunOptions())
    reads += [(h.kind, h.read) for h in obs.hosts(ctx)]
    reads += [(h.kind, h.read) for h, _ in monitoring_driver.hosts_of(repo.settings, overrides)]
    secured = security_driver.build(repo, Selection(), overrides, Secrets(b"s" * 32))
    reads += [(h.kind, h.read) for h, _ in secured.targets]
    return reads


# --- the table -----------------------------------------------------------------------------


def test_the_table_has_a_read_for_every_host_resource_and_every_driver_read() -> None:
    names = [r.name for r in obs_reads.READS]
    assert names == [
        *(r.KIND for r in HOST_RESOURCES),
        "backup",
        "backup-storage",
        "mail",
        "monitoring",
        "security",
        "observer",
    ]


def test_every_read_of_a_plan_passes_the_wrapper_and_runs_the_identical_script(
    tmp_path: Path,
) -> None:
    """A new read builder (or a changed one) that the observer would refuse fails here."""
    reads = plan_reads()
    kinds = {k for k, _ in reads}
    assert kinds == {"firewall", "accounts", "root-access", "os", "vhosts", "tls", "databases",
                     "exporters", "backup", "backup-storage", "mail", "monitoring", "security",
                     "observer"}  # fmt: skip
    w = wrapper(tmp_path / "log")
    for kind, command in reads:
        request = obs_reads.request_for(command)
        assert request.split()[0] == kind
        script, why = w["decide"](request)
        assert (script, why) == (command, ""), kind
    assert not (tmp_path / "log").exists()


def test_each_hosts_batch_of_a_plan_is_one_request_that_the_wrapper_runs_identically(
    tmp_path: Path,
) -> None:
    """The engine's batch of every server of the example repository: one `batch` request,
    which the wrapper turns back into the very script the root key runs."""
    repo = load_repository(REPO)
    now = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
    works = works_from_repository(repo, Selection(), Overrides(), now)
    assert len(works) == 6
    w = wrapper(tmp_path / "log")
    for work in works:
        command, nonce = facts.batch(work.reads)
        request = obs_reads.request_for(command)
        names = [kind for kind, _ in work.reads]
        assert names == [
            "firewall", "accounts", "root-access", "os", "vhosts", "tls", "databases", "exporters"
        ]  # fmt: skip
        assert request.startswith(f"batch {nonce} firewall accounts ")
        assert " root-access os " in request
        assert request.endswith(" vhosts tls databases exporters")
        assert w["decide"](request) == (command, "")
    assert not (tmp_path / "log").exists()


def test_the_wrapper_frames_a_batch_exactly_as_facts_batch() -> None:
    items = [("observer", []), ("accounts", ["deploy dba"]), ("backup-storage", ["/srv/b"])]
    commands = [(name, obs_reads.table()[name].render(args)) for name, args in items]
    assert obs_reads.batch_script(NONCE, items) == facts.batch(commands, NONCE)[0]
    assert obs_reads.request_for(facts.batch(commands, NONCE)[0]) == (
        f"batch {NONCE} observer accounts 'deploy dba' backup-storage /srv/b"
    )
    with pytest.raises(ValueError, match="firewall twice in one batch"):
        obs_reads.batch_script(NONCE, [("firewall", []), ("firewall", [])])
    with pytest.raises(ValueError, match="an empty batch"):
        obs_reads.batch_script(NONCE, [])


def test_a_read_with_account_names_and_a_storage_root_round_trips() -> None:
    spec = [accounts.AccountSpec(n, "ssh", "/bin/bash", (), "") for n in ("deploy", "dba")]
    command = accounts.read(spec)
    assert obs_reads.request_for(command) == "accounts 'deploy dba'"
    assert obs_reads.table()["accounts"].render(["deploy dba"]) == command
    storage = StorageSpec("s", "10.0.0.1", 22, HOST_KEY, "/srv/borg-repos")
    assert obs_reads.request_for(storage_read(storage)) == "backup-storage /srv/borg-repos"
    assert obs_reads.request_for(accounts.read([])) == "accounts ''"


@pytest.mark.parametrize(
    "command",
    [
        "cat /etc/shadow",
        "nft flush ruleset",
        firewall.read(None) + "id\n",  # type: ignore[arg-type]
        "id; " + firewall.read(None),  # type: ignore[arg-type]
        accounts.read([]).replace("/etc/shadow", "/etc/shadow /root/.ssh/id_ed25519"),
        # batches: an item that is no read hidden among reads, a read under another name,
        # an edited read, a changed frame, a read twice, an empty batch
        facts.batch([("firewall", FIREWALL), ("cat", "cat /etc/shadow")], NONCE)[0],
        facts.batch([("accounts", FIREWALL)], NONCE)[0],
        facts.batch([("firewall", FIREWALL + "id\n")], NONCE)[0],
        facts.batch([("firewall", FIREWALL)], NONCE)[0].replace(">&2", ">/tmp/x"),
        facts.batch([("observer", obs_reads.read()), ("observer", obs_reads.read())], NONCE)[0],
        facts.batch([], NONCE)[0],
    ],
)
def test_a_command_that_is_not_a_plan_read_is_never_sent(command: str) -> None:
    with pytest.raises(obs_reads.ObserverRefused, match="cannot run this command"):
        obs_reads.request_for(command)


# --- the wrapper ---------------------------------------------------------------------------

HOSTILE = [
    ("", "no command (interactive login)"),
    ("cat /etc/shadow", "not one of the plan's reads"),
    ("cat /etc/dagsync/borg-passphrase", "not one of the plan's reads"),
    ("sh -c 'cat /etc/shadow'", "not one of the plan's reads"),
    ("nft flush ruleset", "not one of the plan's reads"),
    ("firewall; cat /etc/shadow", "not one of the plan's reads"),
    ("firewall ; cat /etc/shadow", "firewall takes 0 argument(s), not 3"),
    ("firewall && id", "firewall takes 0 argument(s), not 2"),
    ("firewall extra", "firewall takes 0 argument(s), not 1"),
    ("firewall $(id)", "firewall takes 0 argument(s), not 1"),
    ("accounts '$(id)'", "argument refused for accounts"),
    ("accounts 'root;id'", "argument refused for accounts"),
    ("accounts '`id`'", "argument refused for accounts"),
    ("accounts ../../etc/shadow", "argument refused for accounts"),
    ("accounts 'deploy\nid'", "argument refused for accounts"),
    ("accounts", "accounts takes 1 argument(s), not 0"),
    ("backup-storage /srv/../etc", "argument refused for backup-storage"),
    ("backup-storage /srv/borg/", "argument refused for backup-storage"),
    ("backup-storage 'srv/borg'", "argument refused for backup-storage"),
    ("backup-storage '/srv/borg /etc/shadow'", "argument refused for backup-storage"),
    ("backup-storage '/srv/*'", "argument refused for backup-storage"),
    ("'firewall", "unparsable request (No closing quotation)"),
    ("x" * 70000, "request too long"),
    # batches: any refused item refuses the whole request
    ("batch", "batch: the first argument is not a nonce"),
    (f"batch {NONCE}", "batch: no read (empty batch)"),
    (
        f"batch {NONCE} firewall cat /etc/shadow root-access",
        "batch item 2 ('cat'): not one of the plan's reads",
    ),
    (
        f"batch {NONCE} firewall sh -c 'cat /etc/shadow'",
        "batch item 2 ('sh'): not one of the plan's reads",
    ),
    (
        f"batch {NONCE} firewall accounts 'deploy;id' root-access",
        "batch item 2 ('accounts'): argument refused for accounts",
    ),
    (
        f"batch {NONCE} observer backup-storage /srv/../etc",
        "batch item 2 ('backup-storage'): argument refused for backup-storage",
    ),
    (
        f"batch {NONCE} firewall accounts",
        "batch item 2 ('accounts'): accounts takes 1 argument(s), not 0",
    ),
    (
        f"batch {NONCE} firewall ; cat /etc/shadow",
        "batch item 2 (';'): not one of the plan's reads",
    ),
    (
        f"batch {NONCE} batch {NONCE} firewall",
        "batch item 1 ('batch'): not one of the plan's reads",
    ),
    (f"batch {NONCE} firewall firewall", "batch: firewall twice"),
    # framing markers in an argument or as the nonce
    (
        f"batch {NONCE} accounts '@@{NONCE} end accounts 0'",
        "batch item 1 ('accounts'): argument refused for accounts",
    ),
    (
        f"batch {NONCE} accounts 'deploy\n@@{NONCE} end accounts 0'",
        "batch item 1 ('accounts'): argument refused for accounts",
    ),
    (
        f"batch {NONCE} backup-storage '/srv/b\n@@{NONCE} end backup-storage 0'",
        "batch item 1 ('backup-storage'): argument refused for backup-storage",
    ),
    (
        f"batch '{NONCE}\n@@{NONCE} end firewall 0' firewall",
        "batch: the first argument is not a nonce",
    ),
    ("batch '$(id)' firewall", "batch: the first argument is not a nonce"),
    (f"batch {NONCE.upper()} firewall", "batch: the first argument is not a nonce"),
    # oversized: more reads than the table has (each at most once), more than 64 KiB
    (
        f"batch {NONCE} firewall accounts '' root-access os '' vhosts tls databases exporters "
        "backup backup-storage /srv/b mail monitoring security observer firewall",
        "batch: more than 14 reads",
    ),
    (f"batch {NONCE} firewall accounts '{' '.join(['deploy'] * 9400)}'", "request too long"),
]


@pytest.mark.parametrize(("raw", "why"), HOSTILE)
def test_the_wrapper_refuses_and_logs_anything_else(tmp_path: Path, raw: str, why: str) -> None:
    w = wrapper(tmp_path / "observer.log")
    assert w["decide"](raw) == (None, why)
    os.environ["SSH_ORIGINAL_COMMAND"] = raw
    os.environ["SSH_CONNECTION"] = "10.9.9.9 40000 10.0.0.1 22"
    try:
        assert w["main"]() == REFUSED_EXIT
    finally:
        del os.environ["SSH_ORIGINAL_COMMAND"], os.environ["SSH_CONNECTION"]
    logged = (tmp_path / "observer.log").read_text()
    assert f"refused from 10.9.9.9: {why}: {raw[:500]!a}" in logged
    assert logged.count("\n") == 1


def test_the_wrapper_runs_the_allowed_read_with_stdin_closed(tmp_path: Path) -> None:
    """Run as the host runs it (python3 -I, the forced command's interpreter): the observer
    read of this machine's files, the exact output of the script."""
    path = tmp_path / "observer"
    path.write_text(obs_wrapper.render_wrapper())
    env = {"PATH": "/usr/bin:/bin", "SSH_ORIGINAL_COMMAND": "observer"}
    ran = subprocess.run(
        [obs_wrapper.PYTHON, "-I", str(path)], env=env, capture_output=True, text=True, timeout=30
    )
    direct = subprocess.run(
        ["sh", "-c", obs_reads.read()], env=env, capture_output=True, text=True, timeout=30
    )
    assert (ran.returncode, ran.stdout) == (0, direct.stdout)


def test_the_wrapper_runs_a_batch_as_the_root_batch_runs_and_the_client_splits_it(
    tmp_path: Path,
) -> None:
    """Run as the host runs it: a batch of two reads gives byte for byte the output of the
    root key's script, and `facts.split` finds each read's output and exit code."""
    path = tmp_path / "observer"
    path.write_text(obs_wrapper.render_wrapper())
    reads = [
        ("observer", obs_reads.read()),
        ("root-access", obs_reads.table()["root-access"].template),
    ]
    script, _ = facts.batch(reads, NONCE)
    env = {"PATH": "/usr/bin:/bin", "SSH_ORIGINAL_COMMAND": obs_reads.request_for(script)}
    ran = subprocess.run(
        [obs_wrapper.PYTHON, "-I", str(path)], env=env, capture_output=True, text=True, timeout=30
    )
    direct = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, direct.stdout, direct.stderr)
    sections = facts.split(ran.stdout, ran.stderr, NONCE)
    assert sorted(sections) == ["observer", "root-access"]
    alone = subprocess.run(["sh", "-c", obs_reads.read()], env=env, capture_output=True, text=True)
    assert sections["observer"] == CommandResult(0, alone.stdout, alone.stderr)


class RecordingConnection:
    """A connection that records every exec request; as an observer host, it answers
    through the real wrapper's `decide` (refused: 126) and runs nothing."""

    def __init__(self, log: list[tuple[str, str]], address: str, old_wrapper: bool) -> None:
        self.log, self.address, self.old_wrapper = log, address, old_wrapper
        self.decide = wrapper(Path(os.devnull))["decide"]

    def run(self, command: str, **_: Any) -> CommandResult:
        self.log.append((self.address, command))
        if not command.startswith("batch ") or not self.old_wrapper:
            script, why = self.decide(command)
        else:
            script, why = None, "not one of the plan's reads"
        if script is None:
            return CommandResult(REFUSED_EXIT, "", f"dagsync-observer: refused: {why}\n")
        return CommandResult(0, "", "")

    def close(self) -> None:
        pass


def _record_plan(monkeypatch: pytest.MonkeyPatch, *, old_wrapper: bool = False) -> Any:
    """engine.plan of the example repository on recording connections: per address, the
    number of connections opened and the commands sent."""
    opened: list[str] = []
    sent: list[tuple[str, str]] = []

    def connect(where: Endpoint, *_: Any) -> RecordingConnection:
        opened.append(where.address)
        return RecordingConnection(sent, where.address, old_wrapper)

    monkeypatch.setattr("dagsync.reconcile.transport.session.connect", connect)
    repo = load_repository(REPO)
    engine.plan(repo, Selection(), Overrides(), RunOptions())
    return opened, sent


def test_an_observer_plan_opens_one_connection_and_sends_one_request_per_host_as_root_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(OBSERVER_ENV, raising=False)
    root_opened, root_sent = _record_plan(monkeypatch)
    monkeypatch.setenv(OBSERVER_ENV, "1")
    opened, sent = _record_plan(monkeypatch)
    assert len(set(opened)) == 6 and sorted(opened) == sorted(set(opened)) == sorted(root_opened)
    assert sorted(a for a, _ in sent) == sorted(a for a, _ in root_sent) == sorted(opened)
    assert all(c.startswith("batch ") for _, c in sent)
    assert all("@@" in c and " begin " in c for _, c in root_sent)


def test_an_observer_falls_back_to_one_request_per_read_on_a_wrapper_without_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(OBSERVER_ENV, "1")
    opened, sent = _record_plan(monkeypatch, old_wrapper=True)
    assert len(opened) == 6
    for address in opened:
        mine = [c.split()[0] for a, c in sent if a == address]
        assert mine == [
            "batch",
            "firewall",
            "accounts",
            "root-access",
            "os",
            "vhosts",
            "tls",
            "databases",
            "exporters",
        ]


def test_read_facts_splits_an_observer_batch_into_each_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(OBSERVER_ENV, "1")
    session = HostSession(
        Target("c", "s"), Endpoint("10.0.9.1", 22, HOST_KEY, "t"), Credentials("root", None)
    )
    sent: list[str] = []

    class Host:
        def run(self, command: str, **_: Any) -> CommandResult:
            sent.append(command)
            nonce = command.split()[1]
            out = (
                f"@@{nonce} begin observer\nwrapper\t{'b' * 64}\n"
                f"\n@@{nonce} end observer 0\n"
                f"@@{nonce} begin root-access\n\n@@{nonce} end root-access 3\n"
            )
            return CommandResult(0, out, "")

    session._connection = Host()  # type: ignore[assignment]
    reads = [
        ("observer", obs_reads.read()),
        ("root-access", obs_reads.table()["root-access"].template),
    ]
    monkeypatch.setattr(
        engine, "host_resource", lambda kind: obs if kind == "observer" else _Failed
    )
    observed = read_facts(session, reads)
    assert len(sent) == 1 and sent[0].endswith(" observer root-access")
    assert observed == {
        "observer": obs.ObserverObserved("b" * 64, False, ()),
        "root-access": Unknown("exit 3"),
    }


class _Failed:
    @staticmethod
    def parse(result: CommandResult) -> Unknown:
        return Unknown(f"exit {result.exit_code}")


def test_the_wrapper_compiles_with_the_host_python_and_refuses_a_broken_one(
    tmp_path: Path,
) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text(obs_wrapper.render_wrapper())
    bad.write_text(obs_wrapper.render_wrapper().replace("def main():", "def main(:"))
    check = obs.WRAPPER_CHECK.replace('"$tmp"', '"$1"')
    assert subprocess.run(["sh", "-c", check, "sh", str(good)]).returncode == 0
    assert subprocess.run(["sh", "-c", check, "sh", str(bad)], capture_output=True).returncode != 0


# --- the resource --------------------------------------------------------------------------


def test_the_key_line_is_restricted_to_the_forced_command_and_drops_the_comment() -> None:
    assert obs_wrapper.key_line(KEY) == (
        f'restrict,command="/usr/bin/python3 -I /etc/dagsync/observer" {HOST_KEY} dagsync-observer'
    )
    with pytest.raises(DagsyncError, match="not one OpenSSH public key line"):
        obs_wrapper.key_line(f"{HOST_KEY}\nssh-ed25519 AAAA evil")


def test_a_fresh_host_gets_the_wrapper_then_the_key_and_a_conforming_host_nothing() -> None:
    wanted = obs.desired(KEY)
    fresh = obs.ObserverObserved(None, False, ())
    changes = obs.diff(wanted, fresh)
    assert [(c.action, c.resource) for c in changes] == [
        (Action.CREATE, obs_reads.WRAPPER_FILE),
        (Action.CREATE, "/root/.ssh/authorized_keys (BEGIN dagsync observer)"),
    ]
    digest = hashlib.sha256(str(wanted.wrapper).encode()).hexdigest()
    assert obs.diff(wanted, obs.ObserverObserved(digest, True, wanted.lines)) == []


def test_a_key_removed_from_git_is_revoked_and_nothing_is_installed_without_one() -> None:
    installed = obs.ObserverObserved("0" * 64, True, (obs_wrapper.key_line(KEY),))
    (change,) = obs.diff(obs.desired(None), installed)
    assert change.summary == "revoke the observer key (none in policies/dag.yaml)"
    assert change.payload == {"lines": []}
    assert obs.diff(obs.desired(None), obs.ObserverObserved(None, False, ())) == []


def test_the_observer_read_parses_the_digest_and_the_block() -> None:
    line = obs_wrapper.key_line(KEY)
    out = f"wrapper\t{'a' * 64}\nblock\nline\t{line}\nline\t# comment\n"
    assert obs.parse(CommandResult(0, out, "")) == obs.ObserverObserved("a" * 64, True, (line,))
    assert obs.parse(CommandResult(0, "", "")) == obs.ObserverObserved(None, False, ())
    assert obs.parse(CommandResult(2, "", "denied")) == Unknown(
        "reading the observer failed (2): denied"
    )


def test_the_account_read_never_sends_a_password_hash() -> None:
    assert 'sp[$1] = substr($2, 1, 1) "\\t" $8' in accounts.read([])
    listing = (
        "members\tdeploy \nuser\tdeploy\t1000\t/bin/bash\t/home/deploy\nshadow\tdeploy\t!\t\nend\n"
    )
    observed = accounts.parse(CommandResult(0, listing, ""))
    assert isinstance(observed, accounts.AccountsObserved)
    assert observed.users[0].locked is True


def test_an_observer_session_refuses_to_lock_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(OBSERVER_ENV, "1")
    where = Endpoint("10.0.9.1", 22, HOST_KEY, "test")
    session = HostSession(Target("c", "s"), where, Credentials("root", None))
    with pytest.raises(HostError, match="the observer key only plans"):
        session.lock("dagsync apply")


def test_an_override_file_observer_key_replaces_the_declared_one(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps({"version": 1, "observer": {"key": f"{HOST_KEY} sandbox"}}))
    assert obs.public_key(None, path) == f"{HOST_KEY} sandbox"
    path.write_text('{"version": 1, "observer": {"key": "not a key"}}')
    with pytest.raises(DagsyncError, match=r"observer\.key is not one OpenSSH public key line"):
        obs.public_key(KEY, path)
    assert obs.public_key(KEY, None) == KEY


def test_dag_hosts_are_observer_targets_unless_servers_are_named() -> None:
    repo = load_repository(REPO)
    dag = {
        f"dag/{n}": Endpoint("10.0.9.1", 22, HOST_KEY, "test")
        for n in ("sbg-backup-1", "rbx-backup-1", "mx1", "mx2", "mon1", "sec1")
    }
    overrides = Overrides(hosts=dag)

    def keys(selection: Selection) -> list[str]:
        ctx = Context(repo, selection, overrides, RunOptions())
        return sorted(h.target.key for h in obs.hosts(ctx))

    assert keys(Selection(clients=("velo-savoie",))) == [
        "dag/mon1",
        "dag/mx1",
        "dag/mx2",
        "dag/rbx-backup-1",
        "dag/sbg-backup-1",
        "dag/sec1",
        "velo-savoie/db1",
        "velo-savoie/web1",
        "velo-savoie/web2",
    ]
    assert keys(Selection(servers=("velo-savoie/web1",))) == ["velo-savoie/web1"]
    assert keys(Selection(servers=("dag/mx2", "web2"))) == ["dag/mx2", "velo-savoie/web2"]
