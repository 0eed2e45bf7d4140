"""`dagsync check-commits`: every commit touching a client cites one of its requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dagsync.cli import cli, main
from dagsync.commands.gitops import COMMANDS
from dagsync.errors import DagsyncError
from dagsync.gitops.trailers import check_commits
from test_gitops_helpers import Scratch

TRAILER = "Client-Request: {}"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    return Scratch.create(tmp_path, monkeypatch)


@pytest.fixture
def dagsync(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run the dagsync command line in-process: (exit code, stdout, stderr)."""
    for command in COMMANDS:
        cli.commands.setdefault(str(command.name), command)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_commit_changing_a_client_without_trailer_fails_and_is_named(
    repo: Scratch, dagsync: Run
) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    sha = repo.commit("Open the ERP port on db1")
    code, out, _ = dagsync("check-commits", f"{base}..HEAD", "--repo", str(repo.root))
    assert code == 1
    assert f"{repo.short(sha)} Open the ERP port on db1" in out
    assert "velo-savoie: no Client-Request trailer" in out


def test_trailer_citing_an_existing_request_passes(repo: Scratch, dagsync: Run) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("Open the ERP port on db1\n\n" + TRAILER.format("REQ-2025-007"))
    code, out, _ = dagsync("check-commits", f"{base}..HEAD", "--repo", str(repo.root))
    assert code == 0, out
    assert "1 commit(s) touching clients/" in out


