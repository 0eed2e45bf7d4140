"""Reporters: render a validation `Result` as text, JSON, SARIF 2.1.0 or GitHub annotations."""

from __future__ import annotations

import functools
import json
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from dagsync import __version__
from dagsync.findings import Finding, Result, Severity, pointer_parts

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
    # lazy: importing it here keeps dagsync.rules out of this module's load
    from dagsync.rules.secrets import MASK, redact_line

    colour = {Severity.ERROR: _RED, Severity.WARNING: _YELLOW}.get(f.severity, _CYAN)
    article = f" {paint(_DIM, f'[CGV Art. {f.article}]')}" if f.article else ""
    out = [
        f"  {f.line}:{f.column}: {paint(colour, str(f.severity))} {paint(_CYAN, f.rule)} "
        f"{f.message}{article}"
    ]
    if 0 < f.line <= len(lines) and f.severity is not Severity.NOTE:  # a note is about a file
        original, shift = _window(lines[f.line - 1].rstrip("\n"), f.column)
        f = replace(f, column=f.column - shift)
        if _credential(f):  # the value is not shown in the message: nor in the source
            original = original[: max(f.column - 1, 0)] + MASK
        source = redact_line(original, f.file)
        prefix = original[: max(f.column - 1, 0)]
        if source != original:  # a mask before the column moves the caret
            prefix = redact_line(prefix, f.file)
        gutter = f"{f.line:>6} | "
        out.append(paint(_DIM, gutter) + source)
        out.append(" " * len(gutter) + _blank(prefix) + paint(colour, "^"))
    for file, line, column in f.related:
        out.append(paint(_DIM, f"      also at {file}:{line}:{column}"))
    return out


def _credential(f: Finding) -> bool:
    """Whether the value at the finding may be a credential (its source is masked)."""
    # lazy: importing it here keeps dagsync.config, pydantic, pydantic_core (+2) out of this module's load
    from dagsync.config.schema_errors import HIDDEN, may_hold_credential

    return HIDDEN in f.message or may_hold_credential(tuple(pointer_parts(f.pointer)), None)


SOURCE_WIDTH = 120  # characters of a source line shown around a finding's column


