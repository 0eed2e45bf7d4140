"""`dagsync block` refuses what validation refuses in a blocklist entry, and IPv4 written as
IPv6 cannot slip past the width and DAG-address checks (attacker review F6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.commands.block import add_block
from dagsync.errors import DagsyncError


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("0.0.0.0/1", "0.0.0.0/1 is wider than a /16 (blocklist_widest of policies/dag.yaml)"),
        ("::ffff:0:0/96", "::ffff:0:0/96 overlaps ::ffff:0:0/96, IPv4 addresses written as IPv6"),
        ("::ffff:c633:6463/128", "overlaps ::ffff:0:0/96, IPv4 addresses written as IPv6"),
        ("64:ff9b::c633:6463/128", "overlaps 64:ff9b::/96, IPv4 addresses written as IPv6"),
    ],
)
def test_block_refuses_what_validation_refuses_and_writes_nothing(
    repo_copy: Path, address: str, why: str
) -> None:
    path = repo_copy / "clients/velo-savoie/client.yaml"
    before = path.read_text()
    with pytest.raises(
        DagsyncError, match="refused: .*" + why.replace("(", r"\(").replace(")", r"\)")
    ):
        add_block(repo_copy, "velo-savoie", address, "test ban")
    assert path.read_text() == before


def test_a_mapped_range_in_git_is_an_error_at_the_entry(
    repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo_copy / "clients/velo-savoie/client.yaml"
    text = path.read_text()
    assert "address: 198.51.100.66/32" in text
    path.write_text(text.replace("address: 198.51.100.66/32", "address: ::ffff:0:0/96"))
    assert main(["validate", "--no-cache", "--format", "json", "--repo", str(repo_copy)]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    line = path.read_text().splitlines().index("    - address: ::ffff:0:0/96") + 1
    assert [(f["rule"], f["line"]) for f in findings if f["severity"] == "error"] == [
        ("SEC007", line)
    ]
    assert "IPv4 addresses written as IPv6" in findings[-1]["message"]


def test_an_ordinary_address_is_still_blocked(repo_copy: Path) -> None:
    message = add_block(repo_copy, "velo-savoie", "198.51.100.99", "SSH brute force")
    assert "198.51.100.99/32" in message
    assert "198.51.100.99/32" in (repo_copy / "clients/velo-savoie/client.yaml").read_text()
