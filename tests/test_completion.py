"""Shell completion completes client, server, rule and kind names (click's protocol)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


def _complete(words: str, cwd: Path = PROJECT, *extra: str) -> list[str]:
    """What bash would be offered: click's `bash_complete` protocol, one `type,value` a line."""
    env = {
        **os.environ,
        "_DAGSYNC_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dagsync", *extra],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("dagsync plan --client ", ["alpine-books", "cime-conseil", "velo-savoie"]),
        ("dagsync apply --client c", ["cime-conseil"]),
        ("dagsync block 198.51.100.1 --client v", ["velo-savoie"]),
        ("dagsync audit al", ["alpine-books"]),
        (
            "dagsync backup verify --server velo",
            ["velo-savoie/db1", "velo-savoie/web1", "velo-savoie/web2"],
        ),
        ("dagsync plan --server web", ["web1", "web2"]),
        ("dagsync plan --only firewall,ac", ["firewall,accounts"]),
        ("dagsync plan --only ma", ["mail"]),
        ("dagsync rules ctr00", [f"CTR00{i}" for i in range(1, 10)]),
    ],
)
def test_names_complete_from_the_repository(words: str, expected: list[str]) -> None:
    assert _complete(words) == expected


def test_outside_a_repository_nothing_completes_and_nothing_fails(tmp_path: Path) -> None:
    assert _complete("dagsync plan --client ", tmp_path) == []


def test_repo_on_the_line_is_where_names_come_from(tmp_path: Path) -> None:
    (tmp_path / "clients" / "lac-bleu" / "servers").mkdir(parents=True)
    (tmp_path / "clients" / "lac-bleu" / "servers" / "web9.yaml").write_text("name: web9\n")
    (tmp_path / "policies").mkdir()
    words = f"dagsync plan --repo {tmp_path} --server "
    assert _complete(words, PROJECT) == ["lac-bleu/web9", "web9"]


def test_bash_source_script_names_the_program() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dagsync"],
        env={**os.environ, "_DAGSYNC_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "_dagsync_completion" in proc.stdout and "complete -o nosort" in proc.stdout
