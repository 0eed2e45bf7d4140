"""The backup driver's plan and its three-phase apply (prepare, authorise, finish) at the
command boundary, without root: the server and its storage are `FakeHost`s; the exact order
of the commands, the storage's rendered keys, the escrow copy and every outcome are asserted,
failures included.  The host tests (tests/test_backup_hosts.py) remain the end-to-end proof."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dagsync.errors import DagsyncError
from dagsync.reconcile import escrow
from dagsync.reconcile.backup import driver, job
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport, HostStatus
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport import session
from dagsync.reconcile.transport.errors import Unreachable
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    Endpoint,
    Overrides,
)
from dagsync.validate.repository import Repository, load_repository
from fakes import FakeHost, FakeNetwork, failed, ok

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
WEB1, STORAGE = "203.0.113.41", "10.0.0.5"
STORAGE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqRrp1LA/NrvQiUz6oIQpfItrlU99S9E1raF1nK5bVa"
OVERRIDES = Overrides(hosts={"dag/sbg-backup-1": Endpoint(STORAGE, 2222, STORAGE_KEY, "test")})
REPOSITORY = "ssh://borg@10.0.0.5:2222/srv/borg/velo-savoie/web1"
NEW_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAInewkey dagsync-borg velo-savoie/web1\n"
SECRETS = "pass phrase\n@@borg-key@@\nBORG_KEY 0123abcd\n"
EMPTY_STORAGE = ok("home\t/srv/borg\n")
WEB1_ONLY = Selection(("velo-savoie",), ("web1",))
PLANNED = [
    "passphrase",
    "ssh key",
    "known_hosts",
    "repository",
    "escrow",
    "job script",
    "cron",
]


@pytest.fixture
def escrow_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV, "DAGSYNC_SSH_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DAGSYNC_OBSERVER", raising=False)
    folder = tmp_path / "escrow"
    monkeypatch.setenv(escrow.ESCROW_ENV, str(folder))
    return folder


@pytest.fixture
def repo(repo_copy: Path, escrow_dir: Path) -> Repository:
    return load_repository(repo_copy)


def network(monkeypatch: pytest.MonkeyPatch, *hosts: FakeHost) -> FakeNetwork:
    net = FakeNetwork(*hosts)
    monkeypatch.setattr(session, "connect", net.connect)
    return net


def plan(repo: Repository, overrides: Overrides = OVERRIDES) -> Plan:
    return driver.plan(repo, WEB1_ONLY, overrides, RunOptions(), now=NOW)


def apply(repo: Repository, answer: bool = True) -> ApplyReport:
    return driver.apply(
        repo, WEB1_ONLY, OVERRIDES, RunOptions(holder="ops"), lambda p: answer, now=NOW
    )


def outcomes(report: ApplyReport, key: str) -> list[tuple[str, str, str]]:
    (result,) = [r for r in report.results if r.target.key == key]
    return [(o.change.resource, str(o.status), o.message) for o in result.outcomes]


def web1(*replies: CommandResult | BaseException) -> FakeHost:
    return FakeHost(WEB1, [ok(""), *replies])


# --- plan ----------------------------------------------------------------------------------


def test_a_new_server_plans_its_keys_repository_escrow_job_and_the_storages_keys(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, escrow_dir: Path
) -> None:
    net = network(monkeypatch, web1(), FakeHost(STORAGE, [EMPTY_STORAGE]))
    result = plan(repo)
    storage, server = result.targets
    assert storage.target.key == "dag/sbg-backup-1" and storage.error is None
    assert [(c.resource, c.summary) for c in storage.changes] == [
        (
            "authorized_keys",
            "/srv/borg/.ssh/authorized_keys: each server restricted to its own repository",
        )
    ]
    assert server.target.key == "velo-savoie/web1" and server.error is None
    assert [c.resource for c in server.changes] == PLANNED
    assert server.changes[3].summary == f"initialise {REPOSITORY} (repokey-blake2)"
    assert server.changes[4].summary == (
        f"recovery copy of the passphrase and repository key to {escrow_dir}"
    )
    assert net[WEB1].log == ["connect", "run", "close"]
    assert net[STORAGE].log == ["connect", "run", "close"]
    assert [c[:2] for c in net.connects] == [(WEB1, 22), (STORAGE, 2222)]


def test_a_storage_without_address_is_an_error_and_nothing_is_contacted(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(monkeypatch)
    storage, server = plan(repo, Overrides()).targets
    reason = (
        "backup storage sbg-backup-1: no address and host_key in policies/dag.yaml (nor "
        "`dag/sbg-backup-1` in the hosts override file): refusing to connect"
    )
    assert storage.error == reason
    assert server.error == f"backup storage sbg-backup-1 cannot be reached: {reason}"
    assert net.connects == []


def test_an_unreachable_storage_never_leads_to_a_repository_init(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(monkeypatch, web1(), FakeHost(STORAGE, refuse=Unreachable("cannot connect: timed out")))
    storage, server = plan(repo).targets
    assert storage.error == "cannot connect: timed out"
    assert "repository" not in [c.resource for c in server.changes]


def test_a_server_that_cannot_be_read_is_unknown_not_new(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(
        monkeypatch,
        FakeHost(WEB1, [failed(1, "Permission denied")]),
        FakeHost(STORAGE, [EMPTY_STORAGE]),
    )
    _, server = plan(repo).targets
    assert server.changes == ()
    assert server.unknown == (("backup", "reading the backup files failed (1): Permission denied"),)


# --- apply ---------------------------------------------------------------------------------


def test_apply_prepares_the_server_authorises_its_new_key_then_finishes(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, escrow_dir: Path
) -> None:
    server = web1(ok(), ok(), ok(), ok(NEW_KEY), ok(), ok(SECRETS), ok(), ok())
    storage = FakeHost(STORAGE, [EMPTY_STORAGE, ok()])
    network(monkeypatch, server, storage)
    report = apply(repo)
    assert report.ok
    assert "ssh-keygen -q -t ed25519" in server.calls[1].command  # first: its key is needed
    assert "head -c 32 /dev/urandom" in server.calls[2].command
    assert '"$tmp" /root/.config/dagsync/borg-known_hosts\n' in server.calls[3].command  # renamed
    assert server.calls[4].command == f"head -n1 {job.SSH_KEY_FILE}.pub"
    assert "borg init --encryption=repokey-blake2" in server.calls[5].command
    assert server.calls[5].timeout == 300
    assert server.calls[6].command.startswith("cat /root/.config/dagsync/borg-passphrase && ")
    assert server.log[-2:] == ["release 10", "close"] and storage.log[-2:] == [
        "release 10",
        "close",
    ]
    # the storage's keys are rendered with the key generated by this apply, restricted
    written = storage.calls[1].stdin
    assert written is not None
    assert (
        b'command="borg serve --restrict-to-repository /srv/borg/velo-savoie/web1",restrict '
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAInewkey" in written
    )
    assert outcomes(report, "dag/sbg-backup-1") == [("authorized_keys", "applied", "")]
    copy = escrow_dir / "velo-savoie" / "web1.json"
    assert outcomes(report, "velo-savoie/web1") == [
        ("ssh key", "applied", ""),
        ("passphrase", "applied", ""),
        ("known_hosts", "applied", ""),
        ("repository", "applied", ""),
        ("escrow", "applied", f"copy in {copy}"),
        ("job script", "applied", ""),
        ("cron", "applied", ""),
    ]
    record = json.loads(copy.read_text())
    assert (record["passphrase"], record["borg_key"], record["repository"]) == (
        "pass phrase",
        "BORG_KEY 0123abcd\n",
        REPOSITORY,
    )


def test_a_storage_that_refuses_the_keys_stops_init_and_escrow_but_not_the_job(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = web1(ok(), ok(), ok(), ok(NEW_KEY), ok(), ok())
    storage = FakeHost(STORAGE, [EMPTY_STORAGE, failed(1, "chown: invalid user: 'borg:'")])
    network(monkeypatch, server, storage)
    report = apply(repo)
    assert outcomes(report, "dag/sbg-backup-1") == [
        ("authorized_keys", "failed", "exit code 1: chown: invalid user: 'borg:'")
    ]
    refused = "the storage did not authorise the key"
    assert outcomes(report, "velo-savoie/web1")[3:] == [
        ("repository", "failed", refused),
        ("escrow", "failed", refused),
        ("job script", "applied", ""),
        ("cron", "applied", ""),
    ]
    assert len(server.calls) == 7  # read, 3 prepare, public key, job, cron: no init, no escrow
    assert not report.ok


def test_a_failed_escrow_stops_the_server_before_its_job(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = web1(ok(), ok(), ok(), ok(NEW_KEY), ok(), ok("pass phrase\n"))
    network(monkeypatch, server, FakeHost(STORAGE, [EMPTY_STORAGE, ok()]))
    report = apply(repo)
    assert outcomes(report, "velo-savoie/web1")[4:] == [
        (
            "escrow",
            "failed",
            "escrow failed: the passphrase or the repository key could not be read",
        ),
        ("job script", "skipped", "not attempted"),
        ("cron", "skipped", "not attempted"),
    ]
    result = next(r for r in report.results if r.target.key == "velo-savoie/web1")
    assert result.status is HostStatus.FAILED


def test_an_unreadable_secret_is_an_escrow_failure_with_the_exit_code(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = web1(ok(), ok(), ok(), ok(NEW_KEY), ok(), failed(1, "cat: No such file\n"))
    network(monkeypatch, server, FakeHost(STORAGE, [EMPTY_STORAGE, ok()]))
    report = apply(repo)
    assert outcomes(report, "velo-savoie/web1")[4] == (
        "escrow",
        "failed",
        "escrow failed: exit code 1: cat: No such file",
    )


def test_a_failed_key_generation_stops_the_preparation(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = web1(
        failed(1, "ssh-keygen: not found"),
        failed(1, "head: cannot open"),
        failed(2, "Connection closed by remote host"),
    )
    network(monkeypatch, server, FakeHost(STORAGE, [EMPTY_STORAGE, ok()]))
    report = apply(repo)
    assert server.calls[2].command == f"head -n1 {job.SSH_KEY_FILE}.pub"
    assert outcomes(report, "velo-savoie/web1") == [
        ("ssh key", "failed", "exit code 1: ssh-keygen: not found"),
        ("repository", "failed", "exit code 2: Connection closed by remote host"),
        ("passphrase", "skipped", "not attempted"),
        ("known_hosts", "skipped", "not attempted"),
        ("escrow", "skipped", "not attempted"),
        ("job script", "skipped", "not attempted"),
        ("cron", "skipped", "not attempted"),
    ]


def test_a_declined_confirmation_changes_nothing_and_releases_both_locks(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, storage = web1(), FakeHost(STORAGE, [EMPTY_STORAGE])
    network(monkeypatch, server, storage)
    with pytest.raises(DagsyncError, match=r"^apply cancelled: nothing was changed$"):
        apply(repo, answer=False)
    assert len(server.calls) == 1 and len(storage.calls) == 1
    assert server.log[-2:] == ["release 10", "close"] and storage.log[-2:] == [
        "release 10",
        "close",
    ]
