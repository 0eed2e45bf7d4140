"""The security services in the apply scope: `dag/<security host>` is in scope exactly when
what its local APIs are rendered from changes, a server when its agent, bouncer, AIDE or
ClamAV setup may change (its flags, its client's servers, the scopes' layout)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dagsync.reconcile.digests import digests
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
SEC = "dag/sec1"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path


def _moved(root: Path, path: str, edit: Callable[[str], str]) -> set[str]:
    before = digests(load_repository(root, validate=False))
    file = root / path
    edited = edit(file.read_text())
    assert edited != file.read_text()
    file.write_text(edited)
    after = digests(load_repository(root, validate=False))
    return {k for k in after if before.get(k) != after[k]}


def test_a_firewall_port_moves_its_server_but_not_the_security_host(root: Path) -> None:
    moved = _moved(
        root,
        "clients/alpine-books/servers/shop1.yaml",
        lambda t: t.replace("port: 80", "port: 8080"),
    )
    assert "alpine-books/shop1" in moved and SEC not in moved


def test_a_security_flag_moves_its_server_and_the_security_host(root: Path) -> None:
    moved = _moved(
        root,
        "clients/alpine-books/servers/shop1.yaml",
        lambda t: t.replace("  antivirus: true\n", "  antivirus: false\n  request: REQ-2025-001\n"),
    )
    assert {"alpine-books/shop1", SEC} <= moved
    assert "velo-savoie/web1" not in moved


def test_opting_out_of_propagation_moves_the_security_host_and_every_server(root: Path) -> None:
    moved = _moved(
        root,
        "clients/velo-savoie/client.yaml",
        lambda t: t.replace(
            "share_blocklist_network_wide: true", "share_blocklist_network_wide: false"
        ),
    )
    servers = {f"{c.id}/{s.name}" for c, s in load_repository(root, validate=False).servers()}
    assert {SEC, *servers} <= moved  # the scopes' ports follow their order