def test_citing_an_unknown_request_fails(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("Open the ERP port\n\n" + TRAILER.format("REQ-2025-999"))
    (verdict,) = check_commits(repo.root, f"{base}..HEAD").verdicts
    assert not verdict.ok
    assert any("REQ-2025-999 is not in requests.yaml of velo-savoie" in p for p in verdict.problems)


def test_request_of_another_client_does_not_back_a_change(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("Change\n\n" + TRAILER.format("REQ-2025-001"))  # alpine-books' request
    (verdict,) = check_commits(repo.root, f"{base}..HEAD").verdicts
    assert not verdict.ok


def test_request_must_exist_at_that_commit_not_only_later(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    early = repo.commit("Change first\n\n" + TRAILER.format("REQ-2025-014"))
    repo.add_request("velo-savoie", "REQ-2025-014", "Open the ERP port")
    late = repo.commit("Record the request afterwards\n\n" + TRAILER.format("REQ-2025-014"))
    result = check_commits(repo.root, f"{base}..HEAD")
    assert {v.sha: v.ok for v in result.verdicts} == {early: False, late: True}


def test_request_recorded_in_the_same_commit_backs_it(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.add_request("cime-conseil", "REQ-2025-031", "Add a staging vhost")
    repo.touch("cime-conseil")
    repo.commit(
        "Add staging vhost\n\nSigned-off-by: J <j@dag.example>\n" + TRAILER.format("REQ-2025-031")
    )
    assert check_commits(repo.root, f"{base}..HEAD").exit_code == 0


def test_internal_needs_a_reason(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("alpine-books")
    repo.commit("Rotate monitoring key\n\nClient-Request: internal")
    (verdict,) = check_commits(repo.root, f"{base}..HEAD").verdicts
    assert verdict.problems == ("`Client-Request: internal` needs a `Reason:` trailer saying why",)


def test_internal_with_a_reason_passes_for_every_client_touched(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("alpine-books")
    repo.touch("velo-savoie")
    repo.commit("Rotate monitoring key\n\nClient-Request: internal\nReason: supplier incident")
    result = check_commits(repo.root, f"{base}..HEAD")
    assert result.exit_code == 0
    assert result.verdicts[0].cited.reason == "supplier incident"


def test_commit_touching_two_clients_needs_a_request_of_each(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("alpine-books")
    repo.touch("velo-savoie")
    one = repo.commit("Share a blocklist entry\n\n" + TRAILER.format("REQ-2025-007"))
    repo.touch("alpine-books")
    repo.touch("velo-savoie")
    both = repo.commit(
        "Share another entry\n\n"
        + TRAILER.format("REQ-2025-007")
        + "\n"
        + TRAILER.format("REQ-2025-001")
    )
    result = check_commits(repo.root, f"{base}..HEAD")
    verdicts = {v.sha: v for v in result.verdicts}
    assert verdicts[one].problems == (
        "alpine-books: no Client-Request names a request of this client",
    )
    assert verdicts[both].ok
    assert verdicts[one].clients == ("alpine-books", "velo-savoie")


def test_comma_separated_values_in_one_trailer_count(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("alpine-books")
    repo.touch("velo-savoie")
    repo.commit("Both\n\nClient-Request: REQ-2025-007, REQ-2025-001")
    assert check_commits(repo.root, f"{base}..HEAD").exit_code == 0


def test_client_request_outside_the_last_paragraph_is_not_a_trailer(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("Open port\n\nClient-Request: REQ-2025-007\n\nSome explanation after it.")
    (verdict,) = check_commits(repo.root, f"{base}..HEAD").verdicts
    assert not verdict.ok
    assert "not in the last paragraph" in verdict.problems[0]


def test_malformed_request_id_is_reported(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("Open port\n\nClient-Request: ticket 4411")
    (verdict,) = check_commits(repo.root, f"{base}..HEAD").verdicts
    assert "`ticket 4411` is neither a request id (REQ-YYYY-NNN) nor `internal`" in verdict.problems


def test_merges_and_commits_outside_clients_are_not_checked(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    repo.path("docs.md").write_text("notes\n")
    repo.commit("Document things")
    repo.touch("velo-savoie")
    cited = repo.commit("Change\n\n" + TRAILER.format("REQ-2025-007"))
    repo.git("checkout", "-q", "main")
    repo.merge("feature", "Merge pull request #12 from dag/feature")
    result = check_commits(repo.root, f"{base}..main")
    assert [v.sha for v in result.verdicts] == [cited]
    assert result.exit_code == 0


def test_deleting_a_client_cites_a_request_of_its_last_requests_yaml(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.git("rm", "-r", "-q", "clients/alpine-books")
    repo.commit("Alpine Books terminated their contract\n\n" + TRAILER.format("REQ-2025-001"))
    (verdict,) = check_commits(repo.root, f"{base}..HEAD").verdicts
    assert verdict.ok and verdict.clients == ("alpine-books",)


def test_renaming_a_client_cites_requests_of_both_ids(repo: Scratch) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.git("mv", "clients/alpine-books", "clients/alpine-livres")
    repo.commit("Rename\n\n" + TRAILER.format("REQ-2025-001"))
    (verdict,) = check_commits(repo.root, f"{base}..HEAD").verdicts
    assert verdict.clients == ("alpine-books", "alpine-livres")
    assert verdict.ok  # the request exists in both versions of the file


def test_json_report_lists_every_commit_with_its_verdict(repo: Scratch, dagsync: Run) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("Good\n\n" + TRAILER.format("REQ-2025-007"))
    repo.touch("velo-savoie")
    bad = repo.commit("Bad")
    code, out, _ = dagsync(
        "check-commits", f"{base}..HEAD", "--format", "json", "--repo", str(repo.root)
    )
    doc = json.loads(out)
    assert code == 1
    assert doc["summary"] == {"checked": 2, "offending": 1}
    assert [(c["commit"], c["ok"]) for c in doc["commits"]] == [
        (bad, False),
        (doc["commits"][1]["commit"], True),
    ]


def test_an_unknown_revision_is_a_clear_usage_error(repo: Scratch, dagsync: Run) -> None:
    code, out, err = dagsync("check-commits", "nope..HEAD", "--repo", str(repo.root))
    assert code == 2
    assert "unknown revision `nope`" in err
    assert "Traceback" not in err + out
    with pytest.raises(DagsyncError, match="not a revision range"):
        check_commits(repo.root, "")


def test_an_empty_range_passes(repo: Scratch, dagsync: Run) -> None:
    code, out, _ = dagsync("check-commits", "HEAD..HEAD", "--repo", str(repo.root))
    assert code == 0
    assert "no commit in HEAD..HEAD touches clients/" in out
