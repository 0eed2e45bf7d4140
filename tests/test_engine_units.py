"""The engine and the host session at their command boundary, without root: every host is a
`FakeHost` answering with recorded output (tests/data/reconcile/nft), so the exact commands
sent, their order and the results are asserted.  The host tests remain the end-to-end proof."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from dagsync.errors import DagsyncError
from dagsync.reconcile import lock
from dagsync.reconcile.core import Action, Change, DiffOptions, Target, Unknown
from dagsync.reconcile.hosts import confirm, engine, firewall
from dagsync.reconcile.hosts.work import Observation, Work, works_from_plan, works_from_repository
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport, HostStatus
from dagsync.reconcile.resource import ApplyOptions, CommandResult, Status
from dagsync.reconcile.run import RunOptions, Selection, parallel
from dagsync.reconcile.transport import session
from dagsync.reconcile.transport.errors import CommandTimeout, Unreachable
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    Credentials,
    Endpoint,
    Overrides,
)
from dagsync.validate.repository import Repository, load_repository
from fakes import FakeClock, FakeHost, FakeNetwork, facts_reply, failed, ok

DATA = Path(__file__).parent / "data" / "reconcile"
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
WEB1, WEB2, DB1 = "203.0.113.41", "203.0.113.42", "203.0.113.43"
FIREWALL = frozenset({firewall.KIND})
HOLDER = '{"by": "ops@laptop", "pid": 4242, "since": "2026-11-24T09:58:00+00:00", "command": "dagsync apply"}'


def nft(name: str, pending: str = "no") -> CommandResult:
    """The firewall read command's recorded output on a host without the boot file."""
    text = (DATA / "nft" / f"{name}.json").read_text()
    return ok(f"- absent\npending {pending}\n{text}")


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        HOSTS_FILE_ENV,
        SSH_KEY_ENV,
        SSH_USER_ENV,
        "DAGSYNC_SSH_KEY_FILE",
        "DAGSYNC_OBSERVER",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(repo_copy: Path) -> Repository:
    return load_repository(repo_copy)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(confirm, "time", fake)
    return fake


def network(monkeypatch: pytest.MonkeyPatch, *hosts: FakeHost) -> FakeNetwork:
    net = FakeNetwork(*hosts)
    monkeypatch.setattr(session, "connect", net.connect)
    return net


