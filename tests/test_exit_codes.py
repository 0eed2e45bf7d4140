"""One exit-code table for every command (dagsync.errors, README "Exit codes"):
0 done; 1 findings or a failure; 2 a usage, repository or environment error, nothing done.
`plan` and `apply` follow Terraform: errors exit 1, and 2 is reserved for
`plan --detailed-exitcode`'s pending changes and for an apply refused before it started."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dagsync.cli import main

PROJECT = Path(__file__).resolve().parents[1]

# Every command that reads the configuration repository, run where there is none.
WITHOUT_REPOSITORY = [
    (["validate"], 2),
    (["schema", "--check"], 2),
    (["contracts"], 2),
    (["audit", "alpine-books"], 2),
    (["check-commits", "HEAD~1..HEAD"], 2),
    (["changed-clients"], 2),
    (["scope"], 2),
    (["block", "198.51.100.1", "--client", "alpine-books", "--reason", "scan"], 2),
    (["backup", "verify"], 2),
    (["mail", "usage", "--no-record"], 2),
    (["sandbox", "status"], 2),
    (["sandbox", "matrix"], 2),
    (["sandbox", "probe", "--from", "any", "web1:443"], 2),
    (["plan"], 1),
    (["apply", "--yes"], 1),
]


@pytest.mark.parametrize(("argv", "code"), WITHOUT_REPOSITORY, ids=lambda v: str(v))
def test_no_repository_exits_with_the_tables_code_and_says_what_to_do(
    argv: list[str],
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "no configuration repository (a folder with clients/ and policies/)" in err
    assert "pass --repo DIR" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [["validate", "--no-such-option"], ["plan", "--format", "yaml"], ["rules", "NOPE999"], []],
    ids=str,
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    capsys.readouterr()


def test_findings_exit_1_and_a_clean_repository_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(PROJECT / folder, tmp_path / folder)
    assert main(["validate", "--repo", str(tmp_path), "--no-cache"]) == 0
    shop = tmp_path / "clients/alpine-books/servers/shop1.yaml"
    shop.write_text(shop.read_text().replace("retention_days: 7", "retention_days: 3"))
    assert main(["validate", "--repo", str(tmp_path), "--no-cache"]) == 1
    capsys.readouterr()


def test_the_readme_states_the_same_table() -> None:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for line in (
        "| 0 | done: clean, nothing to do, every target applied |",
        "| 1 | findings of severity error, a failed target or check; any error of `plan`/`apply` |",
        "| 2 | a usage, repository or environment error: nothing was done; `plan --detailed-exitcode`: changes pending; `apply` refused before it started (not on the branch tip, another apply holds the lock) |",
    ):
        assert line in section
