"""The secret scan's whole output (line, column, message as literals; the values it masks) for
each kind of secret on a later line of a file, several secrets in one file, the allow marker
on a later line, masks that overlap or touch, and which files of a repository are read. Written
to kill the mutants of `bench/mutation.py rules/secrets rules/secrets_patterns`.

The fake secrets are assembled at run time so that this file itself holds none."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagsync.rules.secrets import (
    PRAGMA,
    redact_line,
    scan_repository,
    scan_text,
    secret_values,
)

SECRET = "Qx7" + "vR2m" + "Lp9w" + "Zt4k"  # dagsync: allow-secret
OTHER = "Mv7" + "rQ2x" + "L9pZ" + "4nB8"  # dagsync: allow-secret
BEGIN = "-----BEGIN "
PEM_TAIL = "PRIVATE KEY-----"
CLIENT = "clients/acme/client.yaml"
HEAD = "id: acme\nname: Acme\n"  # two lines before the secret: it is on line 3

KEY_FIX = "is written here: remove it from the repository, rotate it and keep it in the vault"
VALUE_FIX = (
    "holds a secret value: remove it from the repository (rotate it if it was real) and "
    "reference it from the vault or the environment instead"
)
URL_FIX = (
    "URL embeds a password: remove the credentials from the URL, rotate them and keep them "
    "in the vault"
)


@pytest.mark.parametrize(
    ("text", "column", "message", "values"),
    [
        (f"  {BEGIN}OPENSSH {PEM_TAIL}\n  AAAA\n", 3,
         f"a private key (`-----BEGIN OPENSSH PRIVATE KEY-----`) {KEY_FIX}", []),
        (f"{BEGIN}RSA {PEM_TAIL}\n", 1,
         f"a private key (`-----BEGIN RSA PRIVATE KEY-----`) {KEY_FIX}", []),
        (f"{BEGIN}{PEM_TAIL}\n", 1, f"a private key (`-----BEGIN PRIVATE KEY-----`) {KEY_FIX}", []),
        ("key body: b3BlbnNzaC1r" + "ZXktdjEAAAAABG5vbmU\n", 11,
         f"an OpenSSH private key body {KEY_FIX}", ["b3BlbnNzaC1r" + "ZXktdjEAAAAABG5vbmU"]),
        ("PuTTY-User-Key-File-" + "3: ssh-ed25519\n", 1, f"a PuTTY private key file {KEY_FIX}", []),
        (f"password: {SECRET}\n", 1, f"`password` {VALUE_FIX}", [SECRET]),
        (f'  - {{"api_key": "{SECRET}"}}\n', 7, f"`api_key` {VALUE_FIX}", [SECRET]),
        (f"GH_TOKEN={SECRET}\n", 1, f"`GH_TOKEN` {VALUE_FIX}", [SECRET]),
        (f"# old root password: {SECRET}\n", 12, f"`password` {VALUE_FIX}", [SECRET]),
        (f"summary: Reset the FTP password: {SECRET} (sent by phone)\n", 24,
         f"`password` {VALUE_FIX}", [SECRET]),
        (f"signing_key: {SECRET}8d0Aa3\n", 1, f"`signing_key` {VALUE_FIX}", [SECRET + "8d0Aa3"]),
        (f'uptime_urls: ["https://monitor:{SECRET}@shop.example/"]\n', 16,
         f"a `https://` {URL_FIX}", [SECRET]),
        (f"dsn: postgresql://app:{SECRET}@db1:5432/shop\n", 6,
         f"a `postgresql://` {URL_FIX}", [SECRET]),
    ],
)  # fmt: skip
def test_each_kind_of_secret_on_a_later_line_whole(
    text: str, column: int, message: str, values: list[str]
) -> None:
    assert list(scan_text(CLIENT, HEAD + text)) == [(3, column, message)]
    assert sorted(secret_values(CLIENT, HEAD + text)) == values


def test_several_secrets_in_one_file_in_order_each_once() -> None:
    text = (
        f"{HEAD}token: {OTHER}\nnotes: ok\n"
        f"dsn: mysql://app:{SECRET}@db1/shop  # password: {SECRET}\n"
    )
    assert list(scan_text(CLIENT, text)) == [
        (3, 1, f"`token` {VALUE_FIX}"),
        (5, 6, f"a `mysql://` {URL_FIX}"),
        (5, 46, f"`password` {VALUE_FIX}"),
    ]
    assert secret_values(CLIENT, text) == {SECRET, OTHER}


def test_the_allow_marker_skips_its_own_line_only_and_only_outside_clients() -> None:
    text = f"{HEAD}password: {SECRET}  # {PRAGMA}\ntoken: {OTHER}\n"
    assert list(scan_text("docs/example.md", text)) == [(4, 1, f"`token` {VALUE_FIX}")]
    assert [p[:2] for p in scan_text(CLIENT, text)] == [(3, 1), (4, 1)]


def test_a_secret_on_a_last_line_without_a_newline_and_the_marker_on_the_first() -> None:
    text = f"# {PRAGMA}\nid: x\ntoken: {OTHER}"
    assert list(scan_text("docs/example.md", text)) == [(3, 1, f"`token` {VALUE_FIX}")]


def test_masks_that_overlap_are_one_and_masks_apart_are_two() -> None:
    assert redact_line(f"a: https://bob:{SECRET}@h/ token: {OTHER}") == (
        "a: https://bob:****@h/ token: ****"
    )
    assert redact_line(f"password: https://bob:{SECRET}@h/") == "password: ****"
    assert redact_line("nothing: here") == "nothing: here"
    assert redact_line(f"password: {SECRET}", "docs/x.md") == "password: ****"


def _write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def test_which_files_of_a_repository_are_read(tmp_path: Path) -> None:
    line = f"token: {SECRET}\n".encode()
    _write(tmp_path, ".gitignore", b"/dist/\nout/\nsub/gen/\n*.egg-info/\nnot-a-folder\n")
    for rel in (
        "a.yaml",
        "dist/x.yaml",  # `/dist/`: anchored at the root
        "deep/dist/x.yaml",  # read: not at the root
        "deep/out/x.yaml",  # `out/`: any folder named out
        "sub/gen/x.yaml",  # `sub/gen/`: that path
        "other/gen/x.yaml",  # read
        "pkg.egg-info/x.yaml",
        "__pycache__/x.yaml",
        "node_modules/x.yaml",
        "clients/acme/client.yaml",  # the rules scan clients/
        "not-a-folder/x.yaml",  # a pattern without `/` is not a folder pattern
    ):
        _write(tmp_path, rel, line)
    _write(tmp_path, "latin1.yaml", b"caf\xe9\n" + line)
    _write(tmp_path, "binary.yaml", line + b"\0")
    _write(tmp_path, "big.yaml", line + b"#" * (1024 * 1024))
    _write(tmp_path, "edge.yaml", line + b"#" * (1024 * 1024 - len(line)))
    assert [(f.file, f.line, f.column) for f in scan_repository(tmp_path)] == [
        ("a.yaml", 1, 1),  # a folder's files first, then its folders, each sorted
        ("edge.yaml", 1, 1),  # 1 MiB exactly: read
        ("deep/dist/x.yaml", 1, 1),
        ("not-a-folder/x.yaml", 1, 1),
        ("other/gen/x.yaml", 1, 1),
    ]
    assert [f.file for f in scan_repository(tmp_path, ["other/gen/x.yaml", "a.yaml", "gone"])] == [
        "a.yaml",
        "other/gen/x.yaml",
    ]


def test_a_repository_without_a_readable_gitignore_skips_only_the_usual_folders(
    tmp_path: Path,
) -> None:
    _write(tmp_path, ".gitignore", b"\xff\xfe/out/\n")
    _write(tmp_path, "out/x.yaml", f"token: {SECRET}\n".encode())
    _write(tmp_path, ".git/config", f"token: {SECRET}\n".encode())
    _write(tmp_path, ".venv/x.yaml", f"token: {SECRET}\n".encode())
    _write(tmp_path, "venv/x.yaml", f"token: {SECRET}\n".encode())
    assert [f.file for f in scan_repository(tmp_path)] == ["out/x.yaml"]


def test_a_key_marker_is_not_masked_and_does_not_stop_the_masks_after_it() -> None:
    """A private key's marker has no value to mask (an empty span); the password after it on
    the same line still is."""
    line = f"{BEGIN}RSA {PEM_TAIL} password: {SECRET}"
    assert redact_line(line) == f"{BEGIN}RSA {PEM_TAIL} password: ****"
    assert redact_line(f"{BEGIN}RSA {PEM_TAIL}") == f"{BEGIN}RSA {PEM_TAIL}"


def test_a_file_that_starts_with_an_empty_line() -> None:
    assert list(scan_text(CLIENT, f"\n\ntoken: {OTHER}\n")) == [(3, 1, f"`token` {VALUE_FIX}")]


def test_the_binary_sniff_reads_the_first_8192_bytes(tmp_path: Path) -> None:
    line = f"token: {SECRET}\n".encode()
    _write(tmp_path, "late-nul.yaml", line + b"#" * (8192 - len(line)) + b"\0")
    _write(tmp_path, "nul.yaml", line + b"#" * (8191 - len(line)) + b"\0")
    assert [(f.file, f.line, f.column, f.message) for f in scan_repository(tmp_path)] == [
        ("late-nul.yaml", 1, 1, f"`token` {VALUE_FIX}")
    ]


def test_gitignore_folder_patterns_are_read_whole(tmp_path: Path) -> None:
    """`/Xdist/` anchors a root folder whose name starts with X; `cacheX/` ends with X: both
    are skipped, the names they do not match are not."""
    line = f"token: {SECRET}\n".encode()
    _write(tmp_path, ".gitignore", b"/Xdist/\ncacheX/\n")
    for rel in ("Xdist/a.yaml", "dist/a.yaml", "cacheX/a.yaml", "cache/a.yaml"):
        _write(tmp_path, rel, line)
    assert [f.file for f in scan_repository(tmp_path)] == ["cache/a.yaml", "dist/a.yaml"]


SPOKEN_FIX = (
    "here: remove it from the repository (rotate it if it was real) and keep it in the vault"
)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("notes: mdp Zq8-vLm3-Rt7w", (8, "mdp", "Zq8-vLm3-Rt7w")),
        ("summary: le mot de passe est Ab1cdef.", (13, "mot de passe", "Ab1cdef")),
        ("summary: password was abc123", (10, "password", "abc123")),
        ("summary: password was abc12", None),  # five characters: too short
        ("summary: password is reset.", None),  # a word
        ("summary: password is abc-def", None),  # a symbol, one case, no digit
        ("summary: passphrase = ABC-DEF", None),
        ("summary: password is {{x}}", None),  # a template
        ("summary: xpassword is Abc123", None),  # not a word of its own
    ],
)
def test_a_password_given_in_a_sentence_on_a_later_line(
    line: str, found: tuple[int, str, str] | None
) -> None:
    text = f"a: 1\n{line}\n"
    if found is None:
        assert list(scan_text(CLIENT, text)) == []
        return
    column, word, value = found
    assert list(scan_text(CLIENT, text)) == [
        (2, column, f"a password follows `{word}` {SPOKEN_FIX}")
    ]
    assert secret_values(CLIENT, text) == {value}
    assert redact_line(line).endswith("****" + ("." if line.endswith(".") else ""))


@pytest.mark.parametrize(
    ("value", "found"), [("abcdef", False), ("abcde1", True), ("Abc-de", True), ("abc-de", False)]
)
def test_a_password_in_prose_after_a_colon_must_look_like_one(value: str, found: bool) -> None:
    text = f"a: 1\nsummary: Reset the FTP password: {value}\n"
    assert list(scan_text(CLIENT, text)) == ([(2, 24, f"`password` {VALUE_FIX}")] if found else [])
