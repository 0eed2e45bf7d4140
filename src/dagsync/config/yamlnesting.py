"""How deep a YAML text nests, before any parser sees it: `nesting_problem` and `MAX_DEPTH`, one
linear pass that no input can make recurse; with the two things the pre-scan shares with the
loader (`dagsync.config.yamlio`): a problem's record (`YamlProblem`) and a text offset's line and
column (`line_column`). Pure text: no ruamel here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class YamlProblem:
    """A YAML-level problem at a 1-based line and column."""

    kind: str  # syntax | value | duplicate-key | alias | depth
    line: int
    column: int
    message: str


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


MAX_DEPTH = 64
"""Deepest nesting of collections a file may have. dagsync's files nest about 6 levels; a parser
fed thousands of levels recurses (RecursionError), slows down faster than linearly or, for some
tags, crashes the C parser. The limit is checked by `nesting_problem`, one linear pass over the
text that no input can make recurse."""

_SPECIAL = re.compile(r"[\[\]{}\"'#]")
_COMPACT = re.compile(r"(?:[-?](?:[ \t]+|$))*")


def _too_deep(line: int, column: int, limit: int) -> YamlProblem:
    return YamlProblem(
        "depth",
        line,
        column,
        f"collections nest more than {limit} levels deep here: dagsync's files nest a few "
        "levels; flatten the structure",
    )


_BLOCK_SCALAR = re.compile(r"(?:^|[ \t])[|>][0-9+-]*[ \t]*(?:#.*)?$")


def nesting_problem(text: str, limit: int = MAX_DEPTH) -> YamlProblem | None:
    """A `depth` problem at the first place where `text` nests collections more than `limit`
    deep, else None.

    One pass, no recursion, no parser: flow collections count each unclosed `[` or `{`
    outside quotes and comments (across lines); block collections count the indentation levels
    open on a line (a stack of indents, like Python's tokenizer) plus its compact `- ` or `? `
    indicators. Block scalars (`|`, `>`) and quoted scalars are skipped. The count can only
    over-estimate the real depth by a level or two, never under-estimate it, so a file this
    accepts cannot nest deeper than `limit` + 1 for the parser."""
    indents: list[int] = [-1]
    flow = 0
    quote = ""
    block_scalar_at = -2  # indentation of the key whose block scalar is being skipped
    offset = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        start = offset
        offset += len(raw)
        if block_scalar_at > -2:
            if not stripped.strip() or indent > block_scalar_at:
                continue
            block_scalar_at = -2
        if not quote and not flow:
            if not stripped.strip() or stripped.startswith("#"):
                continue
            while indents[-1] >= indent and len(indents) > 1:
                indents.pop()
            indents.append(indent)
            depth = len(indents) - 1
        else:
            depth = len(indents) - 1
        if not quote and not flow and _SPECIAL.search(line) is None:
            # the common line: no flow collection, quote or comment; only compact indicators
            depth += len(_COMPACT.match(line, indent).group().split())  # type: ignore[union-attr]
            if depth > limit:
                line_no, col = line_column(text, start + indent)
                return _too_deep(line_no, col, limit)
            if _BLOCK_SCALAR.search(line):
                block_scalar_at = indent
            continue
        column = 0 if (quote or flow) else indent
        while column < len(line):
            char = line[column]
            if quote:
                if char == "\\" and quote == '"':
                    column += 2
                    continue
                if char == quote:
                    if quote == "'" and line[column + 1 : column + 2] == "'":
                        column += 2
                        continue
                    quote = ""
            elif char in "\"'" and (column == 0 or line[column - 1] in " \t[{,:-?"):
                quote = char
            elif char == "#" and (column == 0 or line[column - 1] in " \t"):
                break
            elif char in "[{":
                flow += 1
            elif char in "]}":
                flow = max(flow - 1, 0)
            elif not flow and char in "-?" and line[column + 1 : column + 2] in (" ", ""):
                depth += 1  # a compact block sequence or complex key opens one more level
            if depth + flow > limit:
                line_no, col = line_column(text, start + column)
                return _too_deep(line_no, col, limit)
            column += 1
        if not quote and not flow and _BLOCK_SCALAR.search(line.split(" #", 1)[0]):
            block_scalar_at = indent
    return None
