"""`dagsync audit CLIENT`: requests -> commits -> merge and PR -> apply records, from git."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dagsync.cli import cli, main
from dagsync.commands.gitops import COMMANDS
from dagsync.gitops.notes import read_applies, record_apply
from dagsync.gitops.report import audit_text
from dagsync.gitops.trail import UnknownClientError, audit
from test_gitops_helpers import Scratch

ALICE = "Alice Reviewer <alice@dag.example>"


def applied(client: str, result: str = "ok") -> dict[str, object]:
    return {
        "client": client,
        "servers": [{"server": "db1", "result": result, "resources_changed": ["firewall"]}],
        "started_at": "2025-10-11T09:00:00+02:00",
        "finished_at": "2025-10-11T09:01:30+02:00",
        "applied_by": "github-actions",
    }


class Story:
    """Seed; a PR merged with --no-ff and applied; a direct push without trailer; a squash."""

    def __init__(self, repo: Scratch) -> None:
        self.repo = repo
        self.seed = repo.git("rev-parse", "HEAD")
        repo.git("checkout", "-q", "-b", "erp-access")
        repo.add_request("velo-savoie", "REQ-2025-014", "Let the ERP reach the database.")
        path = repo.path("clients/velo-savoie/servers/db1.yaml")
        path.write_text(path.read_text() + "# ERP access\n")
        self.erp = repo.commit("Let the ERP reach the database\n\nClient-Request: REQ-2025-014")
        repo.git("checkout", "-q", "main")
        self.merge = repo.merge(
            "erp-access", "Merge pull request #12 from dag/erp-access", author=ALICE
        )
        record_apply(repo.root, self.merge, applied("velo-savoie"))
        repo.touch("velo-savoie")
        self.tweak = repo.commit("Tweak a comment")
        repo.touch("velo-savoie")
        self.squash = repo.commit("Tighten backups (#13)\n\nClient-Request: REQ-2025-007")
        repo.touch("alpine-books")
        self.other = repo.commit("Alpine change\n\nClient-Request: REQ-2025-001")


@pytest.fixture
def story(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Story:
    return Story(Scratch.create(tmp_path, monkeypatch))


def test_commits_newest_first_only_of_that_client(story: Story) -> None:
    result = audit(story.repo.root, "velo-savoie")
    assert [c.commit.sha for c in result.commits] == [
        story.squash,
        story.tweak,
        story.erp,
        story.seed,
    ]


def test_a_merged_pull_request_links_request_commit_merge_and_apply(story: Story) -> None:
    result = audit(story.repo.root, "velo-savoie")
    erp = next(c for c in result.commits if c.commit.sha == story.erp)
    assert [(r.id, r.summary) for r in erp.requests] == [
        ("REQ-2025-014", "Let the ERP reach the database.")
    ]
    assert erp.merge is not None
    assert (erp.merge.sha, erp.merge.pr, erp.merge.is_merge) == (story.merge, 12, True)
    assert erp.merge.merged_by == ALICE
    assert {f.path for f in erp.commit.files} == {
        "clients/velo-savoie/requests.yaml",
        "clients/velo-savoie/servers/db1.yaml",
    }
    assert erp.applied_at == story.merge
    assert [(a.result, a.applied_by) for a in erp.applies] == [("ok", "github-actions")]
    assert erp.flags == ()


def test_a_commit_without_request_stands_out(story: Story) -> None:
    result = audit(story.repo.root, "velo-savoie")
    tweak = next(c for c in result.commits if c.commit.sha == story.tweak)
    assert "no-request" in tweak.flags and "check-failed" in tweak.flags
    assert "not-applied" in tweak.flags
    assert tweak.merge is None


def test_a_squash_merge_gives_its_pr_number(story: Story) -> None:
    squash = audit(story.repo.root, "velo-savoie").commits[0]
    assert squash.merge is not None
    assert (squash.merge.pr, squash.merge.is_merge) == (13, False)
    assert [r.id for r in squash.requests] == ["REQ-2025-007"]


def test_each_request_shows_its_commits_and_an_uncited_one_stands_out(story: Story) -> None:
    repo = story.repo
    requests = {r.entry.id: r for r in audit(repo.root, "velo-savoie").requests}
    assert requests["REQ-2025-014"].commits == (repo.short(story.erp),)
    assert requests["REQ-2025-007"].commits == (repo.short(story.squash),)
    assert requests["REQ-2023-010"].commits == ()
    assert requests["REQ-2023-010"].flags == ("no-commit",)


def test_a_commit_applied_by_a_later_apply_shows_that_apply(story: Story) -> None:
    repo = story.repo
    record_apply(repo.root, story.squash, applied("velo-savoie"))
    record_apply(repo.root, story.other, applied("alpine-books"))
    result = audit(repo.root, "velo-savoie")
    tweak = next(c for c in result.commits if c.commit.sha == story.tweak)
    assert tweak.applied_at == story.squash
    assert "not-applied" not in tweak.flags


def test_since_keeps_recent_commits_and_the_requests_they_cite(story: Story) -> None:
    repo = story.repo
    cutoff = dt.date.fromisoformat(repo.git("log", "-1", "--format=%as", story.tweak))
    result = audit(repo.root, "velo-savoie", since=cutoff)
    assert [c.commit.sha for c in result.commits] == [story.squash, story.tweak]
    assert [r.entry.id for r in result.requests] == ["REQ-2025-007"]


def test_an_unknown_client_is_a_clear_error(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnknownClientError, match=r"unknown client `nobody`.*known: alpine-books"):
        audit(story.repo.root, "nobody")
    with pytest.raises(UnknownClientError, match="is not a client id"):
        audit(story.repo.root, "../policies")
    for command in COMMANDS:
        cli.commands.setdefault(str(command.name), command)
    assert main(["audit", "nobody", "--repo", str(story.repo.root)]) == 2
    assert "unknown client `nobody`" in capsys.readouterr().err


def test_a_deleted_client_can_still_be_audited(story: Story) -> None:
    repo = story.repo
    repo.git("rm", "-r", "-q", "clients/cime-conseil")
    gone = repo.commit("Cime Conseil left\n\nClient-Request: internal\nReason: contract ended")
    result = audit(repo.root, "cime-conseil")
    assert result.commits[0].commit.sha == gone
    assert result.requests  # read from the last requests.yaml it had


def test_text_marks_what_stands_out(story: Story) -> None:
    repo = story.repo
    text = audit_text(audit(repo.root, "velo-savoie"))
    assert f"! {repo.short(story.tweak)}" in text
    assert f"  {repo.short(story.erp)}" in text
    assert "! REQ-2023-010" in text and "NO COMMIT cites this request" in text
    assert f"merged:   {repo.short(story.merge)} PR #12 by {ALICE}" in text
    assert "squashed: PR #13 (squash merge, no merge commit)" in text
    assert "requests: REQ-2025-014 (Let the ERP reach the database.)" in text
    merge = repo.short(story.merge)[:7]
    assert f"applied:  2025-10-11 09:00 +0200 at {story.merge[:10]} by github-actions" in text
    assert "(dagsync " in text and ", 90 s): db1 ok, 1 change(s)" in text
    assert merge  # the merge landed the ERP commit, whose entry shows the record


def test_each_apply_is_shown_once_under_the_newest_commit_it_applied(story: Story) -> None:
    repo = story.repo
    record_apply(repo.root, story.squash, applied("velo-savoie"))
    result = audit(repo.root, "velo-savoie")
    by_sha = {c.commit.sha: c for c in result.commits}
    assert by_sha[story.squash].applied_with is None
    assert by_sha[story.tweak].applied_with == repo.short(story.squash)
    assert by_sha[story.tweak].as_json()["applies"] == []
    text = audit_text(result)
    assert text.count(f"at {story.squash[:10]} by github-actions") == 1
    assert f"applied:  with {repo.short(story.squash)} (above), at {story.squash[:10]}" in text
    assert text.count(f"at {story.merge[:10]} by github-actions") == 1


def test_one_line_per_apply_and_target_and_every_change_with_verbose(story: Story) -> None:
    repo = story.repo
    long_error = "firewall: failed: " + "x" * 300
    record_apply(
        repo.root,
        story.squash,
        {
            "client": "velo-savoie",
            "servers": [
                {
                    "server": "web1",
                    "result": "ok",
                    "resources_changed": ["firewall: +8080", "accounts: +bob"],
                },
                {"server": "db1", "result": "failed", "error": long_error},
            ],
            "started_at": "2025-10-12T09:00:00+02:00",
            "finished_at": "2025-10-12T09:00:10+02:00",
            "applied_by": "github-actions",
        },
    )
    text = audit_text(audit(repo.root, "velo-savoie"))
    lines = [line for line in text.splitlines() if f"at {story.squash[:10]} by" in line]
    assert [line.split("s): ", 1)[1] for line in lines] == [
        "web1 ok, 2 change(s)",
        "db1 failed, 0 change(s): " + long_error[:100] + "… (-v for all)",
    ]
    assert max(len(line) for line in text.splitlines()) < 260
    verbose = audit_text(audit(repo.root, "velo-savoie"), verbose=True)
    assert "          - firewall: +8080\n          - accounts: +bob\n" in verbose
    assert long_error in verbose


def test_only_the_audited_clients_problems_flag_its_commits(story: Story) -> None:
    repo = story.repo
    repo.touch("velo-savoie")
    repo.touch("alpine-books")
    both = repo.commit("Both clients, only velo-savoie's request\n\nClient-Request: REQ-2025-014")
    velo = next(c for c in audit(repo.root, "velo-savoie").commits if c.commit.sha == both)
    alpine = next(c for c in audit(repo.root, "alpine-books").commits if c.commit.sha == both)
    assert velo.problems == () and "check-failed" not in velo.flags
    assert "no-request" not in velo.flags
    assert "check-failed" in alpine.flags and "no-request" in alpine.flags
    assert all(p.startswith("alpine-books: ") for p in alpine.problems)
    assert f"! {repo.short(both)}" not in audit_text(audit(repo.root, "velo-savoie"))
    assert f"! {repo.short(both)}" in audit_text(audit(repo.root, "alpine-books"))


def test_a_record_is_written_without_a_git_identity(
    story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = story.repo
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EMAIL", "")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(repo.top / "no-such-gitconfig"))
    refused = repo.git("commit", "-q", "--allow-empty", "-m", "probe", check=False)
    if "tell me who you are" not in refused.lower() and "unable to auto-detect" not in refused:
        pytest.skip("git finds an identity on this machine (a domain name for the host)")
    record_apply(repo.root, story.other, applied("alpine-books"))
    assert [r["client"] for r in read_applies(repo.root, story.other)] == ["alpine-books"]
    author = repo.git("log", "-1", "--format=%an <%ae>", "refs/notes/dagsync")
    assert author == "dagsync <dagsync@localhost>"


def test_json_output_carries_flags(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        cli.commands.setdefault(str(command.name), command)
    assert main(["audit", "velo-savoie", "--format", "json", "--repo", str(story.repo.root)]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_sha = {c["commit"]: c for c in doc["commits"]}
    assert by_sha[story.erp]["pr"] == 12
    assert by_sha[story.erp]["applies"][0]["servers"][0]["server"] == "db1"
    assert "no-request" in by_sha[story.tweak]["flags"]
    assert {r["id"]: r["flags"] for r in doc["requests"]}["REQ-2023-010"] == ["no-commit"]
