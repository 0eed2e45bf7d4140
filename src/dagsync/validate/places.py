"""Where declarations are, for the repository-wide invariants: every declaration of a value across
clients, and positions of values in files read on demand (only files with a conflict are read).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from dagsync.config.document import ClientIndex, Document, Located
from dagsync.findings import Finding, Severity, pointer_from


def declarations_by_value(
    indexes: Mapping[str, ClientIndex], kind: str
) -> dict[str, list[tuple[str, Located]]]:
    """Every declaration of each value of one index field: (client folder, place)."""
    groups: dict[str, list[tuple[str, Located]]] = {}
    for folder in sorted(indexes):
        for item in getattr(indexes[folder], kind):
            groups.setdefault(item.value, []).append((folder, item))
    return groups


class Locator:
    """Positions of values in files read on demand (only files with a duplicate are read)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs: dict[str, Document | None] = {}

    def finding(
        self,
        item: Located,
        rule: str,
        client: str,
        message: str,
        related: Collection[Located] = (),
    ) -> Finding:
        line, column = self._locate(item)
        server = Path(item.file).stem if "/servers/" in item.file else None
        return Finding(
            item.file,
            line,
            column,
            rule,
            Severity.ERROR,
            message,
            pointer=pointer_from(list(item.path)),
            client=client,
            server=server,
            related=tuple((o.file, *self._locate(o)) for o in related),
        )

    def where(self, item: Located) -> str:
        """`file:line:column` of a declaration, for a finding that names two places."""
        line, column = self._locate(item)
        return f"{item.file}:{line}:{column}"

    def _locate(self, item: Located) -> tuple[int, int]:
        if item.file not in self.docs:
            try:
                text = (self.root / item.file).read_text(encoding="utf-8")
                self.docs[item.file] = Document(item.file, text)
            except (OSError, UnicodeDecodeError):
                self.docs[item.file] = None
        doc = self.docs[item.file]
        return doc.locate([str(p) for p in item.path]) if doc else (1, 1)
