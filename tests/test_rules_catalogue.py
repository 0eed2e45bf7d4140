"""The catalogue itself: every rule documented, tested, traced to its article, listed once."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

import dagsync.rules
from dagsync.commands.rules import rules as rules_command
from dagsync.errors import DagsyncError
from dagsync.findings import Result, Severity
from dagsync.model import CgvPolicy
from dagsync.report import render_sarif
from dagsync.rules import docs
from dagsync.rules.base import Rule
from dagsync.rules.registry import BY_ID, RULES
from dagsync.rules.structural import STRUCTURAL

PROJECT = Path(__file__).resolve().parents[1]
CASES = YAML(typ="safe").load((PROJECT / "tests/data/rules/cases.yaml").read_text())["cases"]
AREAS = {
    "contract": "CTR",
    "supply": "SUP",
    "access": "ACC",
    "security": "SEC",
    "supervision": "MON",
    "backup": "BKP",
    "mail": "MAIL",
    "advice": "ADV",
    "repository": "REQ",
    "edge": "EDG",
}
POLICY = docs.latest_policy(PROJECT)


def _defined_rules() -> set[Rule]:
    found: set[Rule] = set()
    for info in pkgutil.iter_modules(dagsync.rules.__path__):
        module = importlib.import_module(f"dagsync.rules.{info.name}")
        found.update(v for v in vars(module).values() if isinstance(v, Rule))
    return found


def test_registry_lists_every_defined_rule_once() -> None:
    assert len(RULES) == len(set(RULES))
    assert set(RULES) == _defined_rules()


def test_rule_ids_are_unique_area_coded_and_not_structural() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {s.id for s in STRUCTURAL}
    for rule in RULES:
        module = rule.check.__module__.rsplit(".", 1)[-1]
        assert re.fullmatch(rf"{AREAS[module]}[0-9]{{3}}", rule.id), rule.id


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_is_documented_in_every_fixed_section(rule: Rule) -> None:
    doc = docs.parse(rule.doc)
    assert doc.missing == (), f"{rule.id} lacks {doc.missing}"
    assert doc.failing is not None and doc.passing is not None, f"{rule.id}: examples need a file"
    assert doc.failing.yaml != doc.passing.yaml


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_an_article_and_a_french_clause(rule: Rule) -> None:
    assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", rule.article)
    assert rule.terms or rule.clause, f"{rule.id} names no policy term and no clause"
    for term in rule.terms:
        assert term in CgvPolicy.model_fields, f"{rule.id}: unknown policy term {term}"
        assert getattr(POLICY, term).article == rule.article, f"{rule.id} vs {term}"
    french = docs.clause(rule, POLICY)
    assert french and len(french) >= 10


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_a_breaking_case(rule: Rule) -> None:
    assert rule.id in {c["rule"] for c in CASES}, f"add a case for {rule.id} to cases.yaml"


def test_cases_name_only_known_rules() -> None:
    assert {c["rule"] for c in CASES} <= set(BY_ID)


def test_advice_of_article_6_1_is_a_warning_and_obligations_are_errors() -> None:
    warnings = {r.id for r in RULES if r.severity is Severity.WARNING}
    assert {r.id for r in RULES if r.area == "ADV"} <= warnings
    assert warnings == {"ADV001", "ADV002", "ADV003", "ADV004", "MAIL002", "MAIL007", "REQ003"}


def test_rules_doc_is_up_to_date() -> None:
    expected = docs.markdown(RULES, POLICY)
    assert (PROJECT / "docs" / "rules.md").read_text() == expected, (
        "docs/rules.md is stale: run `dagsync rules --format markdown > docs/rules.md`"
    )


def test_rules_command_lists_every_rule_with_its_article() -> None:
    result = CliRunner().invoke(rules_command, ["--repo", str(PROJECT)])
    assert result.exit_code == 0
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()}
    for rule in RULES:
        assert lines[rule.id][1:3] == [str(rule.severity), rule.article]
    assert {s.id for s in STRUCTURAL} <= set(lines)


def test_rules_command_explains_a_rule_with_the_quote_of_the_latest_cgv() -> None:
    result = CliRunner().invoke(rules_command, ["bkp003", "--repo", str(PROJECT)])
    assert result.exit_code == 0
    policy = YAML(typ="safe").load((PROJECT / "policies/cgv/2024-01.yaml").read_text())
    assert policy["backup_retention_days"]["quote"] in result.output
    for heading in ("What it checks:", "Why:", "Failing example (", "Passing example (", "Fix:"):
        assert heading in result.output
    assert "retention_days: 3" in result.output


def test_rules_command_refuses_an_unknown_id_with_a_dagsync_error() -> None:
    with pytest.raises(DagsyncError, match="no rule `XYZ999`"):
        rules_command.main(["XYZ999", "--repo", str(PROJECT)], standalone_mode=False)


def test_rules_command_explains_structural_checks_too() -> None:
    result = CliRunner().invoke(rules_command, ["YAML002"])
    assert result.exit_code == 0 and "Duplicate key" in result.output


def test_sarif_describes_every_rule_with_its_full_documentation() -> None:
    sarif = json.loads(render_sarif(Result((), 0, 0)))
    described = {d["id"]: d for d in sarif["runs"][0]["tool"]["driver"]["rules"]}
    for rule in RULES:
        assert described[rule.id]["fullDescription"]["text"] == rule.doc
        assert described[rule.id]["properties"]["article"] == rule.article
    assert {s.id for s in STRUCTURAL} <= set(described)
