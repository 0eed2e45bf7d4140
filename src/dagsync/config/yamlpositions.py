"""Source positions of a YAML document: `Positions` maps JSON pointers to the 1-based line and
column of keys and values, from a tree built from the C parser's events (no composer, no
resolver, no recursion). Computed only for files with findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from dagsync.config.yamlio import ENDS, SKIPPED, STARTS, event_source


class _Node:
    """A node's position, and its children: keys (raw scalar text) or items in order."""

    __slots__ = ("column", "items", "keys", "line")

    def __init__(self, event: Any) -> None:
        mark = event.start_mark
        self.line = mark.line + 1
        self.column = mark.column + 1
        self.keys: dict[str, tuple[_Node, _Node]] | None = None
        self.items: list[_Node] | None = None


def _position_tree(text: str) -> _Node | None:
    """The positions of every key and value of a one-document stream, from the C parser's
    events (no composer, no resolver, no recursion); None if it does not parse."""
    stack: list[list[Any]] = []  # [node, pending key node or None]
    root: _Node | None = None
    documents = 0
    next_event, release = event_source(text)
    try:
        while True:
            event = next_event()
            cls = event.__class__
            if cls in ENDS:
                stack.pop()
                continue
            if cls is StreamEndEvent:
                return root
            if cls is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    return None
                continue
            if cls in SKIPPED:
                continue
            node = _Node(event)
            if cls is MappingStartEvent:
                node.keys = {}
            elif cls is SequenceStartEvent:
                node.items = []
            if stack:
                frame = stack[-1]
                parent: _Node = frame[0]
                if parent.items is not None:
                    parent.items.append(node)
                elif frame[1] is None:
                    frame[1] = (node, event.value if cls is ScalarEvent else None)
                else:
                    key_node, key_text = frame[1]
                    if parent.keys is not None and key_text is not None:
                        parent.keys.setdefault(str(key_text), (key_node, node))
                    frame[1] = None
            else:
                root = node
            if cls in STARTS:
                stack.append([node, None])
    except YAMLError:
        return None
    finally:
        release()


class Positions:
    """Maps JSON pointers of one document to 1-based (line, column) of keys and values."""

    def __init__(self, text: str) -> None:
        self._root = _position_tree(text)

    def locate(self, parts: list[str], *, key: bool = False) -> tuple[int, int]:
        """The position of the value at `parts`, or of its key; the nearest ancestor if absent."""
        node = self._root
        if node is None:
            return (1, 1)
        best = (node.line, node.column)
        for index, part in enumerate(parts):
            step = _step(node, part)
            if step is None:
                return best
            key_node, node = step
            if index == len(parts) - 1 and key and key_node is not None:
                return (key_node.line, key_node.column)
            best = (node.line, node.column)
        return best

    def keys(self, parts: list[str]) -> Iterator[str]:
        """The keys of the mapping at `parts` (for 'did you mean' hints)."""
        node = self._root
        for part in parts:
            if node is None:
                return
            step = _step(node, part)
            node = step[1] if step else None
        if node is not None and node.keys is not None:
            yield from node.keys


def _step(node: _Node, part: str) -> tuple[_Node | None, _Node] | None:
    if node.keys is not None:
        return node.keys.get(part)
    if node.items is not None and part.isdigit() and int(part) < len(node.items):
        return None, node.items[int(part)]
    return None
