"""Apply records under refs/notes/dagsync: append-only, merge-friendly, robust to hand edits."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from dagsync import __version__
from dagsync.gitops.notes import (
    ApplyRecord,
    ApplyRecordError,
    last_applied,
    parse_note,
    read_applies,
    read_apply_records,
    record_apply,
)
from test_gitops_helpers import Scratch


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    return Scratch.create(tmp_path, monkeypatch)


def record(client: str = "velo-savoie", result: str = "ok", minute: int = 0) -> dict[str, object]:
    return {
        "client": client,
        "servers": [
            {"server": "web1", "result": result, "resources_changed": ["firewall", "ssh-access"]},
            {"server": "db1", "result": "unchanged"},
        ],
        "started_at": f"2025-10-10T10:{minute:02d}:00+02:00",
        "finished_at": f"2025-10-10T10:{minute:02d}:42+02:00",
    }


def test_a_record_reads_back_with_who_and_which_version(
    repo: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "alice")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "dag/infra")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    record_apply(repo.root, "HEAD", record())
    (back,) = read_applies(repo.root, "HEAD")
    assert back["client"] == "velo-savoie"
    assert back["applied_by"] == "alice"
    assert back["dagsync_version"] == __version__
    assert back["run_url"] == "https://github.com/dag/infra/actions/runs/77"
    assert back["result"] == "ok"
    assert back["servers"][0] == {
        "server": "web1",
        "result": "ok",
        "resources_changed": ["firewall", "ssh-access"],
        "error": None,
    }
    assert back["started_at"] == "2025-10-10T10:00:00+02:00"


def test_a_reapply_appends_a_record(repo: Scratch) -> None:
    record_apply(repo.root, "HEAD", record(result="failed", minute=0))
    record_apply(repo.root, "HEAD", record(result="ok", minute=5))
    assert [r["result"] for r in read_applies(repo.root, "HEAD")] == ["failed", "ok"]
    note = repo.git("notes", "--ref=dagsync", "show", "HEAD")
    assert len([line for line in note.splitlines() if line.strip()]) == 2


def test_records_are_attached_to_the_commit_not_to_head(repo: Scratch) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("Later")
    record_apply(repo.root, first, record())
    assert read_applies(repo.root, "HEAD") == []
    assert len(read_applies(repo.root, first)) == 1


def test_an_incomplete_record_is_refused(repo: Scratch) -> None:
    with pytest.raises(ApplyRecordError, match="`client` is missing"):
        record_apply(repo.root, "HEAD", {"servers": [], "started_at": "2025-10-10T10:00:00+00:00"})
    with pytest.raises(ApplyRecordError, match="`result` must be one of"):
        record_apply(repo.root, "HEAD", {**record(), "servers": [{"server": "x", "result": "meh"}]})


def test_a_hand_edited_note_with_bad_json_is_skipped_with_a_warning(
    repo: Scratch, caplog: pytest.LogCaptureFixture
) -> None:
    record_apply(repo.root, "HEAD", record(minute=1))
    note = repo.git("notes", "--ref=dagsync", "show", "HEAD")
    edited = note + "\n{this is not json\n" + json.dumps({"client": "x"}) + "\n"
    repo.git("notes", "--ref=dagsync", "add", "-f", "-m", edited, "HEAD")
    record_apply(repo.root, "HEAD", record(minute=2))
    with caplog.at_level(logging.WARNING, logger="dagsync.gitops"):
        back = read_applies(repo.root, "HEAD")
    assert [r["started_at"][11:16] for r in back] == ["10:01", "10:02"]
    assert any("not valid JSON" in m for m in caplog.messages)
    assert any("not an apply record" in m for m in caplog.messages)


def test_a_json_array_note_is_read_and_can_still_be_appended_to(repo: Scratch) -> None:
    array = json.dumps(
        [
            ApplyRecord.from_json(
                {**record(), "applied_by": "bob", "dagsync_version": "0.0.9"}
            ).to_json()
        ],
        indent=2,
    )
    repo.git("notes", "--ref=dagsync", "add", "-m", array, "HEAD")
    record_apply(repo.root, "HEAD", record(minute=3))
    assert [r["applied_by"] for r in read_applies(repo.root, "HEAD")] == [
        "bob",
        "Jean Dupont <jean.dupont@dag.example>",
    ]


def test_parse_note_survives_garbage_and_reports_it() -> None:
    line = ApplyRecord.from_json({**record(), "applied_by": "ci", "dagsync_version": "1"}).to_line()
    content = parse_note(f'garbage\n{line}\n[1, 2\n  {line}\n"just a string"\n')
    assert len(content.records) == 2
    assert len(content.problems) == 3


def test_record_json_round_trip() -> None:
    original = ApplyRecord.from_json(
        {**record(), "applied_by": "ci", "dagsync_version": "1", "run_url": None}
    )
    assert ApplyRecord.from_json(json.loads(original.to_line())) == original
    assert original.started_at.tzinfo is not None
    naive = ApplyRecord.from_json({**original.to_json(), "started_at": "2025-10-10T08:00:00"})
    assert naive.started_at == dt.datetime(2025, 10, 10, 8, tzinfo=dt.UTC)


def test_parallel_apply_jobs_merge_their_notes_without_losing_one(
    repo: Scratch, tmp_path: Path
) -> None:
    """The apply workflow's strategy: each job appends, then fetch + `merge -s cat_sort_uniq`."""
    origin = tmp_path / "origin.git"
    repo.git("clone", "-q", "--bare", str(repo.top), str(origin))
    clones = []
    for name in ("shard-a", "shard-b"):
        path = tmp_path / name
        repo.git("clone", "-q", str(origin), str(path))
        clones.append(Scratch(path))
    for clone, client in zip(clones, ("velo-savoie", "alpine-books"), strict=True):
        record_apply(clone.root, "HEAD", record(client=client))
    clones[0].git("push", "-q", "origin", "refs/notes/dagsync")
    rejected = clones[1].git("push", "--porcelain", "origin", "refs/notes/dagsync", check=False)
    assert "rejected" in rejected
    clones[1].git("fetch", "-q", "origin", "+refs/notes/dagsync:refs/notes/dagsync-remote")
    clones[1].git(
        "notes", "--ref=dagsync", "merge", "-q", "-s", "cat_sort_uniq", "refs/notes/dagsync-remote"
    )
    clones[1].git("push", "-q", "origin", "refs/notes/dagsync")
    clients = sorted(r["client"] for r in read_applies(clones[1].root, "HEAD"))
    assert clients == ["alpine-books", "velo-savoie"]


def test_last_applied_skips_head_and_failed_applies(repo: Scratch) -> None:
    seed = repo.git("rev-parse", "HEAD")
    assert last_applied(repo.root) is None
    record_apply(repo.root, seed, record())
    repo.touch("velo-savoie")
    failed = repo.commit("Second")
    record_apply(repo.root, failed, record(result="failed"))
    repo.touch("velo-savoie")
    head = repo.commit("Third")
    record_apply(repo.root, head, record())
    assert last_applied(repo.root) == seed  # HEAD is redone on a re-run; `failed` failed
    assert read_apply_records(repo.root, failed).records[0].result == "failed"
