"""Each contract is judged by the numbers of the CGV version it names (DESIGN §2, CGV Art. 9)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from dagsync.validate.run import validate_repository

PROJECT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 12, 1)
SHOP1 = "clients/alpine-books/servers/shop1.yaml"
WEB1 = "clients/velo-savoie/servers/web1.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The example repository with a second CGV version (2027-01: 10 days of backups, 20 GB
    of mail included, 5 CC) that alpine-books signed; the other clients stay on 2024-01."""
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, tmp_path / folder)
    shutil.copy(PROJECT / "tests/data/cgv-2027-01.yaml", tmp_path / "policies/cgv/2027-01.yaml")
    _replace(
        tmp_path / "clients/alpine-books/client.yaml",
        'cgv_version: "2024-01"',
        'cgv_version: "2027-01"',
    )
    return tmp_path


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def _found(root: Path) -> set[tuple[str, str, str]]:
    result = validate_repository(root, use_cache=False, today=TODAY)
    return {(f.rule, f.file, f.message) for f in result.findings}


def test_each_contract_is_judged_by_its_own_cgv_version(repo: Path) -> None:
    found = _found(repo)
    assert {(rule, file) for rule, file, _ in found} == {
        ("BKP003", SHOP1),  # 7 days kept, 2027-01 keeps 10
        ("MAIL005", "clients/alpine-books/client.yaml"),  # 9 in copy, 2027-01 allows 5
        ("MAIL002", "clients/alpine-books/client.yaml"),  # 25 GB, 2027-01 includes 20
    }
    messages = " ".join(message for _, _, message in found)
    assert "CGV 2027-01 keeps 10 rolling days" in messages
    assert "10.00 EUR HT per month" in messages


def test_the_same_value_passes_one_version_and_fails_the_other(repo: Path) -> None:
    _replace(repo / SHOP1, "retention_days: 7", "retention_days: 10")
    _replace(repo / WEB1, "retention_days: 7", "retention_days: 10")
    backups = {(file, message) for rule, file, message in _found(repo) if rule == "BKP003"}
    assert [file for file, _ in backups] == [WEB1]
    assert "CGV 2024-01 keeps 7 rolling days" in next(iter(backups))[1]