def _window(line: str, column: int) -> tuple[str, int]:
    """At most about `SOURCE_WIDTH` characters of `line` around `column` (a 1 MiB line must
    not be printed whole), and how many characters were cut before it."""
    if len(line) <= SOURCE_WIDTH:
        return line, 0
    start = max(0, min(column - 1 - SOURCE_WIDTH // 2, len(line) - SOURCE_WIDTH))
    end = start + SOURCE_WIDTH
    head = "…" if start else ""
    tail = "…" if end < len(line) else ""
    return head + line[start:end] + tail, start - len(head)


def _text_summary(result: Result, paint: Paint) -> str:
    s = result.summary
    verdict = paint(_RED, "failed") if s.errors else paint(_GREEN, "clean")
    covered = ""
    if result.covered_clients and len(result.covered_clients) <= 10:
        covered = f" ({', '.join(result.covered_clients)})"
    notes = f", {s.notes} note(s)" if s.notes else ""
    return (
        f"{verdict}: {s.clients} client(s){covered}, {s.files} file(s): "
        f"{s.errors} error(s), {s.warnings} warning(s){notes}; "
        f"{s.failed_clients} client(s) with errors"
    )


def _blank(prefix: str) -> str:
    """Spaces as wide as `prefix`, keeping its tabs so that the caret lines up."""
    return "".join("\t" if c == "\t" else " " for c in prefix)


def _read_lines(path: Path) -> list[str]:
    """The file's lines for excerpts; none for a link or a special file (never followed)."""
    # lazy: importing it here keeps dagsync.config out of this module's load
    from dagsync.config.document import read_regular

    try:
        return read_regular(path, 4 * 1024 * 1024).decode("utf-8", errors="replace").splitlines()
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
            "notes": s.notes,
            "failed_clients": s.failed_clients,
        },
        "covered_clients": list(result.covered_clients),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


DOCS_URI = "https://github.com/dag-technologies/dagsync/blob/main/docs/rules.md"


def rule_descriptors(extra: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One SARIF reportingDescriptor per rule ID a finding can carry (plus any `extra` IDs),
    each with its help (the French clause of the CGV and the fix) and a link to its entry in
    docs/rules.md."""
    # lazy: importing it here keeps annotated_types, dagsync.config, dagsync.contract (+8) out of this module's load
    from dagsync.rules.registry import RULES

    # lazy: importing it here keeps dagsync.rules out of this module's load
    from dagsync.rules.structural import STRUCTURAL

    # lazy: importing it here keeps annotated_types, dagsync.config, dagsync.model (+6) out of this module's load
    from dagsync.validate.ruledocs import clause, parse

    out: list[dict[str, Any]] = []
    for s in STRUCTURAL:
        out.append(
            {
                "id": s.id,
                "name": _camel(s.title),
                "shortDescription": {"text": s.title},
                "fullDescription": {"text": s.explanation},
                "help": {"text": s.explanation, "markdown": f"**{s.title}**: {s.explanation}"},
                "helpUri": f"{DOCS_URI}#rule-catalogue",
                "defaultConfiguration": {"level": _level(s.severity)},
                "properties": {"tags": ["structure"]},
            }
        )
    for r in RULES:
        doc = parse(r.doc)
        french = clause(r, _latest_policy())
        fix = " ".join(doc.sections.get("Fix", "").split())
        quote = f"« {french} » (CGV Art. {r.article})" if french else f"CGV Art. {r.article}"
        out.append(
            {
                "id": r.id,
                "name": _camel(r.title),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.doc or r.title},
                "help": {
                    "text": f"{quote}\nFix: {fix}" if fix else quote,
                    "markdown": f"> {quote}\n\n**Fix**: {fix}" if fix else f"> {quote}",
                },
                "helpUri": f"{DOCS_URI}#{r.id.lower()}",
                "defaultConfiguration": {"level": _level(r.severity)},
                "properties": {"tags": ["cgv", f"article-{r.article}"], "article": r.article},
            }
        )
    known = {d["id"] for d in out}
    for rule in sorted(set(extra) - known):
        out.append({"id": rule, "shortDescription": {"text": rule}})
    return out


def _latest_policy(root: Path | None = None) -> Any:
    """The latest CGV policy of the repository (the current folder by default), for the
    rules' French clauses; None outside a repository (the rules' own `clause` is used)."""
    return _policy_of(str((root or Path.cwd()).resolve()))


@functools.cache
def _policy_of(root: str) -> Any:
    # lazy: importing it here keeps annotated_types, dagsync.config, dagsync.model (+6) out of this module's load
    from dagsync.validate.ruledocs import latest_policy

    return latest_policy(Path(root))


def _camel(title: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in title).split()
    return "".join(w[:1].upper() + w[1:] for w in words) or "Rule"


def _level(severity: Severity) -> str:
    return {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(severity, "note")


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
    result: dict[str, Any] = {
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
        "partialFingerprints": {"dagsyncFinding/v1": f.fingerprint},
        "properties": {"pointer": f.pointer, "client": f.client, "server": f.server},
    }
    if f.related:
        result["relatedLocations"] = [
            {
                "id": number,
                "physicalLocation": {
                    "artifactLocation": {"uri": file},
                    "region": {"startLine": line, "startColumn": column},
                },
            }
            for number, (file, line, column) in enumerate(f.related, 1)
        ]
    return result


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def render_github(result: Result) -> str:
    lines = []
    for f in result.findings:
        kind = {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(f.severity, "notice")
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
        also = "".join(f" (also at {file}:{ln}:{col})" for file, ln, col in f.related)
        lines.append(f"::{kind} {props}::{_gh_escape(f.message + also)}")
    s = result.summary
    lines.append(
        f"dagsync: {s.clients} client(s), {s.files} file(s): {s.errors} error(s), "
        f"{s.warnings} warning(s), {s.notes} note(s); {s.failed_clients} client(s) with errors"
    )
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[..., str]] = {
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}


def internal_error(exc: BaseException) -> str:
    """The one line saying validation failed inside dagsync: the exception's type and the
    place in dagsync's code, never its message (it could quote a value of the files)."""

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "dagsync" in f.filename]
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return (
        f"internal error while validating ({type(exc).__name__}{where}): no report was written; "
        "this is a bug in dagsync, please report it with the files being validated"
    )


def all_findings(results: Iterable[Result]) -> list[Finding]:
    return [f for r in results for f in r.findings]
