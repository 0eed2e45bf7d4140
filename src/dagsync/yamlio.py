"""The one module that imports ruamel.yaml: strict YAML 1.2 loading and source positions.

The fast path is ruamel's C-backed safe loader (YAML 1.2 resolver: `yes` stays a string).
Anchors and aliases are refused while loading (a "billion laughs" file would otherwise load
in milliseconds and explode when walked). Positions are computed only for files with
findings, from the composed node tree, which keeps every key and value's start mark.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

_ANCHOR_HINT = re.compile(rb"[&*]")


@dataclass(frozen=True)
class YamlProblem:
    """A YAML-level problem at a 1-based line and column."""

    kind: str  # syntax | duplicate-key | alias
    line: int
    column: int
    message: str


def _safe() -> YAML:
    return YAML(typ="safe", pure=False)


def load(text: str) -> tuple[Any, YamlProblem | None]:
    """Parse one YAML document; return its data, or the first problem found."""
    if _ANCHOR_HINT.search(text.encode()):
        alias = _find_alias(text)
        if alias is not None:
            return None, alias
    try:
        return _safe().load(text), None
    except DuplicateKeyError as exc:
        return None, _duplicate(exc)
    except MarkedYAMLError as exc:
        return None, _syntax(exc)
    except YAMLError as exc:
        return None, YamlProblem("syntax", 1, 1, f"YAML error: {exc}")


def _find_alias(text: str) -> YamlProblem | None:
    try:
        for event in _safe().parse(io.StringIO(text)):
            anchor = getattr(event, "anchor", None)
            if isinstance(event, AliasEvent) or (
                isinstance(event, ScalarEvent | CollectionStartEvent) and anchor
            ):
                mark = event.start_mark
                what = "alias" if isinstance(event, AliasEvent) else "anchor"
                return YamlProblem(
                    "alias",
                    mark.line + 1,
                    mark.column + 1,
                    f"YAML {what} `{anchor}` is not allowed: write the values out in full",
                )
    except YAMLError:
        return None  # the loader reports the syntax error with its position
    return None


def _duplicate(exc: DuplicateKeyError) -> YamlProblem:
    mark = exc.problem_mark
    first = exc.context_mark
    key = _problem_key(str(exc.problem))
    where = f" (first defined at line {first.line + 1})" if first is not None else ""
    return YamlProblem(
        "duplicate-key",
        mark.line + 1,
        mark.column + 1,
        f"duplicate key {key}{where}: keep one of them",
    )


def _problem_key(problem: str) -> str:
    found = re.search(r'found duplicate key "([^"]*)"', problem)
    return f"`{found.group(1)}`" if found else "in mapping"


def _syntax(exc: MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    return YamlProblem("syntax", line, column, f"YAML syntax error: {problem}{context}")


class Positions:
    """Maps JSON pointers of one document to 1-based (line, column) of keys and values."""

    def __init__(self, text: str) -> None:
        try:
            self._root: Node | None = _safe().compose(text)
        except YAMLError:
            self._root = None

    def locate(self, parts: list[str], *, key: bool = False) -> tuple[int, int]:
        """The position of the value at `parts`, or of its key; the nearest ancestor if absent."""
        node = self._root
        best = (1, 1)
        if node is None:
            return best
        best = _mark(node)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            step = _child(node, part)
            if step is None:
                return best
            key_node, node = step
            if last and key and key_node is not None:
                return _mark(key_node)
            best = _mark(node)
        return best

    def keys(self, parts: list[str]) -> Iterator[str]:
        """The keys of the mapping at `parts` (for 'did you mean' hints)."""
        node = self._root
        for part in parts:
            if node is None:
                return
            step = _child(node, part)
            node = step[1] if step else None
        if isinstance(node, MappingNode):
            for key_node, _ in node.value:
                yield str(key_node.value)


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: Node, part: str) -> tuple[Node | None, Node] | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == part:
                return key_node, value_node
        return None
    if isinstance(node, SequenceNode) and part.isdigit() and int(part) < len(node.value):
        return None, node.value[int(part)]
    return None
