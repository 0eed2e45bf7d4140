"""Findings of the attacker review that reach the validator: a password written in French or
in a sentence, a symbolic link or a FIFO in clients/, a credential file anywhere in git.
None may echo a secret or a linked file's content, in any format."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import FORMATS, Run, copy_repository

SECRET = "Zq8-vLm3-Rt7w"  # dagsync: allow-secret
SHOP1 = "clients/alpine-books/servers/shop1.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_repository(tmp_path / "repo")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _everywhere(validate: Callable[..., Run], root: Path) -> dict[str, Run]:
    return {fmt: validate(root, fmt) for fmt in FORMATS}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("owner: Claire Martin", f"owner: 'Claire Martin, mdp {SECRET}'"),
        ("name: Alpine Books SARL", f"name: Alpine Books SARL  # le mot de passe est {SECRET}"),
        ("name: Alpine Books SARL", f"name: Alpine Books SARL\nmot_de_passe: {SECRET}"),
        ("owner: Claire Martin", f"owner: Claire Martin password {SECRET}"),
    ],
    ids=["mdp-in-free-text", "french-sentence-in-a-comment", "french-key", "password-then-value"],
)
def test_a_password_written_in_french_or_in_a_sentence_is_found_and_never_echoed(
    repo: Path, validate: Callable[..., Run], old: str, new: str
) -> None:
    target = repo / (SHOP1 if old.startswith("owner") else "clients/alpine-books/client.yaml")
    _edit(target, old, new)
    for fmt, run in _everywhere(validate, repo).items():
        assert run.code == 1, fmt
        assert SECRET not in run.out + run.err, fmt
        assert "ACC004" in {f.rule for f in run.findings}, fmt


def test_prose_about_a_password_is_not_a_secret(repo: Path, validate: Callable[..., Run]) -> None:
    _edit(
        repo / "clients/alpine-books/requests.yaml",
        "summary: Initial set-up",
        "summary: Password reset requested by phone; initial set-up",
    )
    assert validate(repo).findings == ()


def test_a_symbolic_link_in_clients_is_never_read_nor_followed(
    repo: Path, validate: Callable[..., Run], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(f"name: zz\nleak: MARKER-{os.getpid()}\n")
    (repo / "clients/alpine-books/servers/zz.yaml").symlink_to(outside)
    (repo / "clients/evil").symlink_to(tmp_path)
    for fmt, run in _everywhere(validate, repo).items():
        assert f"MARKER-{os.getpid()}" not in run.out + run.err, fmt
        links = sorted((f.file, f.rule) for f in run.findings if f.rule == "REP003")
        assert links == [
            ("clients/alpine-books/servers/zz.yaml", "REP003"),
            ("clients/evil", "REP003"),
        ], fmt
    text = validate(repo, "text").out
    assert "this is a symbolic link or a special file, which dagsync never reads" in text


def test_a_fifo_in_clients_does_not_block_the_run(repo: Path, validate: Callable[..., Run]) -> None:
    os.mkfifo(repo / "clients/alpine-books/servers/pipe.yaml")
    run = validate(repo)
    assert run.code == 1
    assert [(f.file, f.rule) for f in run.findings] == [
        ("clients/alpine-books/servers/pipe.yaml", "REP003")
    ]


def test_a_tracked_credential_file_is_an_error_and_its_secrets_are_never_echoed(
    repo: Path, validate: Callable[..., Run]
) -> None:
    (repo / "ovh.conf").write_text(
        "[ovh-eu]\napplication_key=AbCdEf123456\n"
        f"application_secret={SECRET}9Kq\nconsumer_key={SECRET}4Lm\n"
    )
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "config"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, env=env)
    for fmt, run in _everywhere(validate, repo).items():
        assert SECRET not in run.out + run.err, fmt
        found = sorted((f.file, f.line, f.rule) for f in run.findings)
        assert ("ovh.conf", 1, "ACC004") in found, fmt
        assert ("ovh.conf", 3, "ACC004") in found and ("ovh.conf", 4, "ACC004") in found, fmt
