"""`dagsync.model.partial`: a document's valid sections typed, its invalid ones unavailable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dagsync.config import yamlio
from dagsync.model.partial import (
    SectionUnavailable,
    Unavailable,
    as_json,
    is_unavailable,
    validate_sections,
)
from dagsync.model.server import Server

SHOP1 = Path(__file__).parents[1] / "clients/alpine-books/servers/shop1.yaml"


def _partial(old: str, new: str) -> tuple[Any, list[str]]:
    text = SHOP1.read_text()
    assert old in text
    data, problem = yamlio.load(text.replace(old, new, 1))
    assert problem is None
    with pytest.raises(ValidationError) as raised:
        Server.model_validate_json(as_json(data), strict=True)
    return validate_sections(Server, data, raised.value.errors(), "servers/shop1.yaml")


def test_a_wrong_scalar_makes_its_section_unavailable_and_keeps_the_others() -> None:
    server, names = _partial("  anti_ddos: true", '  anti_ddos: "yes"')
    assert names == ["security"]
    assert is_unavailable(server.security)
    assert server.backup.retention_days == 7
    with pytest.raises(SectionUnavailable) as raised:
        _ = server.security.antivirus
    assert raised.value.where == "servers/shop1.yaml `security`"


def test_a_wrong_top_level_scalar_is_the_only_field_unavailable() -> None:
    server, names = _partial("role: production", "role: prod")
    assert names == ["role"]
    assert server.security.antivirus is True


def test_a_wrong_list_item_makes_the_list_unavailable() -> None:
    server, names = _partial("ips: [203.0.113.10]", "ips: [203.0.113.300]")
    assert names == ["ips"]
    with pytest.raises(SectionUnavailable):
        list(server.ips)


def test_an_unknown_field_is_dropped_and_its_section_stays_typed() -> None:
    server, names = _partial("  retention_days: 7", "  retention_days: 7\n  justifcation: x")
    assert names == []
    assert server.backup.retention_days == 7


def test_a_missing_required_field_of_a_section_makes_the_section_unavailable() -> None:
    server, names = _partial("  retention_days: 7\n", "")
    assert names == ["backup"]
    assert server.ssh.port == 22


@pytest.mark.parametrize(
    "use",
    [
        bool,
        len,
        iter,
        lambda u: u == 1,
        lambda u: u < 1,
        lambda u: u["x"],
        lambda u: u.anything,
        lambda u: f"{u}",
        lambda u: 1 in u,
        hash,
    ],
)
def test_every_use_of_an_unavailable_section_raises(use: Any) -> None:
    with pytest.raises(SectionUnavailable):
        use(Unavailable("servers/x.yaml `backup`"))


def test_a_document_that_is_not_a_mapping_has_no_partial_model() -> None:
    assert validate_sections(Server, ["a"], [], "servers/x.yaml") == (None, [])
