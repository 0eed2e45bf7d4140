"""Output formats (issue 2, point 7): the JSON contract of DESIGN §4, SARIF 2.1.0 against the
official schema, GitHub workflow commands, and text for humans (colour only on a terminal)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from conftest import Run, gh_unescape, parse_github
from dagsync.findings import Finding, Result, Severity
from dagsync.rules.registry import RULES
from dagsync.rules.structural import STRUCTURAL
from dagsync.validate.report import render_github, render_sarif, render_text, rule_descriptors

# A copy of the official schema (from shared/reference beside the checkout), so that these tests never skip.
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SHOP1 = "clients/alpine-books/servers/shop1.yaml"
ANSI = "\033["

# DESIGN §4: `{"version": 1, "findings": [{"rule", "severity", "article", "file", "line",
# "column", "pointer", "message", "client", "server"}], "summary": {"files", "clients",
# "errors", "warnings"}}` with 1-based line and column. `covered_clients` is the one addition:
# the clients a `--changed-since` run validated (the gitops pipeline reads it); issue 14 adds
# `related` (the other places of a repository-wide finding), the `note` severity (RUN001: rules
# that could not run) and the summary's `notes` and `failed_clients`.
FINDING_KEYS = [
    "rule",
    "severity",
    "article",
    "file",
    "line",
    "column",
    "pointer",
    "message",
    "client",
    "server",
    "related",
]
SUMMARY_KEYS = ("files", "clients", "errors", "warnings", "notes", "failed_clients")
_NULLABLE_TEXT = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}
JSON_CONTRACT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "findings", "summary"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": FINDING_KEYS,
                "properties": {
                    "rule": {"type": "string", "pattern": "^[A-Z]+[0-9]{3}$"},
                    "severity": {"enum": ["error", "warning", "note"]},
                    "article": _NULLABLE_TEXT,
                    "file": {"type": "string", "pattern": "^[^/].*[^/]$"},
                    "line": {"type": "integer", "minimum": 1},
                    "column": {"type": "integer", "minimum": 1},
                    "pointer": {"type": "string", "pattern": "^(/.*)?$"},
                    "message": {"type": "string", "minLength": 1},
                    "client": _NULLABLE_TEXT,
                    "server": _NULLABLE_TEXT,
                    "related": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["file", "line", "column"],
                            "properties": {
                                "file": {"type": "string"},
                                "line": {"type": "integer", "minimum": 1},
                                "column": {"type": "integer", "minimum": 1},
                            },
                        },
                    },
                },
            },
        },
        "summary": {
            "type": "object",
            "additionalProperties": False,
            "required": list(SUMMARY_KEYS),
            "properties": dict.fromkeys(SUMMARY_KEYS, _COUNT),
        },
        "covered_clients": {"type": "array", "items": {"type": "string"}},
    },
}


@pytest.fixture
def broken_repo(repo_copy: Path) -> Path:
    """Findings of several kinds in several files (YAML, schema, repository)."""
    shop1 = repo_copy / SHOP1
    shop1.write_text(
        shop1.read_text()
        .replace("role: production", "role: prod")
        .replace("  retention_days: 7", "  retention_day: 7")
    )
    (repo_copy / "clients/cime-conseil/requests.yaml").write_text("a: 1\na: 2\n")
    (repo_copy / "clients/velo-savoie/notes.txt").write_text("stray\n")
    return repo_copy


def test_json_output_matches_the_contract(broken_repo: Path, validate: Callable[..., Run]) -> None:
    run = validate(broken_repo, "json")
    doc = json.loads(run.out)
    jsonschema.Draft202012Validator(JSON_CONTRACT).validate(doc)
    assert list(doc) == ["version", "findings", "summary", "covered_clients"]
    findings = doc["findings"]
    assert len(findings) >= 4
    assert doc["summary"] == {
        "files": 13,
        "clients": 3,
        "errors": sum(f["severity"] == "error" for f in findings),
        "warnings": sum(f["severity"] == "warning" for f in findings),
        "notes": sum(f["severity"] == "note" for f in findings),
        "failed_clients": 3,
    }
    role = next(f for f in findings if f["pointer"] == "/role")
    assert (role["file"], role["line"], role["column"]) == (SHOP1, 3, 7)  # 1-based
    assert (role["client"], role["server"], role["rule"]) == ("alpine-books", "shop1", "SCH002")


def test_clean_json_output_matches_the_contract(validate: Callable[..., Run]) -> None:
    doc = json.loads(validate(Path(__file__).parents[1], "json").out)
    jsonschema.Draft202012Validator(JSON_CONTRACT).validate(doc)
    assert doc["findings"] == [] and doc["summary"]["errors"] == 0


def test_findings_of_cgv_rules_carry_their_article(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    shop1 = repo_copy / SHOP1
    shop1.write_text(shop1.read_text().replace("  retention_days: 7", "  retention_days: 30"))
    doc = json.loads(validate(repo_copy, "json").out)
    jsonschema.Draft202012Validator(JSON_CONTRACT).validate(doc)
    cgv = [f for f in doc["findings"] if f["rule"] in {r.id for r in RULES}]
    assert cgv, "raising the retention above the CGV's should break a CGV rule"
    assert all(f["article"] for f in cgv)


# --- SARIF --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the official SARIF schema is not at {SARIF_SCHEMA}")
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_sarif_validates_against_the_official_schema(
    broken_repo: Path,
    validate: Callable[..., Run],
    sarif_validator: jsonschema.protocols.Validator,
) -> None:
    doc = json.loads(validate(broken_repo, "sarif").out)
    sarif_validator.validate(doc)
    run = doc["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) >= 4
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_clean_sarif_validates(
    validate: Callable[..., Run], sarif_validator: jsonschema.protocols.Validator
) -> None:
    doc = json.loads(validate(Path(__file__).parents[1], "sarif").out)
    sarif_validator.validate(doc)
    assert doc["runs"][0]["results"] == []


def test_every_rule_is_one_reporting_descriptor() -> None:
    ids = [d["id"] for d in rule_descriptors()]
    assert len(ids) == len(set(ids))
    assert set(ids) == {s.id for s in STRUCTURAL} | {r.id for r in RULES}
    cgv = {d["id"]: d for d in rule_descriptors() if d["id"] in {r.id for r in RULES}}
    assert all(d["fullDescription"]["text"] and d["properties"]["article"] for d in cgv.values())


def test_unknown_rule_id_still_gets_a_descriptor(
    sarif_validator: jsonschema.protocols.Validator,
) -> None:
    finding = Finding("clients/a/client.yaml", 2, 3, "ZZZ999", Severity.ERROR, "odd")
    doc = json.loads(render_sarif(Result((finding,), 1, 1)))
    sarif_validator.validate(doc)
    result = doc["runs"][0]["results"][0]
    assert doc["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "ZZZ999"


# --- GitHub annotations -------------------------------------------------------------------------


def test_github_annotations_escape_data_and_properties() -> None:
    finding = Finding(
        "clients/a,b:c/x.yaml",
        3,
        5,
        "SCH002",
        Severity.ERROR,
        "50% off\nsecond line, with: colon\r",
        article="6.1",
    )
    out = render_github(Result((finding,), 1, 1))
    first = out.splitlines()[0]
    assert first == (
        "::error file=clients/a%2Cb%3Ac/x.yaml,line=3,col=5,title=SCH002 (CGV Art. 6.1)"
        "::50%25 off%0Asecond line, with: colon%0D"
    )
    [seen] = parse_github(out)
    assert (seen.file, seen.line, seen.column, seen.rule) == (
        "clients/a,b:c/x.yaml",
        3,
        5,
        "SCH002",
    )
    assert seen.message == finding.message
    assert gh_unescape("%25%0A") == "%\n"


def test_github_warning_is_a_warning_command() -> None:
    finding = Finding("clients/a/client.yaml", 1, 1, "REQ003", Severity.WARNING, "advice")
    assert render_github(Result((finding,), 1, 1)).startswith("::warning file=")


# --- text ---------------------------------------------------------------------------------------


def test_text_groups_findings_by_file_with_excerpt_and_caret(
    broken_repo: Path, validate: Callable[..., Run]
) -> None:
    run = validate(broken_repo, "text")
    lines = run.out.splitlines()
    headings = [line for line in lines if line.startswith("clients/")]
    assert headings == sorted(set(headings))  # each file once, in order
    assert SHOP1 in headings
    start = lines.index(SHOP1)
    assert (
        lines[start + 1] == "  3:7: error SCH002 `role`: input should be 'production' or "
        "'development' (got 'prod')"
    )
    excerpt, caret = lines[start + 2], lines[start + 3]
    assert excerpt == "     3 | role: prod"
    assert caret.index("^") == excerpt.index("prod")
    assert lines[-1].startswith("failed: 3 client(s)")
    assert f"{run.out.count('error ')} error(s)" in lines[-1]


def test_caret_lines_up_under_tabs(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text("a:\n\t\tbad: x\n")
    finding = Finding("f.yaml", 2, 5, "YAML001", Severity.ERROR, "tab")
    out = render_text(Result((finding,), 1, 1), tmp_path).splitlines()
    excerpt, caret = out[2], out[3]
    assert excerpt.endswith("\t\tbad: x")
    assert caret.endswith("\t\t  ^")
    assert len(caret) == excerpt.index("d:") + 1


def test_text_is_plain_when_not_a_terminal(broken_repo: Path, validate: Callable[..., Run]) -> None:
    assert ANSI not in validate(broken_repo, "text").out


def test_render_text_colours_on_request(broken_repo: Path) -> None:
    finding = Finding(SHOP1, 3, 7, "SCH002", Severity.ERROR, "wrong")
    out = render_text(Result((finding,), 1, 1), broken_repo, colour=True)
    assert f"{ANSI}31merror" in out and f"{ANSI}1m{SHOP1}" in out


def _on_a_terminal(root: Path, env: dict[str, str]) -> str:
    """Run the real console script with its stdout on a pseudo-terminal; return what it wrote."""
    controller, terminal = pty.openpty()
    script = Path(sys.executable).with_name("dagsync")
    proc = subprocess.Popen(
        [str(script), "validate", "--repo", str(root), "--no-cache"],
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(terminal)
    chunks = []
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert proc.wait(timeout=30) == 1
    return b"".join(chunks).decode()


def test_text_is_coloured_on_a_terminal_unless_no_color(broken_repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm"
    coloured = _on_a_terminal(broken_repo, env)
    assert f"{ANSI}31merror" in coloured
    plain = _on_a_terminal(broken_repo, {**env, "NO_COLOR": "1"})
    assert ANSI not in plain
    assert "error SCH002" in plain
