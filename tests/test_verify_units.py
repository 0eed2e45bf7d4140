"""`backup verify` at its command boundary, without root or borg: a fake session answers each
command with recorded output (tests/data/backup/borg-list.json), and the exact commands, the
verdict and its text and JSON are asserted, failures included."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from dagsync.reconcile import escrow as escrows
from dagsync.reconcile.backup import job, verify
from dagsync.reconcile.backup import resource as res
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.transport.errors import CommandTimeout
from fakes import Call, FakeExecutor, failed, ok
from test_backup_units import desired

DATA = Path(__file__).parent / "data" / "backup"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
SHA = "c" * 64
REPO = "ssh://borg@10.0.0.5:2222/srv/borg/lac-bleu/web2"


def listing(*, drop_extra: bool = False, empty: bool = False) -> CommandResult:
    """`date +%z` then `borg list --json`, as recorded, for web2 (the archives renamed)."""
    data = json.loads((DATA / "borg-list.json").read_text().replace("web1-", "web2-"))
    if drop_extra:  # the archive prune would remove: a second one on 21 November
        data["archives"] = [a for a in data["archives"] if a["name"] != "web2-2026-11-21T01-00-00"]
    if empty:
        data["archives"] = []
    return ok("+0100\n" + json.dumps(data))


def session(*replies: CommandResult | BaseException) -> FakeExecutor:
    return FakeExecutor(replies)


def run(executor: FakeExecutor, restore_test: bool = True) -> verify.Verdict:
    d = desired("web2")
    return verify._verify_session(
        executor, verify.Verdict(d.key, d.repository), d, restore_test, NOW
    )


def test_a_healthy_repository_lists_checks_and_restores_one_file_byte_for_byte() -> None:
    d = desired("web2")
    executor = session(
        listing(drop_extra=True),
        ok(),
        ok(f"d {'0' * 64} srv/site\n- {SHA} srv/site/index.php\n"),
        ok(f"restored {SHA}\nlive {SHA}\n"),
    )
    verdict = run(executor)
    env = job.env_prefix(REPO, 2222)
    archive = "web2-2026-11-22T01-00-00"
    assert executor.calls == [
        Call(f"date +%z && {env}borg list --json --glob-archives 'web2-*'", None, 1800.0),
        Call(f"{env}borg check", None, 1800.0),
        Call(verify.candidates_command(d, archive, ("/srv/site",)), None, 1800.0),
        Call(verify.restore_command(d, archive, "srv/site/index.php"), None, 1800.0),
    ]
    assert (
        "borg list --format '{type} {sha256} {path}{NL}' ::web2-2026-11-22T01-00-00 srv/site"
        in (executor.calls[2].command)
    )
    assert verdict.ok
    assert verdict.lines() == [
        f"lac-bleu/web2  {REPO}  OK",
        "  newest web2-2026-11-22T01-00-00 at 2026-11-22 01:00 +0100, 12.0 h ago: ok",
        "  retention: 3 daily archive(s) kept, declared 7 (7 days): ok (still building up)",
        "  borg check: ok",
        "  passphrase escrow: not checked",
        "  restore test: /srv/site/index.php restored byte for byte (SHA-256 cccccccccccccccc…), "
        "identical to the live file",
    ]
    data = verdict.as_json()
    assert (data["ok"], data["archives"], data["age_hours"], data["fresh"]) == (True, 3, 12.0, True)
    assert data["newest"] == {"name": archive, "time": "2026-11-22T01:00:00+01:00"}
    assert data["restore"] == {
        "path": "/srv/site/index.php",
        "ok": True,
        "sha256": SHA,
        "identical_to_live": True,
    }


def test_an_archive_beyond_the_retention_fails_the_verdict_and_is_named() -> None:
    verdict = run(session(listing(), ok()), restore_test=False)
    assert not verdict.ok
    assert verdict.lines()[2] == (
        "  retention: 3 daily archive(s) kept, declared 7 (7 days): 1 archive(s) beyond the "
        "retention (prune not run?)"
    )
    assert verdict.as_json()["retention"] == {
        "rule": "daily",
        "declared": 7,
        "kept": 3,
        "beyond": ["web2-2026-11-21T01-00-00"],
        "ok": False,
    }


def test_a_failed_listing_is_the_verdicts_error_and_nothing_else_runs() -> None:
    executor = session(failed(2, "Repository lac-bleu/web2 does not exist.\n"))
    verdict = run(executor)
    assert verdict.error == "borg list failed (2): Repository lac-bleu/web2 does not exist."
    assert verdict.lines() == [
        f"lac-bleu/web2  {REPO}  FAILED",
        "  error: borg list failed (2): Repository lac-bleu/web2 does not exist.",
    ]
    assert len(executor.calls) == 1


@pytest.mark.parametrize(
    ("stdout", "error"),
    [
        ("+0100\nWarning: something\n", "borg did not print JSON: "),
        ("not an offset\n{}", "not a UTC offset: 'not an offset'"),
        ('+0100\n{"archives": [{"name": "x"}]}', "unexpected `borg list --json` output: "),
    ],
)
def test_unreadable_listing_output_is_an_error_never_an_empty_repository(
    stdout: str, error: str
) -> None:
    executor = session(ok(stdout))
    verdict = run(executor)
    assert verdict.error is not None and verdict.error.startswith(error), verdict.error
    assert verdict.archives == () and verdict.fresh is None and not verdict.ok


def test_a_failed_check_is_reported_with_its_exit_code_and_error_output() -> None:
    verdict = run(
        session(listing(drop_extra=True), failed(1, "Index object count mismatch.\n")),
        restore_test=False,
    )
    assert verdict.check == "FAILED (1): Index object count mismatch."
    assert "  borg check: FAILED (1): Index object count mismatch." in verdict.lines()
    assert verdict.as_json()["check"] == "FAILED (1): Index object count mismatch."
    assert not verdict.ok


def test_no_regular_file_to_restore_is_a_restore_error() -> None:
    verdict = run(session(listing(drop_extra=True), ok(), ok(f"d {'0' * 64} srv/site\n")))
    assert verdict.restore is None
    assert verdict.restore_error == ("no regular file under /srv/site in web2-2026-11-22T01-00-00")
    assert verdict.lines()[-1] == (
        "  restore test: FAILED: no regular file under /srv/site in web2-2026-11-22T01-00-00"
    )
    assert not verdict.ok


def test_a_failed_extract_is_a_restore_error_with_borgs_message() -> None:
    verdict = run(
        session(
            listing(drop_extra=True),
            ok(),
            ok(f"- {SHA} srv/site/a b.txt\n"),
            failed(2, "Data integrity error: segment 42\n"),
        )
    )
    assert verdict.restore_error == "borg extract failed (2): Data integrity error: segment 42"


def test_a_restored_file_that_differs_from_the_archive_is_a_mismatch() -> None:
    verdict = run(
        session(
            listing(drop_extra=True),
            ok(),
            ok(f"- {SHA} srv/site/index.php\n"),
            ok(f"restored {'d' * 64}\n"),
        )
    )
    assert verdict.restore is not None and not verdict.restore.ok and not verdict.ok
    assert verdict.restore.describe() == (
        "/srv/site/index.php restored with SHA-256 dddddddddddddddd, the archive says "
        "cccccccccccccccc: MISMATCH"
    )


@pytest.mark.parametrize(
    ("live", "text"),
    [(f"live {'e' * 64}\n", "the live file has changed since"), ("", "no live file any more")],
)
def test_the_live_file_is_compared_too(live: str, text: str) -> None:
    verdict = run(
        session(
            listing(drop_extra=True),
            ok(),
            ok(f"- {SHA} srv/site/index.php\n"),
            ok(f"restored {SHA}\n{live}"),
        )
    )
    assert verdict.ok
    assert verdict.restore is not None and verdict.restore.describe().endswith(text)


def test_an_empty_repository_has_nothing_to_restore_and_is_not_fresh() -> None:
    verdict = run(session(listing(empty=True), ok()))
    assert verdict.restore_error == "no archive to restore from"
    assert verdict.lines()[1] == "  no archive at all"
    assert verdict.as_json()["newest"] is None and verdict.as_json()["age_hours"] is None
    assert not verdict.ok


def test_a_session_that_times_out_propagates_as_a_host_error() -> None:
    with pytest.raises(CommandTimeout):
        run(session(CommandTimeout("10.0.0.5: a command ran over 1800.0 s")))


def test_pick_file_takes_the_first_regular_file_with_a_whole_digest() -> None:
    listing_text = f"d {SHA} srv\n- short srv/x\n- {SHA} \n- {SHA} srv/site/ok.txt\n"
    assert verify.pick_file(listing_text) == ("srv/site/ok.txt", SHA)
    assert verify.pick_file("") is None


def test_a_hostile_file_name_stays_one_quoted_argument() -> None:
    command = verify.restore_command(desired("web2"), "web2-x", "srv/$(reboot)'.txt")
    assert "borg extract ::web2-x 'srv/$(reboot)'\"'\"'.txt'" in command
    assert "sha256sum < '/srv/$(reboot)'\"'\"'.txt'" in command


def test_restore_paths_default_to_etc_hostname() -> None:
    d = desired("web2")
    assert verify.restore_paths(d) == ("/srv/site",)
    assert verify.restore_paths(replace(d, files=())) == ("/etc/hostname",)


# --- escrow --------------------------------------------------------------------------------


def _escrow(tmp_path: Path, passphrase: str | None) -> escrows.Escrow:
    where = escrows.Escrow("file:" + str(tmp_path), tmp_path)
    if passphrase is not None:
        escrows.write(where, "lac-bleu/web2", REPO, passphrase, "KEY")
    return where


def _server_facts(passphrase: str | None) -> CommandResult:
    lines = "" if passphrase is None else f"passphrase\t{escrows.digest(passphrase)}\n"
    return ok(lines)


@pytest.mark.parametrize(
    ("held", "on_server", "status"),
    [
        ("s3cret", "s3cret", "ok"),
        ("s3cret", "other", "DIFFERENT"),
        (None, "s3cret", "MISSING"),
        ("s3cret", None, "cannot be checked (no passphrase on the server)"),
    ],
)
def test_the_escrow_is_compared_by_digest(
    tmp_path: Path, held: str | None, on_server: str | None, status: str
) -> None:
    executor = session(_server_facts(on_server))
    d = desired("web2")
    assert verify.escrow_status(executor, d, _escrow(tmp_path, held)) == status
    assert executor.calls == [Call(res.read(d))]


def test_an_unsupported_escrow_cannot_be_checked_and_reads_nothing() -> None:
    executor = session()
    where = escrows.Escrow("vault://dagsync/borg", None)
    assert verify.escrow_status(executor, desired("web2"), where) == (
        "cannot be checked (vault://dagsync/borg (unsupported location))"
    )
    assert executor.calls == []


def test_missing_or_different_escrow_fails_an_otherwise_good_verdict(tmp_path: Path) -> None:
    verdict = run(session(listing(drop_extra=True), ok()), restore_test=False)
    assert verdict.ok
    for status, good in (("MISSING", False), ("DIFFERENT", False), ("ok", True)):
        assert replace(verdict, escrow=status).ok is good
