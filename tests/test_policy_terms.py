"""Every term of the CGV policy is read by some code: no number sits in policies/cgv/ unused."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dagsync.model.policy import CgvPolicy, Term

PROJECT = Path(__file__).resolve().parents[1]
SOURCE = PROJECT / "src" / "dagsync"
TERMS = sorted(
    name
    for name, field in CgvPolicy.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Term)
)


def _value_reads(root: Path) -> dict[str, set[str]]:
    """`x.<term>.value` expressions in the code under `root` (the model excluded): term ->
    the modules that read it."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("model/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "value"
                and isinstance(node.value, ast.Attribute)
            ):
                found.setdefault(node.value.attr, set()).add(rel)
    return found


READS = _value_reads(SOURCE)


def test_the_policy_has_terms_beyond_its_identity() -> None:
    assert len(TERMS) >= 40
    assert {"version", "title", "effective_from"}.isdisjoint(TERMS)


@pytest.mark.parametrize("term", TERMS)
def test_every_policy_term_is_read_by_some_code(term: str) -> None:
    assert READS.get(term), (
        f"no code reads `{term}.value`: use it in a rule (or dagsync contracts, the "
        "calendar...), or remove it from CgvPolicy and policies/cgv/*.yaml"
    )


def test_every_policy_file_holds_exactly_the_model_terms() -> None:
    files = [PROJECT / "policies/cgv/2024-01.yaml", PROJECT / "tests/data/cgv-2027-01.yaml"]
    for path in files:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        assert sorted(k for k in data if k not in {"version", "title", "effective_from"}) == (
            TERMS
        ), path.name
        CgvPolicy.model_validate(data)


def test_the_scan_sees_a_read_and_misses_a_mere_mention(tmp_path: Path) -> None:
    (tmp_path / "rule.py").write_text(
        "def f(ctx):\n"
        "    # backup_site is only mentioned here\n"
        "    return ctx.policy.backup_retention_days.value\n",
        encoding="utf-8",
    )
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "policy.py").write_text("x = p.mail_cc_limit.value\n")
    reads = _value_reads(tmp_path)
    assert reads == {"backup_retention_days": {"rule.py"}}
