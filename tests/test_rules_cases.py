"""Every CGV rule, failing and passing, on temporary copies of the example repository.

Two data sources: tests/data/rules/cases*.yaml (break one value of an example client: exactly
that rule's finding, with the severity, article, line, column, server and message the case
states as literals; restore: clean) and the failing and passing examples of each rule's
documentation (merged into the example file they name).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dagsync.findings import Finding, Severity
from dagsync.rules.registry import BY_ID, RULES
from dagsync.validate.ruledocs import Example, parse
from dagsync.validate.run import validate_repository
from rule_findings import context

PROJECT = Path(__file__).resolve().parents[1]
CASES_FILES = sorted((PROJECT / "tests" / "data" / "rules").glob("cases*.yaml"))
CASES: list[dict[str, Any]] = [
    case for path in CASES_FILES for case in YAML(typ="safe").load(path.read_text())["cases"]
]
EXPECTED = ("rule", "severity", "article", "line", "column", "server", "message")
TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, root / folder)
    return root


def _client_of(rel: str) -> list[str] | None:
    parts = rel.split("/")
    return [parts[1]] if parts[0] == "clients" else None


def _findings(root: Path, only: list[str] | None) -> list[Finding]:
    return list(validate_repository(root, only=only, use_cache=False, today=TODAY).findings)


@contextmanager
def _restoring(root: Path, rels: list[str]) -> Iterator[None]:
    originals = {rel: (root / rel).read_text() for rel in dict.fromkeys(rels)}
    try:
        yield
    finally:
        for rel, text in originals.items():
            (root / rel).write_text(text)


def _edit(root: Path, edit: dict[str, str]) -> None:
    path = root / edit["file"]
    text = path.read_text()
    assert text.count(edit["find"]) == 1, f"{edit['find']!r} must occur once in {edit['file']}"
    path.write_text(text.replace(edit["find"], edit["replace"]))


def _expected_line(before: str, case: dict[str, str]) -> int:
    offset = before.index(case["find"])
    inner = case["replace"].index(case["at"]) if "at" in case else 0
    return before.count("\n", 0, offset) + case["replace"].count("\n", 0, inner) + 1


def test_every_case_states_its_whole_finding_as_literals() -> None:
    incomplete = [(c["rule"], c["find"]) for c in CASES if any(key not in c for key in EXPECTED)]
    assert incomplete == []
    assert len(CASES_FILES) >= 1


@pytest.mark.parametrize("case", CASES, ids=[f"{c['rule']}-{i}" for i, c in enumerate(CASES)])
def test_breaking_one_value_yields_exactly_its_rule_at_its_line(
    repo: Path, case: dict[str, Any]
) -> None:
    only = _client_of(case["file"])
    setup = case.get("setup", [])
    with _restoring(repo, [e["file"] for e in setup] + [case["file"]]):
        for edit in setup:
            _edit(repo, edit)
        assert _findings(repo, only) == [], "the set-up of the case must be clean"
        before = (repo / case["file"]).read_text()
        _edit(repo, case)
        found = _findings(repo, only)
        assert case["line"] == _expected_line(before, case), "the case's line is where it edits"
        seen = [
            (f.rule, f.severity.value, f.article, f.file, f.line, f.column, f.server) for f in found
        ]
        assert seen == [
            (
                case["rule"],
                case["severity"],
                case["article"],
                case["file"],
                case["line"],
                case["column"],
                case["server"],
            )
        ], [f.message for f in found]
        assert case["message"] in found[0].message
        (repo / case["file"]).write_text(before)
        assert _findings(repo, only) == [], "restoring the value clears the finding"


def _merge(base: Any, fragment: Any) -> None:
    """Deep-merge mappings; any other value (lists included) replaces the base's."""
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _apply(root: Path, example: Example) -> None:
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


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_documented_failing_example_fails_that_rule_only(repo: Path, rule: Any) -> None:
    example = parse(rule.doc).failing
    assert example is not None, f"{rule.id} documents no failing example"
    with _restoring(repo, [example.file]):
        _apply(repo, example)
        found = _findings(repo, _client_of(example.file))
    assert found, f"the failing example of {rule.id} passes"
    assert {f.rule for f in found} == {rule.id}, [(f.rule, f.message) for f in found]


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_documented_passing_example_is_clean(repo: Path, rule: Any) -> None:
    example = parse(rule.doc).passing
    assert example is not None, f"{rule.id} documents no passing example"
    with _restoring(repo, [example.file]):
        _apply(repo, example)
        found = _findings(repo, _client_of(example.file))
    assert found == [], [(f.rule, f.message) for f in found]


def test_example_clients_are_clean_with_every_rule_on(repo: Path) -> None:
    result = validate_repository(repo, use_cache=False, today=TODAY)
    assert result.findings == ()
    assert result.clients == 3


def test_a_derogation_without_request_says_which_field_to_add(repo: Path) -> None:
    edit = {
        "file": "clients/cime-conseil/servers/prod1.yaml",
        "find": "  request: REQ-2025-014\n",
        "replace": "",
    }
    with _restoring(repo, [edit["file"]]):
        _edit(repo, edit)
        found = _findings(repo, ["cime-conseil"])
    assert [(f.rule, f.severity) for f in found] == [("BKP003", Severity.ERROR)]
    assert "add `request: REQ-...` to `backup`" in found[0].message
    assert "clients/cime-conseil/requests.yaml" in found[0].message


def test_an_expired_request_fails_the_derogation_it_backs(repo: Path) -> None:
    found = list(
        validate_repository(
            repo, only=["cime-conseil"], use_cache=False, today=dt.date(2027, 7, 1)
        ).findings
    )
    assert [(f.rule, f.file, f.line) for f in found] == [
        ("REQ002", "clients/cime-conseil/requests.yaml", 13)
    ]
    assert "clients/cime-conseil/client.yaml (mail.external_forwards.0.request)" in found[0].message


@pytest.mark.parametrize(
    ("skip", "rule_id"), [("dev1", "ACC002"), ("dev1", "ADV003"), ("prod1", "REQ003")]
)
def test_rules_do_not_blame_a_server_that_failed_to_load(
    repo: Path, skip: str, rule_id: str
) -> None:
    ctx = context(repo, "cime-conseil", skip=skip)
    assert list(BY_ID[rule_id].check(ctx)), "without the server, the rule fires"
    quiet = dataclasses.replace(ctx, unreadable_servers=frozenset({skip}))
    assert list(BY_ID[rule_id].check(quiet)) == []
