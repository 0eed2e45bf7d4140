"""The apply scope on real git repositories: desired-state digests per target in the apply
records, and every target whose digest differs from its last successful apply in scope."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.commands.block import add_block
from dagsync.gitops.notes import read_applies
from dagsync.reconcile.core import Target
from dagsync.reconcile.digestpool import digests_of
from dagsync.reconcile.digests import covers, digest, digests
from dagsync.reconcile.driverspec import KINDS, Context
from dagsync.reconcile.lastapply import since_last_apply
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.records import record_run
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
from dagsync.reconcile.run import Selection
from dagsync.reconcile.scope import between
from dagsync.validate.repository import load_repository
from test_gitops_helpers import Scratch

PROJECT = Path(__file__).resolve().parents[1]
STATUS = {
    "ok": HostStatus.APPLIED,
    "unchanged": HostStatus.UNCHANGED,
    "failed": HostStatus.FAILED,
    "skipped": HostStatus.SKIPPED,
}
ALL_CLIENT_TARGETS = {
    "alpine-books/shop1",
    "cime-conseil/dev1",
    "cime-conseil/prod1",
    "velo-savoie/db1",
    "velo-savoie/web1",
    "velo-savoie/web2",
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    return Scratch.create(tmp_path, monkeypatch)


def _target(key: str) -> Target:
    client, name = key.split("/", 1)
    return Target(client, name)


_CLOCK = [0]


def apply_now(
    repo: Scratch,
    clients: Iterable[str] = (),
    servers: Iterable[str] = (),
    results: Mapping[str, str] | None = None,
    interrupted: Mapping[str, list[str]] | None = None,
) -> None:
    """Record an apply of the selection at HEAD as `dagsync apply` does: the targets the
    drivers would report (those of the selection, the storage of its servers, the mail
    hosts), each `ok` unless `results` says otherwise."""
    config = load_repository(repo.root, validate=False)
    selection = Selection(tuple(clients), tuple(servers))
    keys = {k for k in digests(config) if covers(config, selection, KINDS, k)}
    for client, server in config.servers():
        if selection.wants(client.id, server.name):
            keys.add(f"dag/{server.backup.storage}")
    keys |= set(results or {}) | set(interrupted or {})
    _CLOCK[0] += 1
    when = (dt.datetime(2025, 10, 10, tzinfo=dt.UTC) + dt.timedelta(minutes=_CLOCK[0])).isoformat()
    report = ApplyReport(
        Plan((), when),
        tuple(HostResult(_target(k), STATUS[(results or {}).get(k, "ok")]) for k in sorted(keys)),
        when,
        when,
    )
    record_run(repo.root, config, selection, KINDS, report, interrupted)


def scoped(repo: Scratch, fallback: str | None = None) -> set[str]:
    """The scope; the quick way (changed clients only) must give what reading all gives."""
    quick = {t.key for t in since_last_apply(repo.root, fallback).targets}
    full = {t.key for t in since_last_apply(repo.root, fallback, quick=False).targets}
    assert quick == full
    return quick


def edit(repo: Scratch, rel: str, old: str, new: str) -> None:
    path = repo.path(rel)
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def reschedule(repo: Scratch, client: str, server: str, old: str, new: str) -> None:
    edit(
        repo, f"clients/{client}/servers/{server}.yaml", f'schedule: "{old}"', f'schedule: "{new}"'
    )


def test_a_change_to_the_rendering_code_puts_every_target_in_scope(
    repo: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_now(repo)
    assert scoped(repo) == set()
    monkeypatch.setattr("dagsync.reconcile.digests.renderer_id", lambda: "9.9+rother")
    everything = set(digests(load_repository(repo.root, validate=False)))
    assert scoped(repo) == everything
    assert len(everything) == 19  # with DAG's monitoring and security hosts


def test_a_digest_is_pinned_and_the_same_in_another_process_and_time_zone(
    repo: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sha256 of '{"format":1,"state":{"a":null,"b":[1,"é"]}}' (sorted keys, no spaces, UTF-8)
    assert digest({"b": (1, "é"), "a": None}) == (
        "ccd1959cf054b9c7d5880ee0ae2b63029eb1b345e014bdf16b44e0b8b546c1d2"
    )
    with monkeypatch.context() as patch:  # the rendering code's id changes with every edit
        patch.setattr("dagsync.reconcile.digests.renderer_id", lambda: "0.0+rpinned")
        pinned = digests(load_repository(repo.root, validate=False))
    assert pinned["dag/rbx-backup-1"] == (
        "5a3e7d8c6cec3b8d686f75b4463a40a85ac2abb77eb6ce5ba6fa3e4299b2078b"
    )
    here = digests(load_repository(repo.root, validate=False))
    code = (
        "import json, sys; from pathlib import Path; "
        "from dagsync.validate.repository import load_repository; "
        "from dagsync.reconcile.digests import digests; "
        "print(json.dumps(digests(load_repository(Path(sys.argv[1]), validate=False))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Pacific/Auckland", "LANG": "C"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(repo.root)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=True,
    )
    assert json.loads(done.stdout) == here
    assert len(here) == 19  # 6 servers, 6 OVH sets, 2 storages, 2 mail, mon1, sec1, account


def test_a_comment_changes_no_digest_and_a_real_change_one_target(repo: Scratch) -> None:
    apply_now(repo)
    assert scoped(repo) == set()
    repo.touch("velo-savoie")
    repo.commit("A comment only")
    assert scoped(repo) == set()
    reschedule(repo, "velo-savoie", "web1", "02:00", "04:00")
    repo.commit("Back up web1 at 04:00")
    assert scoped(repo) == {"velo-savoie/web1"}


def test_two_clients_one_failure_stays_in_scope_until_applied(repo: Scratch) -> None:
    apply_now(repo)
    reschedule(repo, "velo-savoie", "web1", "02:00", "04:00")
    reschedule(repo, "alpine-books", "shop1", "02:30", "04:30")
    repo.commit("c1: two clients")
    assert scoped(repo) == {"velo-savoie/web1", "alpine-books/shop1"}
    apply_now(repo, clients=["velo-savoie"])
    apply_now(repo, clients=["alpine-books"], results={"alpine-books/shop1": "failed"})
    reschedule(repo, "cime-conseil", "dev1", "03:00", "05:00")
    repo.commit("c2: a third client")
    scope = since_last_apply(repo.root)
    assert {t.key for t in scope.targets} == {"alpine-books/shop1", "cime-conseil/dev1"}
    assert scope.clients == ("alpine-books", "cime-conseil")
    failed = next(t for t in scope.targets if t.key == "alpine-books/shop1")
    assert failed.reason.startswith("its last apply, at ") and failed.reason.endswith("failed")


def test_a_job_that_never_ran_leaves_its_targets_in_scope(repo: Scratch) -> None:
    apply_now(repo)
    reschedule(repo, "velo-savoie", "web1", "02:00", "04:00")
    reschedule(repo, "alpine-books", "shop1", "02:30", "04:30")
    repo.commit("c1: two clients")
    apply_now(repo, clients=["velo-savoie"])  # alpine-books' job was cancelled: no record
    reschedule(repo, "cime-conseil", "dev1", "03:00", "05:00")
    repo.commit("c2")
    assert scoped(repo) == {"alpine-books/shop1", "cime-conseil/dev1"}


def test_a_successful_rerun_clears_the_failure(repo: Scratch) -> None:
    apply_now(repo)
    reschedule(repo, "alpine-books", "shop1", "02:30", "04:30")
    repo.commit("c1")
    apply_now(repo, clients=["alpine-books"], results={"alpine-books/shop1": "failed"})
    assert scoped(repo) == {"alpine-books/shop1"}
    apply_now(repo, clients=["alpine-books"])  # the re-run of the same job
    assert scoped(repo) == set()
    reschedule(repo, "cime-conseil", "dev1", "03:00", "05:00")
    repo.commit("c2")
    assert scoped(repo) == {"cime-conseil/dev1"}
    notes = read_applies(repo.root, "HEAD~1")
    assert [r["result"] for r in notes if r["client"] == "alpine-books"] == ["failed", "ok"]


def test_a_network_wide_block_reaches_every_client_through_per_client_applies(
    repo: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_now(repo)
    base = repo.git("rev-parse", "HEAD")
    add_block(repo.root, "velo-savoie", "198.51.100.99", "scanner")
    # The pull request: its plan names the other clients' servers too.
    pr = between(repo.root, base)
    assert {t.key for t in pr.targets} >= ALL_CLIENT_TARGETS
    repo.commit("Block a scanner\n\nClient-Request: internal\nReason: attack")
    assert scoped(repo) >= ALL_CLIENT_TARGETS
    assert main(["changed-clients", "--since-last-apply", "--repo", str(repo.root)]) == 0
    jobs = capsys.readouterr().out.split()
    assert {"alpine-books", "cime-conseil", "velo-savoie"} <= set(jobs)
    for client in jobs:  # the CI matrix: one apply per client
        apply_now(repo, clients=[client])
    assert scoped(repo) == set()


def test_a_storage_move_reaches_both_storage_hosts_and_dag_is_addressable(
    repo: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_now(repo)
    edit(
        repo,
        "clients/alpine-books/servers/shop1.yaml",
        "storage: sbg-backup-1",
        "storage: rbx-backup-1",
    )
    repo.commit("Move shop1's backups to Roubaix")
    moved = {"alpine-books/shop1", "alpine-books/shop1@ovh"}  # its OVH backup storage too
    assert scoped(repo) == moved | {"dag/sbg-backup-1", "dag/rbx-backup-1"}
    assert main(["scope", "--format", "clients", "--repo", str(repo.root)]) == 0
    assert capsys.readouterr().out == "alpine-books\ndag\n"
    apply_now(repo, clients=["alpine-books"])  # touches rbx-backup-1 for shop1's key only
    assert scoped(repo) == {"dag/sbg-backup-1", "dag/rbx-backup-1"}
    recorded = read_applies(repo.root, "HEAD")[-1]
    assert recorded["client"] == "dag"
    assert all("digest" not in s for s in recorded["servers"] if s["server"].endswith("backup-1"))
    apply_now(repo, servers=["dag/sbg-backup-1"])
    assert scoped(repo) == {"dag/rbx-backup-1"}
    apply_now(repo, clients=["dag"])
    assert scoped(repo) == set()


def test_a_policies_change_puts_every_server_in_scope(repo: Scratch) -> None:
    apply_now(repo)
    edit(repo, "policies/dag.yaml", "  - 192.0.2.64/29\n", "  - 192.0.2.64/29\n  - 192.0.2.96/29\n")
    repo.commit("A new bastion range")
    keys = scoped(repo)
    assert keys == ALL_CLIENT_TARGETS | {f"{k}@ovh" for k in ALL_CLIENT_TARGETS}


def test_an_interrupted_target_stays_in_scope_until_an_apply_converges(repo: Scratch) -> None:
    apply_now(repo)
    reschedule(repo, "velo-savoie", "web1", "02:00", "04:00")
    reschedule(repo, "velo-savoie", "web2", "02:00", "04:00")
    repo.commit("c1")
    apply_now(
        repo,
        clients=["velo-savoie"],
        interrupted={"velo-savoie/web2": ["backup: job script"]},
    )
    (record,) = [r for r in read_applies(repo.root, "HEAD") if r["client"] == "velo-savoie"]
    assert record["result"] == "interrupted"
    web2 = next(s for s in record["servers"] if s["server"] == "web2")
    assert web2 == {
        "server": "web2",
        "result": "interrupted",
        "resources_changed": ["backup: job script"],
        "error": "apply interrupted after backup: job script",
    }
    assert scoped(repo) == {"velo-savoie/web2"}
    apply_now(repo, clients=["velo-savoie"])
    assert scoped(repo) == set()


def test_targets_never_applied_compare_with_the_fallback_revision(repo: Scratch) -> None:
    seed = repo.git("rev-parse", "HEAD")
    assert scoped(repo) == {*digests(load_repository(repo.root, validate=False))}
    assert scoped(repo, seed) == set()
    reschedule(repo, "velo-savoie", "db1", "02:45", "03:45")
    repo.commit("c1")
    assert scoped(repo, seed) == {"velo-savoie/db1"}
    empty = repo.git("hash-object", "-t", "tree", "/dev/null")
    assert len(scoped(repo, empty)) == 19


def test_unknown_selection_is_refused_and_dag_hosts_are_known(repo: Scratch) -> None:
    from dagsync.errors import DagsyncError
    from dagsync.reconcile.drivers import check_selection

    config = load_repository(repo.root, validate=False)
    check_selection(config, Selection(("dag",), ()))
    check_selection(config, Selection((), ("dag/sbg-backup-1", "dag/mx1", "dag/ovh-account")))
    with pytest.raises(DagsyncError, match="no server `dag/nowhere`"):
        check_selection(config, Selection((), ("dag/nowhere",)))


def test_worker_processes_give_the_same_digests_as_one_process(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import validate as generator

    generator.generate(tmp_path, 60)
    alone = digests(load_repository(tmp_path, validate=False))
    pooled = digests_of(tmp_path, jobs=2)
    assert pooled == alone
    assert len(pooled) == 60 * 3 * 2 + 7


def test_dag_hosts_are_planned_whole_by_client_dag_or_their_name() -> None:
    from dagsync.reconcile.backup.driver import build
    from dagsync.reconcile.drivers import _mail_concerned
    from dagsync.reconcile.run import RunOptions
    from dagsync.reconcile.transport.inventory import Overrides

    config = load_repository(PROJECT, validate=False)
    every = {f"{c.id}/{s.name}" for c, s in config.servers()}
    run = build(config, Selection(("dag",), ()), Overrides())
    assert run.whole == set(run.storages) == {"sbg-backup-1", "rbx-backup-1"}
    assert run.sources == every  # read for their keys only: they are not planned
    one = build(config, Selection((), ("dag/sbg-backup-1",)), Overrides())
    assert one.whole == {"sbg-backup-1"} and set(one.storages) == {"sbg-backup-1"}
    assert one.sources == set(one.declared["sbg-backup-1"])
    client = build(config, Selection(("alpine-books",), ()), Overrides())
    assert client.whole == set() and client.sources == set()
    full = build(config, Selection(), Overrides())  # as before: the storages servers use
    assert set(full.storages) == {"sbg-backup-1"} and full.sources == set()

    def concerned(clients: tuple[str, ...], servers: tuple[str, ...]) -> bool:
        ctx = Context(config, Selection(clients, servers), Overrides(), RunOptions())
        return _mail_concerned(ctx)

    assert concerned(("dag",), ())
    assert concerned((), ("dag/mx1",))
    assert not concerned((), ("dag/sbg-backup-1",))
    assert not concerned((), ("velo-savoie/web1",))


def test_the_quick_scope_reads_only_changed_clients_and_agrees(repo: Scratch) -> None:
    from dagsync.gitops.repo import open_repo
    from dagsync.reconcile import lastapply as scopes

    def quick() -> set[str] | None:
        git = open_repo(repo.root)
        head = repo.git("rev-parse", "HEAD")
        found = scopes._quick(git, head, scopes.history(git, head))
        return None if found is None else {t.key for t in found.targets}

    assert quick() is None  # nothing applied yet: every client is read
    apply_now(repo)
    assert quick() == set()
    reschedule(repo, "velo-savoie", "web1", "02:00", "04:00")
    repo.commit("one server")
    assert quick() == scoped(repo) == {"velo-savoie/web1"}
    edit(
        repo,
        "clients/alpine-books/servers/shop1.yaml",
        "storage: sbg-backup-1",
        "storage: rbx-backup-1",
    )
    repo.commit("a storage move")
    expected = {"velo-savoie/web1", "alpine-books/shop1", "alpine-books/shop1@ovh"}
    assert quick() == scoped(repo) == expected | {"dag/sbg-backup-1", "dag/rbx-backup-1"}
    apply_now(repo)
    add_block(repo.root, "cime-conseil", "198.51.100.77", "scanner")
    repo.commit("a network-wide block")
    assert quick() == scoped(repo) >= ALL_CLIENT_TARGETS
    repo.touch("alpine-books")  # uncommitted: the work tree is not HEAD, read everything
    assert quick() is None


def test_bad_input_gives_a_located_error_or_a_skipped_record(
    repo: Scratch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    apply_now(repo)
    head = repo.git("rev-parse", "HEAD")
    forged = {
        "format": 1,
        "kind": "apply",
        "client": "velo-savoie",
        "servers": [{"server": "web1", "result": "ok", "digest": "not-a-digest; rm -rf /"}],
        "started_at": "2025-10-10T10:00:00+00:00",
        "finished_at": "2025-10-10T10:00:01+00:00",
        "applied_by": "mallory",
        "dagsync_version": "0",
    }
    note = repo.top / "forged.json"
    note.write_text(json.dumps(forged) + "\n")
    repo.git("notes", "--ref=dagsync", "append", "-F", str(note), head)
    assert scoped(repo) == set()  # the forged record is skipped, the good one stands
    assert "`digest` must be a sha256 in hexadecimal" in caplog.text
    path = repo.path("clients/velo-savoie/servers/web1.yaml")
    path.write_text(path.read_text().replace("schedule:", "schedule: [", 1))
    repo.commit("broken YAML")
    assert main(["scope", "--repo", str(repo.root)]) == 2
    err = capsys.readouterr().err
    assert "clients/velo-savoie/servers/web1.yaml:" in err and "Traceback" not in err
