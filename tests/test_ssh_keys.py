"""The SSH key as CI secrets give it: `DAGSYNC_SSH_KEY` holds the private key's text,
`DAGSYNC_SSH_KEY_FILE` a path, neither means ssh-agent; a key that cannot be used is refused
before any host is contacted, and no error ever contains a byte of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dagsync.errors import DagsyncError
from dagsync.reconcile.transport.inventory import (
    SSH_KEY_ENV,
    SSH_KEY_FILE_ENV,
    Credentials,
    Overrides,
)
from dagsync.reconcile.transport.ssh import _private_key, credentials, normalise_key_text

PROJECT = Path(__file__).resolve().parents[1]


def keygen(path: Path, *extra: str, passphrase: str = "") -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "t", *extra, "-f", str(path)],
        check=True,
    )
    return path.read_text()


@pytest.fixture
def key(tmp_path: Path) -> str:
    return keygen(tmp_path / "id_ed25519")


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (SSH_KEY_ENV, SSH_KEY_FILE_ENV, "DAGSYNC_SSH_USER", "DAGSYNC_HOSTS_FILE"):
        monkeypatch.delenv(name, raising=False)


def fragments(text: str) -> list[str]:
    """Every 12-character piece of the key's body: none may appear in any output."""
    body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    return [body[i : i + 12] for i in range(0, len(body) - 12, 6)]


def public(key_text: str, tmp_path: Path) -> str:
    path = tmp_path / "probe"
    path.write_text(key_text)
    path.chmod(0o600)
    done = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout.split()[1]


def test_the_key_text_as_a_secret_gives_it_is_the_key(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SSH_KEY_ENV, key)
    creds = credentials("root", Overrides())
    assert (creds.key_file, creds.key_text) == (None, key)
    assert key not in repr(creds)
    parsed = _private_key(creds)
    assert parsed.get_base64() == public(key, tmp_path)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k.replace("\n", "\r\n"),  # pasted on Windows
        lambda k: k.strip(),  # no final newline (GitHub trims secrets)
        lambda k: f"\n  {k}  \n",
        lambda k: k.replace("\n", " "),  # on one line
        lambda k: k.replace("\n", "\\n"),  # escaped newlines
    ],
    ids=["crlf", "no-final-newline", "blanks", "one-line", "escaped-newlines"],
)
def test_what_a_copy_paste_does_to_a_key_is_undone(key: str, mangle: object) -> None:
    assert callable(mangle)
    assert normalise_key_text(mangle(key)) == key


def test_a_key_file_is_read_from_its_path(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "id_ed25519"
    monkeypatch.setenv(SSH_KEY_FILE_ENV, str(path))
    creds = credentials("deployer", Overrides())
    assert creds == Credentials("deployer", path, None)
    assert _private_key(creds).get_base64() == public(key, tmp_path)


def test_neither_variable_means_the_ssh_agent() -> None:
    creds = credentials("root", Overrides())
    assert creds == Credentials("root", None, None)
    assert _private_key(creds) is None


def test_both_variables_at_once_are_refused(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SSH_KEY_ENV, key)
    monkeypatch.setenv(SSH_KEY_FILE_ENV, str(tmp_path / "id_ed25519"))
    with pytest.raises(DagsyncError, match=r"both \$DAGSYNC_SSH_KEY .* set only one"):
        credentials("root", Overrides())


def test_a_path_in_the_text_variable_names_the_path_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv(SSH_KEY_ENV, str(tmp_path / "id_ed25519"))
    with pytest.raises(DagsyncError) as error:
        credentials("root", Overrides())
    assert str(error.value) == (
        "$DAGSYNC_SSH_KEY holds a file name, not a key: it must hold the private key's text "
        "(as a CI secret gives it); for a path, set $DAGSYNC_SSH_KEY_FILE instead"
    )


def test_a_missing_key_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SSH_KEY_FILE_ENV, str(tmp_path / "nope"))
    with pytest.raises(DagsyncError) as error:
        credentials("root", Overrides())
    assert (
        str(error.value)
        == f"SSH key {tmp_path / 'nope'} does not exist (from $DAGSYNC_SSH_KEY_FILE)"
    )


def test_a_key_file_that_is_not_text_is_named_without_its_content(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "id_ed25519"
    path.write_bytes(b"\xff\xfe" + key.encode())
    monkeypatch.setenv(SSH_KEY_FILE_ENV, str(path))
    with pytest.raises(DagsyncError) as error:
        credentials("root", Overrides())
    assert str(error.value) == f"the SSH key {path} cannot be read (not text)"


def test_a_directory_as_key_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SSH_KEY_FILE_ENV, str(tmp_path))
    with pytest.raises(DagsyncError, match="does not exist \\(from \\$DAGSYNC_SSH_KEY_FILE\\)"):
        credentials("root", Overrides())


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (lambda k: k[: len(k) // 2], "cannot be read: expected an unencrypted OpenSSH or PEM"),
        (lambda k: k.replace("A", "!"), "cannot be read: expected an unencrypted OpenSSH or PEM"),
        (lambda k: k.split("\n", 1)[1], "cannot be read: expected an unencrypted OpenSSH or PEM"),
        (lambda k: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", "cannot be read"),
        (lambda k: "".join(k.splitlines()[1:-1]), "cannot be read"),  # body only: a long name
        (lambda k: "$(touch pwned); `touch pwned`\n" + k, "cannot be read"),
        (lambda k: k * 3000, "cannot be read"),
    ],
    ids=["truncated", "corrupted", "no-begin-line", "a-public-key", "body-only", "shell", "huge"],
)
def test_a_malformed_key_is_refused_without_quoting_it(
    key: str, broken: object, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert callable(broken)
    value = broken(key)
    monkeypatch.setenv(SSH_KEY_ENV, value)
    with pytest.raises(DagsyncError) as error:
        credentials("root", Overrides())
    message = str(error.value)
    assert message.startswith(f"the SSH key in $DAGSYNC_SSH_KEY {problem}")
    assert error.value.__cause__ is None and error.value.__suppress_context__
    for piece in fragments(key):
        assert piece not in message


def test_a_key_with_a_passphrase_points_to_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = keygen(tmp_path / "locked", passphrase="correct horse")
    monkeypatch.setenv(SSH_KEY_ENV, locked)
    with pytest.raises(DagsyncError) as error:
        credentials("root", Overrides())
    assert str(error.value) == (
        "the SSH key in $DAGSYNC_SSH_KEY is protected by a passphrase: "
        "load it into ssh-agent instead"
    )


def example_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, root / folder)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("how", ["truncated", "passphrase", "path-in-text"])
def test_no_byte_of_a_bad_key_reaches_the_output_of_plan_or_apply(
    tmp_path: Path, fmt: str, how: str
) -> None:
    key = keygen(tmp_path / "id_ed25519")
    value = {
        "truncated": key[:-60],
        "passphrase": keygen(tmp_path / "locked", passphrase="hunter2-hunter2"),
        "path-in-text": str(tmp_path / "id_ed25519"),
    }[how]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVH_", "DAGSYNC_"))}
    env[SSH_KEY_ENV] = value
    root = example_repo(tmp_path)
    outputs = []
    for command in (["plan", "--format", fmt], ["apply", "--yes", "--no-record", "--any-commit"]):
        done = subprocess.run(
            [sys.executable, "-m", "dagsync", *command, "--repo", str(root)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
    for output in outputs:
        assert "$DAGSYNC_SSH_KEY" in output
        assert "Traceback" not in output
        for piece in fragments(value) if "-----" in value else [value]:
            assert piece not in output
        for piece in fragments(key):
            assert piece not in output
