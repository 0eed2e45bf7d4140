"""The catalogue itself: every rule documented, tested, traced to its article, listed once."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import pkgutil
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

import dagsync.rules
from dagsync.commands.rules import rules as rules_command
from dagsync.errors import DagsyncError
from dagsync.findings import Result, Severity
from dagsync.model.policy import CgvPolicy
from dagsync.rules.base import Rule
from dagsync.rules.registry import BY_ID, RULES
from dagsync.rules.structural import STRUCTURAL
from dagsync.rules.uncheckable import NOT_CHECKABLE
from dagsync.validate import ruledocs as docs
from dagsync.validate.report import render_sarif
from dagsync.validate.run import validate_repository

PROJECT = Path(__file__).resolve().parents[1]
CASES = [
    case
    for path in sorted((PROJECT / "tests/data/rules").glob("cases*.yaml"))
    for case in YAML(typ="safe").load(path.read_text())["cases"]
]
AREAS = {
    "contract_term": "CTR",
    "contract_payment": "CTR",
    "contract_termination": "CTR",
    "contract_prices": "CTR",
    "contract_grounds": "CTR",
    "supply": "SUP",
    "appstack": "APP",
    "access_root": "ACC",
    "access_accounts": "ACC",
    "security_firewall": "SEC",
    "security_protections": "SEC",
    "supervision": "MON",
    "backup_schedule": "BKP",
    "backup_storage": "BKP",
    "mail": "MAIL",
    "advice": "ADV",
    "repository": "REQ",
    "edge": "EDG",
}
POLICY = docs.latest_policy(PROJECT)
TODAY = dt.date(2026, 12, 1)


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
    assert rule.id in {c["rule"] for c in CASES}, f"add a case for {rule.id} to a cases*.yaml"


def test_cases_name_only_known_rules() -> None:
    assert {c["rule"] for c in CASES} <= set(BY_ID)


def test_advice_of_article_6_1_is_a_warning_and_obligations_are_errors() -> None:
    warnings = {r.id for r in RULES if r.severity is Severity.WARNING}
    assert {r.id for r in RULES if r.area == "ADV"} <= warnings
    assert warnings == {"ADV001", "ADV002", "ADV003", "ADV004", "MAIL002", "MAIL007", "REQ003",
                        "APP005"}  # fmt: skip


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


def _merge(base: Any, fragment: Any) -> None:
    """Deep-merge mappings; any other value (lists included) replaces the base's."""
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _with_example(root: Path, example: docs.Example) -> None:
    yaml = YAML()
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    path = root / example.file
    data = yaml.load(path.read_text())
    _merge(data, yaml.load(example.yaml))
    out = io.StringIO()
    yaml.dump(data, out)
    path.write_text(out.getvalue())


ALSO_PASSING = [(r, e) for r in RULES for e in docs.parse(r.doc).also_passing]


@pytest.fixture(scope="module")
def example_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, root / folder)
    return root


@pytest.mark.parametrize(
    ("rule", "example"), ALSO_PASSING, ids=[f"{r.id}-{i}" for i, (r, _) in enumerate(ALSO_PASSING)]
)
def test_every_also_passing_example_is_clean(
    example_repo: Path, rule: Rule, example: docs.Example
) -> None:
    path = example_repo / example.file
    before = path.read_text()
    try:
        _with_example(example_repo, example)
        client = example.file.split("/")[1] if example.file.startswith("clients/") else None
        found = validate_repository(
            example_repo, only=[client] if client else None, use_cache=False, today=TODAY
        ).findings
    finally:
        path.write_text(before)
    assert [(f.rule, f.message) for f in found] == []


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_says_which_legitimate_configurations_it_accepts(rule: Rule) -> None:
    checks = docs.parse(rule.doc).sections["What it checks"]
    assert "\nAccepted: " in checks, f"{rule.id}: add an `Accepted:` paragraph to What it checks"


def test_rules_that_accept_several_configurations_show_a_passing_example_of_each() -> None:
    with_extra = {r.id for r, _ in ALSO_PASSING}
    derogable = {"SUP001", "SEC002", "SEC006", "MON001", "MON003", "MAIL002"}
    derogable |= {"BKP001", "BKP002", "BKP003", "BKP004", "BKP005", "BKP009"}
    exemptions = {"CTR007", "CTR008", "CTR009", "CTR010", "SUP003"}
    assert derogable | exemptions <= with_extra


def test_the_example_repository_keeps_backups_in_strasbourg_and_prices_until_renewal() -> None:
    policy = YAML(typ="safe").load((PROJECT / "policies/cgv/2024-01.yaml").read_text())
    assert policy["backup_site"]["value"] == "sbg"
    assert "Strabourg" in policy["backup_site"]["quote"]  # sic, as the CGV spells it
    assert policy["price_guaranteed_for_term"]["value"] is True


