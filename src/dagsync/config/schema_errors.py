"""pydantic's validation errors, as findings a person can act on.

pydantic reports one error per union branch, at locations tagged with branch names; this
module groups them by their real place in the document and words one message each: an
unknown field with the closest known name, a missing field, or what was expected there (with
the field's description from the JSON Schema when a pattern alone would not tell).

A message quotes the wrong value only where it cannot be a credential: never in a field whose
name says it may hold one (`keys`, `host_key`, `password`, `token`...), never a value that
looks like a password. Findings inside a section the CGV requires cite its article.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class SchemaProblem:
    """One schema finding, before it is located in its file."""

    path: tuple[str | int, ...]
    rule: str
    message: str
    key: bool = False
    article: str | None = None


# Sections the CGV requires, and its article: the longest matching prefix of a path wins.
SECTION_ARTICLES: dict[tuple[str, ...], str] = {
    ("contract", "root_access"): "6",
    ("contract", "termination"): "7",
    ("contract", "payment"): "8",
    ("contract", "price_changes"): "8",
    ("contract", "renewal_unpaid"): "8",
    ("mail",): "6.1",
    ("network",): "4",
    ("accounts",): "6",
    ("backup",): "4",
    ("security",): "4",
    ("supervision",): "4",
}

# A field whose name says it may hold a credential: its value is never quoted.
_CREDENTIAL_FIELD = re.compile(
    r"(?i)(key|keys|password|passwd|passphrase|pwd|secret|token|credentials?|auth|salt"
    r"|signature|private|cert|certificate)$|(?i:^(key|token|secret)_)"
)


def article_of(path: tuple[str | int, ...]) -> str | None:
    """The CGV article of the required section `path` lies in, if any."""
    names = tuple(str(p) for p in path if isinstance(p, str))
    for length in range(len(names), 0, -1):
        article = SECTION_ARTICLES.get(names[:length])
        if article is not None:
            return article
    return None


def may_hold_credential(path: tuple[str | int, ...], value: Any) -> bool:
    """Whether quoting `value` (found at `path`) could print a credential."""
    if any(isinstance(p, str) and _CREDENTIAL_FIELD.search(p) for p in path):
        return True
    return isinstance(value, str) and _password_like(value)


def _password_like(value: str) -> bool:
    """Mixed letters and digits or symbols, no spaces: the shape of a password or a token."""
    if len(value) < 6 or any(c.isspace() for c in value):
        return False
    kinds = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
    return kinds >= 3


def schema_problems(
    model: type[BaseModel], data: Any, errors: list[Any]
) -> Iterator[SchemaProblem]:
    """One problem per place of the document that pydantic's `errors` are about."""
    for path, at_path in _group_errors(data, errors):
        problem = _problem(model, path, at_path)
        article = article_of(problem.path if problem.key else path)
        yield SchemaProblem(problem.path, problem.rule, problem.message, problem.key, article)


def _group_errors(
    data: Any, errors: list[Any]
) -> Iterator[tuple[tuple[str | int, ...], list[Any]]]:
    grouped: dict[tuple[str | int, ...], list[Any]] = {}
    for error in errors:
        grouped.setdefault(_real_path(data, error["loc"], error["type"]), []).append(error)
    yield from grouped.items()


