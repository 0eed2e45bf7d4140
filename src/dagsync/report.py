"""Reporters: render a validation `Result` as text, JSON, SARIF 2.1.0 or GitHub annotations."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .findings import Finding, Result, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_RED, _GREEN, _YELLOW, _CYAN, _BOLD, _DIM, _RESET = (
    "\033[31m",
    "\033[32m",
    "\033[33m",
    "\033[36m",
    "\033[1m",
    "\033[2m",
    "\033[0m",
)


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


Paint = Callable[[str, str], str]


def render_text(result: Result, root: Path, colour: bool = False) -> str:
    """Findings grouped by file, each with its source line (secrets masked) and a caret under
    its column, then a summary line."""

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    out: list[str] = []
    for file, group in groupby(result.findings, key=lambda f: f.file):
        out.append(paint(_BOLD, file))
        lines = _read_lines(root / file)
        for f in group:
            out.extend(_text_finding(f, lines, paint))
        out.append("")
    out.append(_text_summary(result, paint))
    return "\n".join(out) + "\n"


def _text_finding(f: Finding, lines: list[str], paint: Paint) -> list[str]:
    from .rules.secrets import redact_line

    colour = _RED if f.severity is Severity.ERROR else _YELLOW
    article = f" {paint(_DIM, f'[CGV Art. {f.article}]')}" if f.article else ""
    out = [
        f"  {f.line}:{f.column}: {paint(colour, str(f.severity))} {paint(_CYAN, f.rule)} "
        f"{f.message}{article}"
    ]
    if 0 < f.line <= len(lines):
        original = lines[f.line - 1].rstrip("\n")
        source = redact_line(original, f.file)
        prefix = original[: max(f.column - 1, 0)]
        if source != original:  # a mask before the column moves the caret
            prefix = redact_line(prefix, f.file)
        gutter = f"{f.line:>6} | "
        out.append(paint(_DIM, gutter) + source)
        out.append(" " * len(gutter) + _blank(prefix) + paint(colour, "^"))
    return out


def _text_summary(result: Result, paint: Paint) -> str:
    s = result.summary
    verdict = paint(_RED, "failed") if s.errors else paint(_GREEN, "clean")
    covered = ""
    if result.covered_clients and len(result.covered_clients) <= 10:
        covered = f" ({', '.join(result.covered_clients)})"
    return (
        f"{verdict}: {s.clients} client(s){covered}, {s.files} file(s): "
        f"{s.errors} error(s), {s.warnings} warning(s)"
    )


def _blank(prefix: str) -> str:
    """Spaces as wide as `prefix`, keeping its tabs so that the caret lines up."""
    return "".join("\t" if c == "\t" else " " for c in prefix)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def render_json(result: Result) -> str:
    s = result.summary
    doc = {
        "version": 1,
        "findings": [f.as_json() for f in result.findings],
        "summary": {
            "files": s.files,
            "clients": s.clients,
            "errors": s.errors,
            "warnings": s.warnings,
        },
        "covered_clients": list(result.covered_clients),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def rule_descriptors(extra: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One SARIF reportingDescriptor per rule ID a finding can carry (plus any `extra` IDs)."""
    from .rules.registry import RULES
    from .rules.structural import STRUCTURAL

    out: list[dict[str, Any]] = []
    for s in STRUCTURAL:
        out.append(
            {
                "id": s.id,
                "name": _camel(s.title),
                "shortDescription": {"text": s.title},
                "fullDescription": {"text": s.explanation},
                "defaultConfiguration": {"level": _level(s.severity)},
                "properties": {"tags": ["structure"]},
            }
        )
    for r in RULES:
        out.append(
            {
                "id": r.id,
                "name": _camel(r.title),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.doc or r.title},
                "help": {"text": r.doc or r.title, "markdown": r.doc or r.title},
                "defaultConfiguration": {"level": _level(r.severity)},
                "properties": {"tags": ["cgv", f"article-{r.article}"], "article": r.article},
            }
        )
    known = {d["id"] for d in out}
    for rule in sorted(set(extra) - known):
        out.append({"id": rule, "shortDescription": {"text": rule}})
    return out


def _camel(title: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in title).split()
    return "".join(w[:1].upper() + w[1:] for w in words) or "Rule"


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def render_sarif(result: Result) -> str:
    descriptors = rule_descriptors(f.rule for f in result.findings)
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dagsync",
                        "version": __version__,
                        "informationUri": "https://github.com/dag-technologies/dagsync",
                        "rules": descriptors,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_sarif_result(f, index[f.rule]) for f in result.findings],
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": _level(f.severity),
        "message": {"text": f.message + (f" (CGV Art. {f.article})" if f.article else "")},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": f.file},
                    "region": {"startLine": f.line, "startColumn": f.column},
                }
            }
        ],
        "properties": {"pointer": f.pointer, "client": f.client, "server": f.server},
    }


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def render_github(result: Result) -> str:
    lines = []
    for f in result.findings:
        kind = "error" if f.severity is Severity.ERROR else "warning"
        title = f.rule + (f" (CGV Art. {f.article})" if f.article else "")
        props = ",".join(
            f"{k}={_gh_escape(v, prop=True)}"
            for k, v in (
                ("file", f.file),
                ("line", str(f.line)),
                ("col", str(f.column)),
                ("title", title),
            )
        )
        lines.append(f"::{kind} {props}::{_gh_escape(f.message)}")
    s = result.summary
    lines.append(
        f"dagsync: {s.clients} client(s), {s.files} file(s): {s.errors} error(s), "
        f"{s.warnings} warning(s)"
    )
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[..., str]] = {
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}


def all_findings(results: Iterable[Result]) -> list[Finding]:
    return [f for r in results for f in r.findings]
