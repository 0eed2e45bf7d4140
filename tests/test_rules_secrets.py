"""Secrets (CGV Art. 6): found in any file, comments included, and never echoed back.

The fake secrets are assembled at run time so that this file itself holds none.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from dagsync.findings import Severity
from dagsync.rules.secrets import PRAGMA, redact_line, scan_repository, scan_text
from dagsync.validate.report import FORMATS, render_text
from dagsync.validate.run import validate_repository

PROJECT = Path(__file__).resolve().parents[1]
# The one value that must never be printed:
SECRET = "Qx7" + "vR2m" + "Lp9w" + "Zt4k"  # dagsync: allow-secret
BEGIN = "-----BEGIN "
PEM_TAIL = "PRIVATE KEY-----"
CLIENT = "clients/acme/client.yaml"


def _lines(rel: str, text: str) -> list[tuple[int, int]]:
    return [(line, column) for line, column, _ in scan_text(rel, text)]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f"notes: |\n  {BEGIN}OPENSSH {PEM_TAIL}\n  AAAA\n", (2, 3)),
        (f"{BEGIN}RSA {PEM_TAIL}\n", (1, 1)),
        (f"{BEGIN}ENCRYPTED {PEM_TAIL}\n", (1, 1)),
        (f"{BEGIN}{PEM_TAIL}\n", (1, 1)),
        (f"{BEGIN}PGP PRIVATE KEY BLOCK-----\n", (1, 1)),
        ("key body: b3BlbnNzaC1r" + "ZXktdjEAAAAABG5vbmU\n", (1, 11)),
        ("PuTTY-User-Key-File-" + "3: ssh-ed25519\n", (1, 1)),
        (f"password: {SECRET}\n", (1, 1)),
        (f"  db_passwd: '{SECRET}'\n", (1, 3)),
        (f'{{"api_key": "{SECRET}"}}\n', (1, 3)),
        (f"application_secret: {SECRET}\n", (1, 1)),
        (f"consumer_key: {SECRET}\n", (1, 1)),
        (f"GH_TOKEN={SECRET}\n", (1, 1)),
        (f"- {{user: bob, password: {SECRET}}}\n", (1, 15)),
        (f"# old root password: {SECRET}\n", (1, 12)),
        (f"summary: Reset the FTP password: {SECRET} (sent by phone)\n", (1, 24)),
        (f"signing_key: {SECRET}8d0Aa3\n", (1, 1)),
        (f'uptime_urls: ["https://monitor:{SECRET}@shop.example/"]\n', (1, 16)),
        (f"dsn: postgresql://app:{SECRET}@db1:5432/shop\n", (1, 6)),
    ],
)
def test_secret_is_found_at_its_position_without_echoing_it(
    text: str, where: tuple[int, int]
) -> None:
    found = list(scan_text(CLIENT, text))
    assert [(line, column) for line, column, _ in found] == [where]
    assert SECRET not in found[0][2]
    assert "b3BlbnNzaC1r" not in found[0][2]


@pytest.mark.parametrize(
    "text",
    [
        "host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF+0NLAofU66ht9s98VkVf2f+nD56ggkTZhuefrMA3fO\n",
        "keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr a@b\n",
        'passphrase_escrow: "vault://dagsync/borg-passphrases"\n',
        "password_loss_notice_hours:\n  value: 24\n",
        "password: ${DB_PASSWORD}\n",
        "OVH_APPLICATION_SECRET: ${{ secrets.OVH_APPLICATION_SECRET }}\n",
        "password: ''\n",
        "token: null\n",
        "api_key: <your key>\n",
        "secret: true\n",
        "max_tokens: 100\n",
        "primary_key: id\n",
        "storage: sbg-backup-1\n",
        'uptime_urls: ["https://www.alpine-books.example/"]\n',
        "A URL with credentials looks like scheme://user:password@host.\n",
        "justification: Token-based API for the partners' stock application.\n",
        "summary: Reset the FTP password: the client lost it on 2026-03-02.\n",
        "summary: The client lost the password: Claire's mailbox is locked.\n",
    ],
)
def test_ordinary_configuration_is_not_a_secret(text: str) -> None:
    assert _lines(CLIENT, text) == []


def test_python_sources_only_count_string_literals() -> None:
    source = 'password: str = Field(...)\nsecret_key = settings.value\ntoken = "' + SECRET + '"\n'
    assert _lines("src/dagsync/x.py", source) == [(3, 1)]


def test_allow_marker_is_honoured_outside_clients_only() -> None:
    line = f"password: {SECRET}  # {PRAGMA}\n"
    assert _lines("docs/rules.md", line) == []
    assert _lines("clients/acme/client.yaml", line) == [(1, 1)]


def test_redacted_line_keeps_the_key_and_hides_the_value() -> None:
    assert redact_line(f"  password: {SECRET}  # rotate") == "  password: ****  # rotate"
    assert redact_line(f"url: https://bob:{SECRET}@h/") == "url: https://bob:****@h/"
    assert redact_line("host_key: ssh-ed25519 AAAA") == "host_key: ssh-ed25519 AAAA"
    nested = f"password: https://bob:{SECRET}@h/ token: {SECRET}"
    assert redact_line(nested) == "password: **** token: ****"


def test_scan_repository_covers_files_outside_clients(tmp_path: Path) -> None:
    (tmp_path / "clients" / "acme").mkdir(parents=True)
    (tmp_path / "clients" / "acme" / "client.yaml").write_text(f"password: {SECRET}\n")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "dag.yaml").write_text(f"company: X\n\napi_token: {SECRET}\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(f"password = {SECRET}\n")
    (tmp_path / "blob.bin").write_bytes(b"\0password: " + SECRET.encode())
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "x.cfg").write_text(f"password = {SECRET}\n")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "tests" / "data" / "clients").mkdir(parents=True)
    (tmp_path / "tests" / "data" / "clients" / "c.yaml").write_text(f"token: {SECRET}\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "example.md").write_text(f"token: {SECRET}  <!-- {PRAGMA} -->\n")
    found = scan_repository(tmp_path)
    assert [(f.file, f.line, f.column, f.rule, f.article, f.severity) for f in found] == [
        ("policies/dag.yaml", 3, 1, "ACC004", "6", Severity.ERROR),
        ("tests/data/clients/c.yaml", 1, 1, "ACC004", "6", Severity.ERROR),
    ]
    assert [f.file for f in scan_repository(tmp_path, ["clients/acme/client.yaml"])] == [
        "clients/acme/client.yaml"
    ]


@pytest.fixture
def leaky_repo(tmp_path: Path) -> Path:
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, tmp_path / folder)
    shop1 = tmp_path / "clients/alpine-books/servers/shop1.yaml"
    text = shop1.read_text().replace(
        'uptime_urls: ["https://www.alpine-books.example/"]',
        f'uptime_urls: ["https://monitor:{SECRET}@www.alpine-books.example/"]',
    )
    shop1.write_text(text + f"# root password: {SECRET}\n")
    return tmp_path


def test_validation_fails_on_a_secret_and_no_output_format_prints_it(leaky_repo: Path) -> None:
    result = validate_repository(leaky_repo, use_cache=False, today=dt.date(2026, 12, 1))
    assert [(f.rule, f.file, f.line) for f in result.findings] == [
        ("ACC004", "clients/alpine-books/servers/shop1.yaml", 55),
        ("ACC004", "clients/alpine-books/servers/shop1.yaml", 65),
    ]
    assert result.exit_code == 1
    outputs = {name: render(result) for name, render in FORMATS.items()}
    outputs["text"] = render_text(result, leaky_repo)
    for name, output in outputs.items():
        assert "ACC004" in output, name
        assert SECRET not in output, f"the {name} output prints the secret"
