"""Commit-confirmed firewall changes at the command boundary: the exact commands sent, and every
way the confirmation can end (confirmed, too late, no fresh login then the host's own
rollback seen, not seen, or not verifiable).  Waits run on a fake clock."""

from __future__ import annotations

import secrets

import pytest

from dagsync.reconcile.core import Action, Change
from dagsync.reconcile.hosts import confirm
from dagsync.reconcile.resource import ApplyOptions, CommandResult, Status
from dagsync.reconcile.shell import atomic_write
from dagsync.reconcile.transport.errors import CommandTimeout, Unreachable
from fakes import Call, FakeClock, FakeExecutor, failed, ok

TOKEN = "0123456789abcdef"
TEXT = "table inet dagsync {\n}\n"
FILE = "/etc/nftables.d/dagsync.nft"
OPTIONS = ApplyOptions(confirm_timeout=30.0, fresh_connect_timeout=5.0)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(confirm, "time", fake)
    monkeypatch.setattr(secrets, "token_hex", lambda n: TOKEN[: 2 * n])
    return fake


def change(**payload: object) -> Change:
    return Change(
        "firewall",
        Action.UPDATE,
        "inet dagsync",
        "update table inet dagsync",
        payload={"text": TEXT, **payload},
    )


def write_call(nft_file: str = FILE, seconds: float = 30.0) -> Call:
    command = atomic_write(
        nft_file, TEXT.encode(), mode="0644", check=confirm.arm_and_load(nft_file, seconds, TOKEN)
    )
    return Call(command, TEXT.encode(), None)


DISARM = Call(confirm.disarm(TOKEN), None, 5.0, fresh=True)
CHECK = Call(confirm.rolled_back_check(TOKEN), None, 10.0)


def test_a_change_confirmed_over_a_fresh_connection_is_applied() -> None:
    executor = FakeExecutor([ok()], fresh=[ok("confirmed\n")])
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert (outcome.status, outcome.message) == (
        Status.APPLIED,
        "confirmed over a fresh SSH connection",
    )
    assert executor.calls == [write_call(), DISARM]


def test_the_write_checks_snapshots_arms_the_timer_then_loads() -> None:
    script = confirm.arm_and_load(FILE, 30.0, TOKEN)
    steps = [line.split(" ", 1)[0] for line in script.splitlines() if not line.startswith(" ")]
    assert steps[0] == "nft" and script.startswith('nft -c -f "$tmp"\n')
    assert script.index("nft list table inet dagsync") < script.index("setsid sh -c")
    assert script.index("setsid sh -c") < script.index('nft -f "$tmp" ||')
    assert f"dagsync-rollback 30.0 /var/lib/dagsync/rollback.nft {FILE} " in script
    assert f" {TOKEN} /var/lib/dagsync/rollback.done </dev/null" in script
    assert script.endswith(
        'nft -f "$tmp" || { kill -s TERM -- -"$(cat /var/lib/dagsync/rollback.pid)"; '
        "rm -f /var/lib/dagsync/rollback.pid; exit 4; }"
    )


def test_a_hostile_file_name_stays_one_quoted_argument() -> None:
    hostile = "/etc/nft/x$(touch /tmp/pwned) 'q'.nft"
    script = confirm.arm_and_load(hostile, 1.5, "t'ok")
    assert "'/etc/nft/x$(touch /tmp/pwned) '\"'\"'q'\"'\"'.nft'" in script
    assert " 1.5 " in script and "'t'\"'\"'ok'" in script
    assert "$(touch" not in script.replace("'/etc/nft/x$(touch", "")


def test_a_confirmation_after_the_timer_fired_is_rolled_back() -> None:
    executor = FakeExecutor([ok()], fresh=[ok("rolled-back\n")])
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert (outcome.status, outcome.message) == (
        Status.ROLLED_BACK,
        "the confirmation came after the rollback timer: previous ruleset restored",
    )


def test_no_fresh_login_waits_for_the_timer_and_sees_its_marker(clock: FakeClock) -> None:
    refused = Unreachable("cannot connect to 203.0.113.41:22: [Errno 111] Connection refused")
    executor = FakeExecutor([ok(), ok("no\n"), ok("no\n"), ok("yes\n")], fresh=[refused])
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert (outcome.status, outcome.message) == (
        Status.ROLLED_BACK,
        "a fresh SSH connection failed after loading the new ruleset (cannot connect to "
        "203.0.113.41:22: [Errno 111] Connection refused); the host restored its previous "
        "ruleset",
    )
    assert executor.calls == [write_call(), DISARM, CHECK, CHECK, CHECK]
    assert clock.sleeps == [30.0, 0.25, 0.25]


