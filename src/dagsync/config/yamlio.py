"""Strict YAML 1.2 loading with ruamel.yaml (reading only: `yamledit` edits, `yamlpositions`
locates, `yamlnesting` pre-scans the nesting depth).

The fast path walks the events of ruamel's C parser (`ruamel.yaml.clib`) and builds the data
itself, resolving plain scalars with ruamel's own YAML 1.2 resolver table and constructors
(`yes` stays a string, `012` is 12, `2024-01-31` is a date): the same data as
`YAML(typ="safe").load`, about three times faster, and every problem comes with the position
of the event that caused it. Anchors and aliases are refused at the first one (a "billion
laughs" file would otherwise load in milliseconds and explode when walked). Rare constructs
(merge keys, complex keys, duplicate keys, several documents, unusual tags) fall back to
ruamel's safe loader, so that their semantics and messages are ruamel's.

The depth of nesting is checked before any parser sees the text (`yamlnesting.nesting_problem`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import implicit_resolvers
from ruamel.yaml.util import create_timestamp

from dagsync.config.yamlnesting import YamlProblem, line_column, nesting_problem

try:
    from ruamel.yaml import cyaml

    _CParser: Any = getattr(cyaml, "CParser", None)
except ImportError:  # pragma: no cover - without ruamel.yaml.clib: the same events, slower
    _CParser = None

_CORE = "tag:yaml.org,2002:"
_VALUE_ERRORS = (ValueError, TypeError, OverflowError, KeyError, IndexError, RecursionError)


class _Refused(Exception):
    """The fast path met something it reports itself (an anchor, an alias, a bad value)."""

    def __init__(self, problem: YamlProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Fallback(Exception):
    """The fast path met a construct whose semantics it leaves to ruamel's loader."""


# --- scalar resolution: ruamel's YAML 1.2 table and constructors ------------------------------


def _construct_int(text: str) -> int:
    """ruamel's `construct_yaml_int` for YAML 1.2 (no octal without 0o, no sexagesimals)."""
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if digits == "0":
        return 0
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _construct_float(text: str) -> float:
    """ruamel's `construct_yaml_float` for YAML 1.2."""
    digits = text.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if digits == ".inf":
        return sign * float("inf")
    if digits == ".nan":
        return float("nan")
    return sign * float(digits)


def _construct_timestamp(text: str) -> Any:
    match = SafeConstructor.timestamp_regexp.match(text)
    if match is None:
        raise ValueError("not a date or a timestamp")
    return create_timestamp(**match.groupdict())


def _construct_bool(text: str) -> bool:
    return bool(SafeConstructor.bool_values[text.lower()])


def _merge(_: str) -> Any:
    raise _Fallback


_CONSTRUCTORS: dict[str, Callable[[str], Any]] = {
    _CORE + "str": str,
    _CORE + "null": lambda _: None,
    _CORE + "bool": _construct_bool,
    _CORE + "int": _construct_int,
    _CORE + "float": _construct_float,
    _CORE + "timestamp": _construct_timestamp,
    _CORE + "merge": _merge,
    _CORE + "value": _merge,
}


def _resolver_table() -> dict[str, tuple[tuple[Callable[[str], Any], Callable[[str], Any]], ...]]:
    """First character -> (matcher, constructor) in ruamel's order, for YAML 1.2."""
    table: dict[str, list[tuple[Callable[[str], Any], Callable[[str], Any]]]] = {}
    for versions, tag, pattern, first in implicit_resolvers:
        if (1, 2) in versions and tag in _CONSTRUCTORS:
            match = pattern.match  # resolves ruamel's lazy pattern once
            for char in first:
                table.setdefault(char, []).append((match, _CONSTRUCTORS[tag]))
    return {char: tuple(entries) for char, entries in table.items()}


_RESOLVERS = _resolver_table()
_PLAIN_CACHE: dict[str, Any] = {}
_PLAIN_CACHE_SIZE = 65536
_MISSING = object()


def _plain(text: str) -> Any:
    """A plain scalar's value (memoised: keys and enum values repeat across files)."""
    value = _PLAIN_CACHE.get(text, _MISSING)
    if value is _MISSING:
        value = text
        for match, construct in _RESOLVERS.get(text[:1], ()):
            if match(text):
                value = construct(text)
                break
        if len(_PLAIN_CACHE) < _PLAIN_CACHE_SIZE:
            _PLAIN_CACHE[text] = value
    return value


def _scalar(event: Any) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        return _plain(event.value) if event.implicit[0] else event.value
    construct = _CONSTRUCTORS.get(str(tag))
    if construct is None:
        raise _Fallback
    return construct(event.value)


# --- the fast path ----------------------------------------------------------------------------


def _events(text: str) -> Iterator[Any]:
    if _CParser is None:  # pragma: no cover
        yield from YAML(typ="safe", pure=True).parse(io.StringIO(text))
        return
    parser = _CParser(text)
    try:
        while True:
            event = parser.get_event()
            yield event
            if event.__class__ is StreamEndEvent:
                return
    finally:
        parser.dispose()


def _at(event: Any, kind: str, message: str) -> _Refused:
    mark = event.start_mark
    return _Refused(YamlProblem(kind, mark.line + 1, mark.column + 1, message))