def _real_path(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[str | int, ...]:
    """Drop pydantic's union-branch tags from a location, keeping real keys and indexes."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            path.append(part)
            node = node[part]
        elif last and kind in ("missing", "extra_forbidden") and isinstance(part, str):
            path.append(part)
        elif not isinstance(node, dict | list):
            break
    return tuple(path)


def _problem(
    model: type[BaseModel], path: tuple[str | int, ...], errors: list[Any]
) -> SchemaProblem:
    kind = errors[0]["type"]
    where = ".".join(str(p) for p in path) or "document"
    if kind == "extra_forbidden":
        name = str(path[-1])
        hint = _suggest(model, path, name)
        return SchemaProblem(path, "SCH001", f"unknown field `{name}`{hint}", key=True)
    if kind == "missing":
        return SchemaProblem(
            path[:-1],
            "SCH003",
            f"missing required field `{path[-1]}` in {'.'.join(map(str, path[:-1])) or 'document'}",
            key=True,
        )
    given = errors[0].get("input")
    hint = _hint(model, path) if kind == "string_pattern_mismatch" else ""
    shown = _hidden(given) if may_hold_credential(path, given) else _show(given)
    expected = _expected(errors, given)
    if hint and len(expected) > 60:  # a long regular expression: its description says it
        expected = "does not have the expected syntax"
    message = f"`{where}`: {expected}{hint} (got {shown})"
    return SchemaProblem(path, "SCH002", message)


_KINDS = {
    "ip_v4_address": "an IPv4 address",
    "ip_v6_address": "an IPv6 address",
    "ip_v4_network": "an IPv4 network (address/prefix)",
    "ip_v6_network": "an IPv6 network (address/prefix)",
}


def _kind(error: Any) -> str | None:
    """What a union branch expected, from pydantic's branch tag (e.g. an IPv4 address)."""
    tag = str(error["loc"][-1]) if error["loc"] else ""
    return next((label for key, label in _KINDS.items() if f"{key}_validator" in tag), None)


def _expected(errors: list[Any], given: Any) -> str:
    """What was expected at one place, from pydantic's errors there (one per union branch)."""
    kinds = [k for k in map(_kind, errors) if k]
    if not kinds:
        return "; or ".join(dict.fromkeys(_message(e) for e in errors))
    others = [_message(e) for e in errors if not _kind(e)]
    what = " or ".join(
        dict.fromkeys([*(o.removeprefix("input should be ") for o in others), *kinds])
    )
    family = "v6" if isinstance(given, str) and ":" in given else "v4"
    detail = next((_message(e) for e in errors if f"ip_{family}_" in str(e["loc"][-1])), "")
    return f"expected {what}" + (f": {detail}" if detail else "")


def _message(error: Any) -> str:
    msg = str(error["msg"]).removeprefix("Value error, ")
    return msg[0].lower() + msg[1:] if msg else msg


def _hint(model: type[BaseModel], path: tuple[str | int, ...]) -> str:
    """The field's description, when a pattern alone would not tell what is expected."""
    description = _property_at(_json_schema(model), path).get("description")
    return f" ({description.rstrip('.')})" if isinstance(description, str) else ""


HIDDEN = "not shown: it may be a credential"


def _hidden(value: Any) -> str:
    """What a value is, without the value: for fields that may hold a credential."""
    if isinstance(value, str):
        return f"a string of {len(value)} character(s), {HIDDEN}"
    return f"a {type(value).__name__}, {HIDDEN}"


def _show(value: Any) -> str:
    # Control characters (CR, LF, NUL...) are shown escaped, never written to the terminal.
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))
    text = repr(value) if not isinstance(value, str) else f"'{shown}'"
    if isinstance(value, dict | list):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


@functools.cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _suggest(model: type[BaseModel], path: tuple[str | int, ...], name: str) -> str:
    allowed = _fields_at(_json_schema(model), path[:-1])
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f": did you mean `{close[0]}`?"
    if allowed:
        return f": expected one of {', '.join(f'`{a}`' for a in sorted(allowed))}"
    return ""


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s and pick the structured branch of an `anyOf` (e.g. of `X | None`)."""
    defs = schema.get("$defs", {})
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            branches = [_resolve(schema, b) for b in node["anyOf"]]
            node = next((b for b in branches if "properties" in b or "items" in b), branches[0])
        else:
            return node


def _property_at(schema: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    """The schema of the value at `path`, as written (with its description)."""
    node: dict[str, Any] = schema
    for part in path:
        parent = _resolve(schema, node)
        if isinstance(part, int):
            node = parent.get("items", {})
        else:
            node = parent.get("properties", {}).get(part, {})
    return node


def _fields_at(schema: dict[str, Any], path: tuple[str | int, ...]) -> list[str]:
    return list(_resolve(schema, _property_at(schema, path)).get("properties", {}))
