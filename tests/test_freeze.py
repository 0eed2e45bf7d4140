"""Deploy freeze (CGV 6.1): validate --changed-since warns about production changes on the eve
of a weekend or public holiday."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.validate.freeze import next_release_day

ROOT = Path(__file__).resolve().parents[1]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            "PATH": "/usr/bin:/bin",
            "HOME": str(repo),
        },
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for part in ("clients", "policies", "schemas"):
        shutil.copytree(ROOT / part, tmp_path / part)
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "seed")
    return tmp_path


def _findings(repo: Path, on: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code = main(
        [
            "validate",
            "--repo",
            str(repo),
            "--changed-since",
            "HEAD",
            "--on",
            on,
            "--format",
            "json",
            "--no-cache",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0  # a warning never fails validation
    return [f for f in data["findings"] if f["rule"] == "FRZ001"]


def _touch_production_server(repo: Path) -> None:
    path = repo / "clients/alpine-books/servers/shop1.yaml"
    path.write_text(path.read_text().replace('schedule: "02:30"', 'schedule: "02:45"'))


def test_a_production_change_on_the_eve_of_ascension_is_warned_at_its_role_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _touch_production_server(repo)
    # Ascension 2027 is Thursday 6 May: Wednesday 5 May is its eve, a freeze day.
    found = _findings(repo, "2027-05-05", capsys)
    assert len(found) == 1
    assert found[0]["file"] == "clients/alpine-books/servers/shop1.yaml"
    assert found[0]["severity"] == "warning" and found[0]["article"] == "6.1"
    assert found[0]["line"] == 3  # the `role: production` line
    assert "2027-05-07" not in str(found[0]["message"])  # Friday is an eve of Saturday too
    assert "2027-05-10" in str(found[0]["message"])  # next day that is no eve: Monday


def test_the_same_change_on_an_ordinary_tuesday_is_not_warned(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _touch_production_server(repo)
    assert _findings(repo, "2027-05-04", capsys) == []


def test_a_development_server_change_is_never_a_freeze_warning(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo / "clients/cime-conseil/servers/dev1.yaml"
    path.write_text(path.read_text().replace('schedule: "03:00"', 'schedule: "03:15"'))
    assert _findings(repo, "2027-05-07", capsys) == []  # a Friday


def test_next_release_day_skips_fridays_saturdays_and_eves_of_holidays() -> None:
    assert next_release_day(dt.date(2027, 5, 5)) == dt.date(2027, 5, 10)
    assert next_release_day(dt.date(2027, 5, 4)) == dt.date(2027, 5, 4)