def _anchor_problem(event: Any) -> _Refused:
    anchor = getattr(event, "anchor", None)
    what = "alias" if isinstance(event, AliasEvent) else "anchor"
    return _at(
        event, "alias", f"YAML {what} `{anchor}` is not allowed: write the values out in full"
    )


_NO_KEY = object()
_COLLECTION_TAGS = (None, "!", _CORE + "map", _CORE + "seq")
STARTS = (MappingStartEvent, SequenceStartEvent)
ENDS = (MappingEndEvent, SequenceEndEvent)
SKIPPED = (StreamStartEvent, DocumentEndEvent)


def _value(event: Any) -> Any:
    """The Python value an event starts (a new dict or list for collections)."""
    cls = event.__class__
    if cls is ScalarEvent:
        if event.anchor:
            raise _anchor_problem(event)
        try:
            return _scalar(event)
        except _VALUE_ERRORS as exc:
            if _secret_looking(event.value):  # never quote what may be a credential
                # lazy: importing it here keeps dagsync.config, pydantic, pydantic_core (+2) out of this module's load
                from dagsync.config.schema_errors import HIDDEN

                raise _at(
                    event, "value", f"a `{event.tag}` value cannot be read ({HIDDEN})"
                ) from None
            raise _at(event, "value", f"`{_short(event.value)}` cannot be read: {exc}") from None
    if cls is AliasEvent or event.anchor:
        raise _anchor_problem(event)
    if event.tag not in _COLLECTION_TAGS:
        raise _Fallback
    return {} if cls is MappingStartEvent else []


def event_source(text: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    """(next event, release): the C parser's own methods, without a generator in between."""
    if _CParser is None:  # pragma: no cover
        events = YAML(typ="safe", pure=True).parse(io.StringIO(text))
        return events.__next__, lambda: None
    parser = _CParser(text)
    return parser.get_event, parser.dispose


def _build(text: str) -> Any:
    """Build the data of a one-document stream from its events (the hot loop: kept flat)."""
    stack: list[list[Any]] = []  # [container, pending key]
    root: Any = None
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
            if cls in SKIPPED:
                continue
            if cls is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Fallback
                continue
            if cls is ScalarEvent and event.tag is None and not event.anchor:
                try:
                    value = _plain(event.value) if event.implicit[0] else event.value
                except _VALUE_ERRORS:
                    value = _value(event)  # raises the located problem
            else:
                value = _value(event)
            if stack:
                frame = stack[-1]
                container = frame[0]
                if container.__class__ is list:
                    container.append(value)
                elif frame[1] is _NO_KEY:
                    if value.__class__ is dict or value.__class__ is list or value in container:
                        raise _Fallback  # a complex key, or a duplicate: ruamel reports it
                    frame[1] = value
                else:
                    container[frame[1]] = value
                    frame[1] = _NO_KEY
            else:
                root = value
            if cls in STARTS:
                stack.append([value, _NO_KEY])
    finally:
        release()


def _secret_looking(text: str) -> bool:
    # lazy: importing it here keeps dagsync.config, pydantic, pydantic_core (+2) out of this module's load
    from dagsync.config.schema_errors import may_hold_credential

    return may_hold_credential((), text)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


# --- public API -------------------------------------------------------------------------------


def _safe() -> YAML:
    return YAML(typ="safe", pure=False)


def load(text: str) -> tuple[Any, YamlProblem | None]:
    """Parse one YAML document; return its data, or the first problem found.

    The nesting depth is checked first (`nesting_problem`): the parser and everything after it
    only ever see files at most `MAX_DEPTH` levels deep."""
    deep = nesting_problem(text)
    if deep is not None:
        return None, deep
    try:
        return _build(text), None
    except _Refused as refused:
        return None, refused.problem
    except _Fallback:
        return _load_slowly(text)
    except YAMLError as exc:
        return None, _yaml_error(exc, text)


def _load_slowly(text: str) -> tuple[Any, YamlProblem | None]:
    alias = _find_alias(text)
    if alias is not None:
        return None, alias
    try:
        return _safe().load(text), None
    except DuplicateKeyError as exc:
        return None, _duplicate(exc)
    except YAMLError as exc:
        return None, _yaml_error(exc, text)
    except _VALUE_ERRORS as exc:
        return None, YamlProblem("value", 1, 1, f"YAML value error: {exc}")


def _find_alias(text: str) -> YamlProblem | None:
    try:
        for event in _events(text):
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
                return _anchor_problem(event).problem
    except YAMLError:
        return None  # the loader reports the syntax error with its position
    return None


def _yaml_error(exc: YAMLError, text: str) -> YamlProblem:
    if isinstance(exc, MarkedYAMLError):
        return _syntax(exc)
    if isinstance(exc, ReaderError) and isinstance(exc.position, int):
        line, column = line_column(text, exc.position)
        char = exc.character
        code = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        return YamlProblem("syntax", line, column, f"character {code} is not allowed: {exc.reason}")
    return YamlProblem("syntax", 1, 1, f"YAML error: {exc}")


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
    context = ""
    if exc.context and exc.problem:
        start = exc.context_mark
        where = ""
        if start is not None and (start.line, start.column) != (line - 1, column - 1):
            where = f" started at line {start.line + 1}, column {start.column + 1}"
        context = f" ({exc.context}{where})"
    return YamlProblem("syntax", line, column, f"YAML syntax error: {problem}{context}")