def test_rules_doc_lists_every_uncheckable_sentence_with_its_reason() -> None:
    text = (PROJECT / "docs" / "rules.md").read_text()
    section = text[text.index("## Not checkable here") :]
    assert len(NOT_CHECKABLE) >= 30
    for item in NOT_CHECKABLE:
        row = f"| {item.article} | « {' '.join(item.sentence.split())} » |"
        assert row in section, item.sentence[:60]
        assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", item.article)
        assert len(item.reason) >= 20
    sentences = [item.sentence for item in NOT_CHECKABLE]
    assert len(sentences) == len(set(sentences))


def test_thin_areas_of_articles_4_6_and_8_have_rules() -> None:
    articles = {rid: BY_ID[rid].article for rid in ("CTR010", "CTR011", "CTR012", "CTR013")}
    assert articles == {"CTR010": "8", "CTR011": "8", "CTR012": "4", "CTR013": "10"}
    assert {BY_ID[rid].article for rid in ("SUP003", "BKP009")} == {"4"}
    assert {BY_ID[rid].article for rid in ("ACC005", "ACC006")} == {"6"}
    grounds = {rid: BY_ID[rid].article for rid in ("CTR014", "CTR015", "CTR016", "CTR017")}
    assert grounds == {"CTR014": "8", "CTR015": "9", "CTR016": "5", "CTR017": "7"}


def test_rules_command_lists_the_new_rules_and_explains_them_with_their_french_clause() -> None:
    listing = CliRunner().invoke(rules_command, ["--repo", str(PROJECT)])
    assert listing.exit_code == 0
    rows = {line.split()[0]: line.split()[2] for line in listing.output.splitlines()}
    assert rows["CTR010"] == "8" and rows["BKP009"] == "4" and rows["ACC005"] == "6"
    explained = CliRunner().invoke(rules_command, ["ctr010", "--repo", str(PROJECT)])
    assert "« Le tarif de l'infogérance est garanti pour toute la durée du contrat." in (
        explained.output
    )
    assert "Also passing example (clients/velo-savoie/client.yaml):" in explained.output
    explained = CliRunner().invoke(rules_command, ["acc005", "--repo", str(PROJECT)])
    assert "l'accès ROOT étant réservé à l'infogérance" in explained.output


def _normal(text: str) -> str:
    """The CGV text as quotes cite it: no Markdown emphasis, `12^{ème}` as `12ème`, one space."""
    text = re.sub(r"\^\{([^}]*)\}", r"\1", text.replace("**", "").replace("*", ""))
    return re.sub(r"\s+", " ", text).strip()


def _sentences(text: str) -> list[str]:
    """Each checkable sentence of the CGV text: list intros and headings (ending with `:`) and
    article titles left out; a sentence cut by a page break is joined again."""
    body = text[text.index("Article 1 ") :]
    bare = [re.sub(r"^[\s\-✓o•]+(?=\S)", "", line) for line in body.splitlines()]
    lines = [_normal(line) for line in bare if not line.startswith("**")]  # bold headings
    joined: list[str] = []
    for line in filter(None, lines):
        if joined and not re.search(r"[.:;!?»)]$", joined[-1]) and line[0].islower():
            joined[-1] += " " + line
        else:
            joined.append(line)
    out = []
    for line in joined:
        if re.match(r"Article [0-9.]+ :", line) or line.endswith(":"):
            continue
        out += re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý])", line)
    return out


def _fragments(policy: CgvPolicy) -> list[str]:
    """Every French text the catalogue cites: term quotes, rule clauses, uncheckable lines."""
    texts = [getattr(policy, name).quote for name in TERM_NAMES]
    texts += [c for c in (docs.clause(r, policy) for r in RULES) if c]
    texts += [item.sentence for item in NOT_CHECKABLE]
    return [
        _normal(part)
        for text in texts
        for part in re.split(r" \[…\] | ; ", text)
        if len(part.strip()) >= 8
    ]


def _uncovered(sentences: list[str], fragments: list[str]) -> list[str]:
    return [s for s in sentences if not any(f in s or s in f for f in fragments)]


TERM_NAMES = [
    n for n, v in CgvPolicy.model_fields.items() if n not in {"version", "title", "effective_from"}
]
CGV_TEXT = (PROJECT / "policies/cgv/2024-01.txt").read_text(encoding="utf-8")


def test_every_french_text_of_the_catalogue_is_verbatim_from_the_cgv() -> None:
    assert POLICY is not None and POLICY.version == "2024-01"
    text = _normal(CGV_TEXT)
    quoted = _fragments(POLICY)
    assert len(quoted) >= 100
    assert [f for f in quoted if f not in text] == []


def test_every_sentence_of_the_cgv_is_a_rule_a_computed_term_or_a_line_saying_why_not() -> None:
    sentences = _sentences(CGV_TEXT)
    assert len(sentences) >= 120
    assert _uncovered(sentences, _fragments(POLICY)) == []  # type: ignore[arg-type]


def test_the_coverage_check_reports_a_sentence_nobody_cites() -> None:
    sentences = _sentences(CGV_TEXT + "\nLe Client arrose les plantes du datacenter le lundi.\n")
    found = _uncovered(sentences, _fragments(POLICY))  # type: ignore[arg-type]
    assert found == ["Le Client arrose les plantes du datacenter le lundi."]