def test_a_failed_disarm_is_a_lost_access_with_its_error_output(clock: FakeClock) -> None:
    executor = FakeExecutor([ok(), ok("yes")], fresh=[failed(1, "sudo: a password is required\n")])
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert outcome.status is Status.ROLLED_BACK
    assert outcome.message.startswith(
        "a fresh SSH connection failed after loading the new ruleset "
        "(sudo: a password is required); "
    )


def test_an_unexpected_disarm_answer_is_not_taken_as_a_confirmation(clock: FakeClock) -> None:
    executor = FakeExecutor([ok(), ok("yes")], fresh=[ok("Welcome to Ubuntu\n")])
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert outcome.status is Status.ROLLED_BACK
    assert executor.calls[-1] == CHECK


def test_a_missing_marker_after_the_margin_is_a_failure_to_check_by_hand(
    clock: FakeClock,
) -> None:
    executor = FakeExecutor([ok()] + [ok("no\n")] * 62, fresh=[CommandTimeout("late")])
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert (outcome.status, outcome.message) == (
        Status.FAILED,
        "a fresh SSH connection failed after loading the new ruleset (late); and the rollback "
        "marker is missing: check the host's firewall",
    )
    checks = [c for c in executor.calls if c == CHECK]
    assert len(checks) == 62  # 15 s of margin, a check every 0.25 s, then one past the deadline
    assert clock.sleeps[0] == 30.0 and set(clock.sleeps[1:]) == {0.25}


def test_an_old_session_lost_too_reports_the_rollback_as_not_verified(clock: FakeClock) -> None:
    executor = FakeExecutor(
        [ok(), Unreachable("203.0.113.41: connection lost: EOF")], fresh=[CommandTimeout("late")]
    )
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert (outcome.status, outcome.message) == (
        Status.ROLLED_BACK,
        "a fresh SSH connection failed after loading the new ruleset (late); the host restores "
        "its previous ruleset after 30 s (not verified: 203.0.113.41: connection lost: EOF)",
    )


def test_time_already_spent_is_not_waited_again(clock: FakeClock) -> None:
    executor = FakeExecutor([ok(), ok("yes")])

    def slow_fresh(command: str, *, timeout: float | None = None) -> CommandResult:
        clock.now += 12.0  # the fresh login took 12 s to fail
        raise Unreachable("timed out")

    executor.run_fresh = slow_fresh  # type: ignore[method-assign]
    confirm.apply_ruleset(executor, change(), OPTIONS)
    assert clock.sleeps == [18.0]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (3, "upload incomplete: dagsync: incomplete upload, file left unchanged"),
        (
            4,
            "nft -f failed (previous ruleset kept): dagsync: incomplete upload, file left unchanged",
        ),
        (7, "exit code 7: dagsync: incomplete upload, file left unchanged"),
    ],
)
def test_a_failed_write_is_never_confirmed_and_names_its_stage(code: int, message: str) -> None:
    executor = FakeExecutor([failed(code, "dagsync: incomplete upload, file left unchanged\n")])
    outcome = confirm.apply_ruleset(executor, change(), OPTIONS)
    assert (outcome.status, outcome.message) == (Status.FAILED, message)
    assert len(executor.calls) == 1  # no disarm, no wait


def test_without_reload_only_the_boot_file_is_rewritten_after_a_check() -> None:
    executor = FakeExecutor([ok()])
    outcome = confirm.apply_ruleset(executor, change(reload=False, file="/etc/x.nft"), OPTIONS)
    assert (outcome.status, outcome.message) == (Status.APPLIED, "")
    assert executor.calls == [Call(confirm.plain_write("/etc/x.nft", TEXT), TEXT.encode(), None)]
    assert 'nft -c -f "$tmp"' in executor.calls[0].command
    assert "setsid" not in executor.calls[0].command


def test_without_reload_a_failed_check_fails() -> None:
    executor = FakeExecutor([failed(1, "Error: syntax error, unexpected '}'\n" + "x" * 600)])
    outcome = confirm.apply_ruleset(executor, change(reload=False), OPTIONS)
    assert outcome.status is Status.FAILED
    assert (
        outcome.message
        == "exit code 1: " + ("Error: syntax error, unexpected '}'\n" + "x" * 600)[-500:]
    )


def test_disarm_and_marker_commands_compare_the_token_exactly() -> None:
    assert confirm.disarm(TOKEN).endswith(
        f'if [ "$(cat /var/lib/dagsync/rollback.done 2>/dev/null)" = {TOKEN} ]; then echo '
        "rolled-back; else echo confirmed; fi"
    )
    assert confirm.rolled_back_check("a b") == (
        "if [ \"$(cat /var/lib/dagsync/rollback.done 2>/dev/null)\" = 'a b' ]; then echo yes; "
        "else echo no; fi"
    )
