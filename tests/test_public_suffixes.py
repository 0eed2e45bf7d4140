"""`model.reserved.registrable` reads the Public Suffix List one top-level label at a time
(parsing all of it took longer than checking a client): it answers as the whole list does."""

from __future__ import annotations

import pytest
from publicsuffixlist import PSLFILE, PublicSuffixList

from dagsync.model.reserved import registrable


def _names() -> list[str]:
    """Names at, under and beside every rule of the list, ASCII and punycode, and names
    under top-level labels the list does not have."""
    with open(PSLFILE, encoding="utf-8") as f:  # noqa: PTH123 - the package's own file
        rules = [r for line in f if (r := line.split(" ")[0].strip()) and not r.startswith("//")]
    names = ["example", "a.example", "b.a.example", "com", "x.com", "", ".", "a..com", "é.fr"]
    for rule in rules:
        base = rule.lstrip("!").replace("*", "x")
        for name in (base, f"a.{base}", f"b.a.{base}", f"Www.B.A.{base}."):
            names.append(name)
            if not name.isascii() and "." in name.strip("."):
                try:
                    names.append(name.encode("idna").decode("ascii"))
                except UnicodeError:
                    continue
    return names


def test_registrable_answers_as_the_whole_public_suffix_list() -> None:
    whole = PublicSuffixList()
    names = _names()
    assert len(names) > 40_000
    differ = [n for n in names if registrable(n) != whole.privatesuffix(n.rstrip(".").lower())]
    assert differ == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("mx1.dagtechnologies.example", "dagtechnologies.example"),
        ("a.b.co.uk", "b.co.uk"),
        ("co.uk", None),
        ("www.city.kobe.jp", "city.kobe.jp"),  # an exception rule
        ("a.b.c.kobe.jp", "b.c.kobe.jp"),  # a wildcard rule
        ("shop.xn--p1ai", "shop.xn--p1ai"),  # an internationalised top-level label
        ("a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn"),  # 公司.cn, an internationalised rule
    ],
)
def test_registrable_domains(host: str, expected: str | None) -> None:
    assert registrable(host) == expected
