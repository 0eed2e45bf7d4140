"""Secrets in the repository (CGV Art. 6: passwords are confidential): find them, never echo.

`scan_text` looks at raw text, comments included, for private keys, password-like keys with a
value, high-entropy values of key-like fields and URLs with credentials. Messages name what
was found and where, never the value. Outside `clients/`, a line carrying the marker
`dagsync: allow-secret` is skipped (documentation and test data that show a fake secret on
purpose); in client files nothing is skipped.
"""

from __future__ import annotations

import bisect
import fnmatch
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from dagsync.findings import Finding, Severity
from dagsync.rules.secrets_patterns import hits, unquote

RULE_ID = "ACC004"
ARTICLE = "6"
PRAGMA = "dagsync: allow-secret"
MAX_BYTES = 1024 * 1024
MASK = "****"


def scan_text(rel: str, text: str) -> Iterator[tuple[int, int, str]]:
    """(line, column, message) of every secret in `text`, in order; `rel` is the file's path
    (it decides whether the allow marker is honoured and how strict values must be)."""
    found: dict[tuple[int, int], str] = {}
    lines = text.splitlines() if _honours_pragma(rel) and PRAGMA in text else []
    starts: list[int] | None = None
    for hit in hits(rel, text):
        if starts is None:
            starts = _line_starts(text)
        line, column = _position(starts, hit.start)
        if PRAGMA in _line(lines, line):
            continue
        found.setdefault((line, column), hit.message)
    for (line, column), message in sorted(found.items()):
        yield line, column, message


def secret_values(rel: str, text: str) -> set[str]:
    """The secret values `scan_text` flags in `text` (unquoted), for reporters to mask them
    wherever another finding's message would quote them."""
    values: set[str] = set()
    for hit in hits(rel, text):
        value = unquote(text[hit.value_start : hit.value_end]).strip()
        if value:
            values.add(value)
    return values


def redact_line(line: str, rel: str = "") -> str:
    """`line` with every secret value replaced by `****`: for reporters that echo source."""
    spans: list[list[int]] = []
    for hit in sorted(hits(rel, line), key=lambda h: h.value_start):
        if hit.value_end <= hit.value_start:
            continue
        if spans and hit.value_start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hit.value_end)  # overlapping secrets: one mask
        else:
            spans.append([hit.value_start, hit.value_end])
    for start, end in reversed(spans):
        line = line[:start] + MASK + line[end:]
    return line


def _line_starts(text: str) -> list[int]:
    """The offset of each line's first character (one pass; positions are then a bisect, so
    that thousands of hits in a large file stay linear)."""
    starts = [0]
    found = text.find("\n")
    while found >= 0:
        starts.append(found + 1)
        found = text.find("\n", found + 1)
    return starts


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


def _line(lines: list[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _honours_pragma(rel: str) -> bool:
    return not rel.startswith("clients/")


_SKIP_DIRS = (".git", "/clients", "__pycache__", ".venv", "venv", "node_modules")


def scan_repository(root: Path, rels: Iterable[str] | None = None) -> list[Finding]:
    """Secrets in the given repository-relative files (pass the tracked files, e.g. of
    `git ls-files`), or by default in every file outside clients/ (which the rules scan),
    .git/ and the folders the root .gitignore lists. Binary, non-UTF-8 and over-1-MiB files
    are skipped."""
    findings: list[Finding] = []
    for rel in sorted(rels) if rels is not None else _files(root):
        text = _read(root / rel)
        if text is None:
            continue
        findings.extend(
            Finding(rel, line, column, RULE_ID, Severity.ERROR, message, article=ARTICLE)
            for line, column, message in scan_text(rel, text)
        )
    return findings


def _files(root: Path) -> list[str]:
    skip = (*_SKIP_DIRS, *_ignored_folders(root))
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        rel = base.relative_to(root).as_posix()
        dirs[:] = sorted(d for d in dirs if not _skipped(f"{rel}/{d}".lstrip("./"), d, skip))
        out.extend((base / name).relative_to(root).as_posix() for name in sorted(files))
    return out


def _ignored_folders(root: Path) -> list[str]:
    """The folder patterns (`name/`, `path/to/`, `*.egg-info/`) of the root .gitignore."""
    try:
        lines = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip().rstrip("/") for line in lines if line.strip().endswith("/")]


def _skipped(rel: str, name: str, patterns: Iterable[str]) -> bool:
    """gitignore-style: `/x` is anchored at the root, `a/b` matches the path, `x` any name."""
    for pattern in patterns:
        if pattern.startswith("/"):
            hit = fnmatch.fnmatchcase(rel, pattern[1:])
        else:
            hit = fnmatch.fnmatchcase(rel if "/" in pattern else name, pattern)
        if hit:
            return True
    return False


def _read(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        raw = path.read_bytes()
    except OSError:
        return None
    if b"\0" in raw[:8192]:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