def options(**changes: object) -> RunOptions:
    base = RunOptions(
        kinds=FIREWALL, holder=HOLDER, lock_ttl=600, apply=ApplyOptions(confirm_timeout=30.0)
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def web1_only() -> Selection:
    return Selection(("velo-savoie",), ("web1",))


def plan(repo: Repository, selection: Selection, **changes: object) -> Plan:
    return engine.plan(repo, selection, Overrides(), options(**changes), now=NOW)


def apply(
    repo: Repository,
    selection: Selection,
    answer: bool = True,
    saved: Plan | None = None,
    **changes: object,
) -> tuple[ApplyReport, list[Plan]]:
    shown: list[Plan] = []

    def confirm_fn(p: Plan) -> bool:
        shown.append(p)
        return answer

    report = engine.apply(
        repo, selection, Overrides(), options(**changes), confirm_fn, saved=saved, now=NOW
    )
    return report, shown


# --- plan ----------------------------------------------------------------------------------


def test_plan_reads_each_server_in_one_round_trip_then_closes_and_diffs(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    result = plan(repo, web1_only())
    host = net[WEB1]
    assert host.log == ["connect", "run", "close"]
    assert net.connects == [(WEB1, 22, "root", 10.0)]
    (call,) = host.calls
    assert call.timeout == 120.0 and call.stdin is None
    assert f"( {firewall.read(_desired_firewall(repo))}" in call.command
    (target,) = result.targets
    assert target.target == Target("velo-savoie", "web1", production=True)
    assert target.error is None and target.unknown == ()
    assert [(c.kind, c.action, c.summary) for c in target.changes] == [
        ("firewall", Action.CREATE, "create table inet dagsync")
    ]
    assert list(target.fingerprints) == ["firewall"]
    assert result.allow_destroy is False and result.overrides is None


def _desired_firewall(repo: Repository) -> firewall.FirewallDesired:
    works = works_from_repository(repo, web1_only(), Overrides(), NOW, FIREWALL)
    assert works[0].desired is not None
    state = dict(works[0].desired.states)["firewall"]
    assert isinstance(state, firewall.FirewallDesired)
    return state


def test_an_unreachable_server_is_an_error_of_its_own_and_the_others_are_planned(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(
        monkeypatch,
        FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]),
        FakeHost(DB1, refuse=Unreachable(f"cannot connect to {DB1}:22: timed out")),
    )
    result = plan(repo, Selection(("velo-savoie",)))
    by_key = {t.target.key: t for t in result.targets}
    assert [t.target.key for t in result.targets] == [
        "velo-savoie/db1",
        "velo-savoie/web1",
        "velo-savoie/web2",
    ]
    assert by_key["velo-savoie/db1"].error == f"cannot connect to {DB1}:22: timed out"
    assert by_key["velo-savoie/web2"].error == f"cannot connect to {WEB2}:22: no route"
    assert by_key["velo-savoie/web1"].error is None
    assert len(by_key["velo-savoie/web1"].changes) == 1
    assert net[DB1].log == ["connect"]  # refused: nothing to close


def test_a_section_missing_from_the_output_is_unknown_with_the_error_output_never_absent(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(monkeypatch, FakeHost(WEB1, [facts_reply({}, stray_stderr="bash: line 3: oom\n")]))
    (target,) = plan(repo, web1_only()).targets
    assert target.error is None and target.changes == ()
    assert target.unknown == (("firewall", "no output from the read command (bash: line 3: oom)"),)
    assert "firewall" in target.fingerprints  # an unknown state is fingerprinted too


def test_an_empty_answer_is_unknown_with_the_exit_code(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(monkeypatch, FakeHost(WEB1, [failed(255)]))
    (target,) = plan(repo, web1_only()).targets
    assert target.unknown == (("firewall", "no output from the read command (exit code 255)"),)
    assert target.changes == ()


def test_a_failed_or_garbled_read_is_unknown_and_proposes_no_change(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(
        monkeypatch,
        FakeHost(WEB1, [facts_reply({"firewall": failed(1, "nft: command not found")})]),
        FakeHost(WEB2, [facts_reply({"firewall": ok("<html>login banner</html>\n")})]),
    )
    result = plan(repo, Selection(("velo-savoie",), ("web1", "web2")))
    web1, web2 = result.targets
    assert web1.unknown == (("firewall", "nft -j list ruleset failed (1): nft: command not found"),)
    assert web2.unknown == (("firewall", "unexpected output: '<html>login banner</html>' ''"),)
    assert web1.changes == () and web2.changes == ()


def test_a_read_that_times_out_is_an_error_and_the_connection_is_closed(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeout = CommandTimeout(f"{WEB1}: a command ran over 120.0 s: 'printf'")
    net = network(monkeypatch, FakeHost(WEB1, [timeout]))
    (target,) = plan(repo, web1_only()).targets
    assert target.error == f"{WEB1}: a command ran over 120.0 s: 'printf'"
    assert target.changes == () and target.fingerprints == {}
    assert net[WEB1].log == ["connect", "run", "close"]


def test_validation_failing_alongside_the_reads_propagates_its_error(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))

    def invalid() -> None:
        raise DagsyncError("clients/velo-savoie/servers/web1.yaml: 3 errors")

    with pytest.raises(DagsyncError, match=r"^clients/velo-savoie/servers/web1.yaml: 3 errors$"):
        engine.plan(repo, web1_only(), Overrides(), options(), now=NOW, alongside=invalid)
    assert net[WEB1].log == ["connect", "run", "close"]


def test_no_desired_state_is_an_error_of_the_target() -> None:
    where = Endpoint(WEB1, 22, "ssh-ed25519 AAAA", "declared")
    work = Work(Target("c", "s"), where, ())
    planned = engine.target_plan(Observation(work), DiffOptions())
    assert planned.error == "no desired state"
    assert planned.address == WEB1 and planned.changes == ()


# --- apply ---------------------------------------------------------------------------------


def test_apply_locks_reads_confirms_writes_proves_access_then_releases_and_closes(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(
        monkeypatch,
        FakeHost(
            WEB1,
            [facts_reply({"firewall": nft("empty")}), ok()],
            fresh_replies=[ok("confirmed\n")],
        ),
    )
    report, shown = apply(repo, web1_only())
    host = net[WEB1]
    assert host.log == [
        "connect",
        "stream",
        "readline 15",
        "run",
        "run",
        "connect fresh",
        "run fresh",
        "close fresh",
        "release 10",
        "close",
    ]
    (stream,) = host.streams
    assert stream.command == lock.acquire_command(HOLDER, 600)
    read, write, disarm = host.calls
    assert "@@" in read.command and read.stdin is None
    assert write.command.startswith("set -e\numask 077\n")
    assert 'nft -c -f "$tmp"' in write.command and 'nft -f "$tmp"' in write.command
    assert write.stdin == str(shown[0].targets[0].changes[0].payload["text"]).encode()
    assert write.stdin.startswith(b"# velo-savoie/web1: managed by dagsync")
    assert disarm.fresh and disarm.timeout == 120.0
    assert net.connects == [(WEB1, 22, "root", 10.0), (WEB1, 22, "root", 5.0)]  # fresh: 5 s
    assert disarm.command.endswith("else echo confirmed; fi")
    assert len(shown) == 1 and shown[0].has_changes
    (result,) = report.results
    assert result.status is HostStatus.APPLIED and result.message == ""
    assert [(o.change.summary, o.status, o.message) for o in result.outcomes] == [
        ("create table inet dagsync", Status.APPLIED, "confirmed over a fresh SSH connection")
    ]
    assert report.ok


def test_a_declined_confirmation_changes_nothing_and_releases_every_lock(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    with pytest.raises(DagsyncError, match=r"^apply cancelled: nothing was changed$"):
        apply(repo, web1_only(), answer=False)
    assert net[WEB1].log == ["connect", "stream", "readline 15", "run", "release 10", "close"]
    assert len(net[WEB1].calls) == 1  # the read only


def test_a_lock_held_by_another_apply_names_its_holder_and_reads_nothing(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = '{"by": "anna@ci", "pid": 77, "since": "2026-11-24T09:00:00+00:00", "command": "dagsync apply --yes"}'
    net = network(
        monkeypatch, FakeHost(WEB1, lock_lines=["HELD"], lock_rest=(other + "\n", lock.BUSY))
    )
    shown: list[Plan] = []

    def confirm(plan: Plan) -> bool:
        shown.append(plan)
        return True

    with pytest.raises(lock.ApplyLocked) as refused:
        engine.apply(repo, web1_only(), Overrides(), options(), confirm, now=NOW)
    assert str(refused.value) == (
        "another apply holds 1 of the 1 host(s) of this run (velo-savoie/web1 is locked by "
        "another apply: anna@ci (pid 77, since 2026-11-24T09:00:00+00:00, `dagsync apply "
        "--yes`); wait for it to finish (a lock left by a killed run is released when its "
        "connection drops, or after 600 s at most)); every lock this run took was released "
        "and nothing was changed"
    )
    assert refused.value.exit_code == 2
    assert net[WEB1].calls == []
    assert net[WEB1].log == [
        "connect",
        "stream",
        "readline 15",
        "read_rest 15",
        "release 1",
        "close",
    ]
    assert shown == []  # no plan shown, no confirmation asked


def test_a_lock_that_does_not_answer_in_time_fails_the_host(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(monkeypatch, FakeHost(WEB1, lock_lines=[]))
    report, _ = apply(repo, web1_only())
    (result,) = report.results
    assert (result.status, result.message) == (
        HostStatus.FAILED,
        f"{WEB1}: no answer in 15.0 s",
    )
    assert net[WEB1].log == ["connect", "stream", "readline 15", "release 1", "close"]


def test_a_lock_command_that_fails_otherwise_shows_its_exit_code_and_output(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(
        monkeypatch,
        FakeHost(WEB1, lock_lines=["sh: 1: flock: not found"], lock_rest=("", 127)),
    )
    report, _ = apply(repo, web1_only())
    assert report.results[0].message == (
        "velo-savoie/web1: cannot take the lock (exit 127): sh: 1: flock: not found "
    )


def test_a_failed_write_fails_the_host_with_the_stage_and_error_output(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = network(
        monkeypatch,
        FakeHost(
            WEB1,
            [facts_reply({"firewall": nft("empty")}), failed(4, "Error: syntax error\n")],
        ),
    )
    report, _ = apply(repo, web1_only())
    (result,) = report.results
    assert result.status is HostStatus.FAILED
    assert [(o.status, o.message) for o in result.outcomes] == [
        (Status.FAILED, "nft -f failed (previous ruleset kept): Error: syntax error")
    ]
    assert "connect fresh" not in net[WEB1].log


def test_a_connection_lost_during_apply_fails_the_host_and_marks_the_rest_not_attempted(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(
        monkeypatch,
        FakeHost(
            WEB1,
            [
                facts_reply({"firewall": nft("empty")}),
                Unreachable(f"{WEB1}: connection lost: EOF"),
            ],
        ),
    )
    report, _ = apply(repo, web1_only())
    (result,) = report.results
    assert (result.status, result.message) == (
        HostStatus.FAILED,
        f"{WEB1}: connection lost: EOF",
    )
    assert [(o.status, o.message) for o in result.outcomes] == [(Status.SKIPPED, "not attempted")]


def test_a_rolled_back_firewall_stops_the_other_changes_of_that_host(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    host = FakeHost(
        WEB1,
        [ok(), ok("yes\n")],
        fresh_replies=[CommandResult(255, "", "Connection refused")],
    )
    network(monkeypatch, host)
    ours = session.HostSession(
        Target("velo-savoie", "web1"),
        Endpoint(WEB1, 22, "ssh-ed25519 AAAA", "declared"),
        Credentials("root", None),
    ).open()
    wall = Change("firewall", Action.UPDATE, "inet dagsync", "update", payload={"text": "t\n"})
    account = Change("accounts", Action.CREATE, "claire", "create user claire")
    outcomes = engine._apply_changes(ours, [account, wall], ApplyOptions(confirm_timeout=30.0))
    assert [(o.change.kind, o.status, o.message) for o in outcomes] == [
        (
            "firewall",
            Status.ROLLED_BACK,
            "a fresh SSH connection failed after loading the new ruleset (Connection refused); "
            "the host restored its previous ruleset",
        )
    ]
    assert clock.sleeps == [30.0]
    assert len(host.calls) == 3  # write, disarm (fresh), marker check: no account command


def test_an_unreadable_kind_fails_a_host_that_has_nothing_else_to_do(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": failed(1, "nft: denied")})]))
    report, shown = apply(repo, web1_only())
    (result,) = report.results
    assert (result.status, result.outcomes) == (HostStatus.FAILED, ())
    assert result.message == "could not read firewall: nft -j list ruleset failed (1): nft: denied"
    assert shown == []


# --- apply of a saved plan -----------------------------------------------------------------


def _saved(repo: Repository, monkeypatch: pytest.MonkeyPatch, name: str = "empty") -> Plan:
    network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft(name)})]))
    return plan(repo, web1_only())


def test_a_saved_plan_still_matching_applies_the_plan_computed_now(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _saved(repo, monkeypatch)
    net = network(
        monkeypatch,
        FakeHost(
            WEB1, [facts_reply({"firewall": nft("empty")}), ok()], fresh_replies=[ok("confirmed")]
        ),
    )
    report, shown = apply(repo, Selection(), saved=saved)
    assert shown == [saved] and report.plan is shown[0]  # equal to the file: applied
    assert shown[0] is not saved  # what is applied is computed from the repository
    assert report.results[0].status is HostStatus.APPLIED
    assert net.connects == [(WEB1, 22, "root", 10.0), (WEB1, 22, "root", 5.0)]


def test_a_saved_plan_is_refused_when_the_server_changed_since(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _saved(repo, monkeypatch)
    net = network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("converged-web1")})]))
    with pytest.raises(DagsyncError) as caught:
        apply(repo, Selection(), saved=saved)
    assert str(caught.value) == (
        "the servers no longer match the saved plan, nothing was applied: velo-savoie/web1: "
        "firewall changed since the plan was computed. Run `dagsync plan` again."
    )
    assert net[WEB1].log[-2:] == ["release 10", "close"]
    assert len(net[WEB1].calls) == 1


def test_a_saved_plan_deleting_something_needs_allow_destroy(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _saved(repo, monkeypatch)
    gone = Change("accounts", Action.DELETE, "olduser", "delete user olduser")
    target = replace(saved.targets[0], changes=(*saved.targets[0].changes, gone))
    destructive = replace(saved, targets=(target,))
    network(monkeypatch, FakeHost(WEB1, [facts_reply({"firewall": nft("empty")})]))
    with pytest.raises(
        DagsyncError,
        match=r"^the plan deletes 1 resource\(s\) \(delete user olduser\): apply it with --allow-destroy$",
    ):
        apply(repo, Selection(), saved=destructive)


def test_a_saved_plan_naming_a_server_gone_from_git_is_refused(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _saved(repo, monkeypatch)
    moved = replace(saved.targets[0], target=Target("velo-savoie", "web9"))
    with pytest.raises(
        DagsyncError, match=r"^velo-savoie/web9 is in the plan but not in the repository$"
    ):
        works_from_plan(repo, replace(saved, targets=(moved,)), Overrides())


def test_targets_without_changes_or_in_error_are_not_reached_again(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _saved(repo, monkeypatch)
    quiet = replace(saved.targets[0], changes=())
    broken = replace(saved.targets[0], target=Target("velo-savoie", "db1"), error="timed out")
    assert works_from_plan(repo, replace(saved, targets=(quiet, broken)), Overrides()) == []


def test_a_host_whose_saved_part_failed_to_lock_is_failed_and_the_others_checked(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _saved(repo, monkeypatch)
    network(monkeypatch, FakeHost(WEB1, refuse=Unreachable("no route to host")))
    report, shown = apply(repo, Selection(), saved=saved)
    assert shown == []  # the plan computed now has nothing to change: nothing to confirm
    assert [(r.status, r.message) for r in report.results] == [
        (HostStatus.FAILED, "no route to host")
    ]


# --- pieces ----------------------------------------------------------------------------------


def test_parallel_keeps_the_order_of_its_items() -> None:
    assert parallel(lambda n: n * n, [3, 1, 2], 2) == [9, 1, 4]
    assert parallel(lambda n: n + 1, [5], 8) == [6]
    assert parallel(lambda n: n, [], 8) == []


def test_an_observation_fingerprints_an_unknown_state_by_its_reason() -> None:
    where = Endpoint(WEB1, 22, "ssh-ed25519 AAAA", "declared")
    observation = Observation(Work(Target("c", "s"), where, ()))
    observation.observed = {"firewall": Unknown("nft: denied")}
    other = Observation(observation.work, {"firewall": Unknown("timeout")})
    assert observation.fingerprints().keys() == {"firewall"}
    assert observation.fingerprints() != other.fingerprints()


def test_apply_host_without_a_session_reports_why() -> None:
    where = Endpoint(WEB1, 22, "ssh-ed25519 AAAA", "declared")
    observation = Observation(Work(Target("c", "s"), where, ()))
    result = engine._apply_host(observation, None, options())
    assert (result.status, result.message) == (HostStatus.FAILED, "not connected")


def test_a_session_not_opened_refuses_to_run() -> None:
    idle = session.HostSession(
        Target("velo-savoie", "web1"),
        Endpoint(WEB1, 22, "ssh-ed25519 AAAA", "declared"),
        Credentials("root", None),
    )
    with pytest.raises(Unreachable, match=r"^velo-savoie/web1: not connected$"):
        idle.run("true")
    idle.close()  # closing a session never opened is harmless
    assert idle.target == Target("velo-savoie", "web1")


def test_unlock_is_idempotent_and_close_closes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    net = network(monkeypatch, FakeHost(WEB1))
    ours = session.HostSession(
        Target("velo-savoie", "web1"),
        Endpoint(WEB1, 22, "ssh-ed25519 AAAA", "declared"),
        Credentials("root", None),
    ).open()
    ours.lock("me", 60)
    ours.unlock()
    ours.unlock()
    ours.close()
    ours.close()
    assert net[WEB1].log == ["connect", "stream", "readline 15", "release 10", "close"]


def test_a_lock_timeout_is_raised_to_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    late = CommandTimeout(f"{WEB1}: no answer in 15.0 s")
    net = network(monkeypatch, FakeHost(WEB1, lock_lines=[late]))
    ours = session.HostSession(
        Target("velo-savoie", "web1"),
        Endpoint(WEB1, 22, "ssh-ed25519 AAAA", "declared"),
        Credentials("root", None),
    ).open()
    with pytest.raises(CommandTimeout):
        ours.lock("me")
    assert net[WEB1].streams[0].closed_with == [1.0]
