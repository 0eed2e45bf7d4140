"""Findings: what validation reports, each at file:line:col with its rule and CGV article."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


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

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
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
            )
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(**{**data, "severity": Severity(data["severity"])})


@dataclass(frozen=True)
class Summary:
    files: int
    clients: int
    errors: int
    warnings: int


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
        return Summary(self.files, self.clients, errors, len(self.findings) - errors)

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
