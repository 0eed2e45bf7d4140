"""Findings: what validation reports, each at file:line:col with its rule and CGV article."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"  # information that is no problem in itself (e.g. rules that did not run)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem, located in a file (1-based line and column)."""

    file: str
    line: int
    column: int
    rule: str
    severity: Severity
    message: str
    article: str | None = None
    pointer: str = ""
    client: str | None = None
    server: str | None = None
    related: tuple[tuple[str, int, int], ...] = ()
    """Other places of the same problem (file, line, column), e.g. the other declarations of
    a duplicated IP."""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        data["related"] = [{"file": f, "line": ln, "column": c} for f, ln, c in self.related]
        return {
            key: data[key]
            for key in (
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
            )
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        related = tuple((r["file"], r["line"], r["column"]) for r in data.get("related", ()))
        return cls(**{**data, "severity": Severity(data["severity"]), "related": related})

    @property
    def fingerprint(self) -> str:
        """A stable identity of the problem across runs: rule, file, key path, client and
        server, not the line (an edit above it must not make it a new alert)."""

        key = "\0".join((self.rule, self.file, self.pointer, self.client or "", self.server or ""))
        if not self.pointer:
            key += f"\0{self.line}:{self.column}"  # raw-text findings: the place is the identity
        return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Summary:
    files: int
    clients: int
    errors: int
    warnings: int
    notes: int = 0
    failed_clients: int = 0


@dataclass(frozen=True)
class Result:
    """Everything one validation run found, sorted by file and position."""

    findings: tuple[Finding, ...]
    files: int
    clients: int
    covered_clients: tuple[str, ...] = ()

    @property
    def summary(self) -> Summary:
        errors = sum(1 for f in self.findings if f.severity is Severity.ERROR)
        warnings = sum(1 for f in self.findings if f.severity is Severity.WARNING)
        failed = {f.client for f in self.findings if f.severity is Severity.ERROR and f.client}
        return Summary(
            self.files,
            self.clients,
            errors,
            warnings,
            len(self.findings) - errors - warnings,
            len(failed & set(self.covered_clients)) if self.covered_clients else len(failed),
        )

    @property
    def exit_code(self) -> int:
        return 1 if self.summary.errors else 0


def pointer_from(parts: Sequence[str | int]) -> str:
    """A JSON pointer (RFC 6901) from a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def pointer_parts(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
