"""A configuration file as read from disk: its text, its data and (lazily) its positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .yamlio import Positions


@dataclass
class Document:
    """One YAML file of the repository; `rel` is its repository-relative POSIX path."""

    rel: str
    text: str
    data: Any = None
    _positions: Positions | None = field(default=None, repr=False)

    def locate(self, parts: list[str], *, key: bool = False) -> tuple[int, int]:
        if self._positions is None:
            self._positions = Positions(self.text)
        return self._positions.locate(parts, key=key)

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""
