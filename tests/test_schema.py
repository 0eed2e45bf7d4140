"""JSON Schemas (issue 2, point 6): generated from the model, never stale, valid against their
meta-schema, referenced by every YAML file, and in agreement with the model.

Agreement is checked the way `check-jsonschema` would check a file: draft 2020-12 with format
checking, ECMA-262 patterns (the `regress` engine), and YAML timestamps seen as their ISO text;
the model side is `dagsync.validate.reading.validate_model`'s (pydantic, strict JSON mode). Hypothesis
mutates the example files (drop a field, add an unknown one, replace a value with one of another
type, an enum value, a number at or past a bound, a string for a pattern...) and both must
give the same verdict, except where the model is stricter than any JSON Schema can be: a check
in a validator (a network's host bits, a port range's order), reported by pydantic as a
`value_error`. The schema never refuses what the model accepts.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import regress
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from conftest import PROJECT
from dagsync.cli import main
from dagsync.config.yamlio import load
from dagsync.model.client import Client
from dagsync.model.partial import as_json
from dagsync.model.policy import CgvPolicy, DagSettings
from dagsync.model.requests import Requests
from dagsync.model.schema import SCHEMAS
from dagsync.model.server import Server

KINDS: list[tuple[str, str, type[BaseModel]]] = [
    ("clients/*/client.yaml", "client.schema.json", Client),
    ("clients/*/requests.yaml", "requests.schema.json", Requests),
    ("clients/*/servers/*.yaml", "server.schema.json", Server),
    ("policies/cgv/*.yaml", "cgv-policy.schema.json", CgvPolicy),
    ("policies/dag.yaml", "dag-settings.schema.json", DagSettings),
]
EXAMPLES = [
    (path, schema, model)
    for pattern, schema, model in KINDS
    for path in sorted(PROJECT.glob(pattern))
]


# --- generated files ----------------------------------------------------------------------------


def test_schemas_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--check", "--repo", str(PROJECT)]) == 0, capsys.readouterr().err


def test_schema_check_fails_when_a_schema_is_stale(
    repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo_copy / "schemas/server.schema.json"
    path.write_text(path.read_text().replace('"title": "Server"', '"title": "Old server"'))
    (repo_copy / "schemas/client.schema.json").unlink()
    assert main(["schema", "--check", "--repo", str(repo_copy)]) == 1
    err = capsys.readouterr().err
    assert "schemas/server.schema.json is stale" in err
    assert "schemas/client.schema.json is stale" in err
    assert main(["schema", "--repo", str(repo_copy)]) == 0
    assert main(["schema", "--check", "--repo", str(repo_copy)]) == 0


def test_every_model_has_its_schema_file() -> None:
    assert sorted(p.name for p in (PROJECT / "schemas").glob("*.schema.json")) == sorted(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = json.loads((PROJECT / "schemas" / name).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    for pattern in _patterns(schema):  # editors use ECMA-262 regular expressions
        regress.Regex(pattern, flags="u")


ADVERSARIAL = [
    base * n + end
    for base in ("a", "a-", "a.", "0", "a_", "_.", "ab-", "1.", "a@", "-")
    for n in (30, 300)
    for end in ("!", "-", ".-", "@")
]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_patterns_stay_fast_in_backtracking_engines(name: str) -> None:
    # editors (JavaScript), check-jsonschema (regress) and Python's re all backtrack: an
    # ambiguous pattern lets a short string hang them (the old host name pattern took 40 s)
    schema = json.loads((PROJECT / "schemas" / name).read_text())
    for pattern in set(_patterns(schema)):
        ecma, python = regress.Regex(pattern, flags="u"), re.compile(pattern)
        for text in ADVERSARIAL:
            start = time.process_time()
            ecma.find(text)
            python.search(text)
            assert time.process_time() - start < 0.05, (pattern, text)


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


@pytest.mark.parametrize(("pattern", "schema"), [(p, s) for p, s, _ in KINDS])
def test_every_yaml_file_names_its_schema_first(pattern: str, schema: str) -> None:
    files = sorted(PROJECT.glob(pattern))
    assert files
    for path in files:
        first = path.read_text().splitlines()[0]
        found = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert found, f"{path}: first line is {first!r}"
        target = (path.parent / found[1]).resolve()
        assert target == PROJECT / "schemas" / schema, path


def test_no_other_yaml_file_under_clients_or_policies() -> None:
    covered = {p for pattern, _, _ in KINDS for p in PROJECT.glob(pattern)}
    everything = {*PROJECT.glob("clients/**/*.yaml"), *PROJECT.glob("policies/**/*.yaml")}
    assert everything == covered


# --- agreement ----------------------------------------------------------------------------------


def _pattern_keyword(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not regress.Regex(pattern, flags="u").find(
        instance
    ):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


CheckJsonschemaLike = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"pattern": _pattern_keyword}
)


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((PROJECT / "schemas" / name).read_text())
    return CheckJsonschemaLike(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


VALIDATORS = {name: _validator(name) for name in SCHEMAS}


def schema_accepts(name: str, data: Any) -> bool:
    return bool(VALIDATORS[name].is_valid(json.loads(as_json(data))))


def model_errors(model: type[BaseModel], data: Any) -> list[Any] | None:
    try:
        model.model_validate_json(as_json(data), strict=True)
    except ValidationError as exc:
        return list(exc.errors())
    return None


def _place(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The real place of an error: its location without pydantic's union-branch tags."""
    path, node = [], data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            path.append(part)
            node = node[part]
    return tuple(path)


def only_inexpressible(data: Any, errors: list[Any]) -> bool:
    """Every place in error has a `value_error`: a validator's check no schema can state."""
    places: dict[tuple[Any, ...], set[str]] = {}
    for error in errors:
        places.setdefault(_place(data, error["loc"]), set()).add(error["type"])
    return all("value_error" in types for types in places.values())


def assert_agree(name: str, model: type[BaseModel], data: Any) -> None:
    accepted = schema_accepts(name, data)
    errors = model_errors(model, data)
    if errors is None:
        assert accepted, "the schema refuses what the model accepts"
    elif accepted:
        assert only_inexpressible(data, errors), errors


@pytest.mark.parametrize(
    ("path", "name", "model"), EXAMPLES, ids=[str(p.relative_to(PROJECT)) for p, _, _ in EXAMPLES]
)
def test_schema_and_model_accept_the_example(path: Path, name: str, model: type[BaseModel]) -> None:
    data, problem = load(path.read_text())
    assert problem is None
    assert schema_accepts(name, data)
    assert model_errors(model, data) is None


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in children:
        yield from _paths(value, (*prefix, key))


def _subschemas(schema: dict[str, Any], path: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Every schema (anyOf branch) that may describe the value at `path`."""
    defs = schema.get("$defs", {})

    def expand(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            return expand(defs[node["$ref"].rsplit("/", 1)[-1]])
        if "anyOf" in node:
            return [leaf for branch in node["anyOf"] for leaf in expand(branch)]
        return [node]

    nodes = expand(schema)
    for part in path:
        step = []
        for node in nodes:
            child = (
                node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
            )
            if child:
                step.extend(expand(child))
        nodes = step
    return nodes


def _values_for(nodes: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Values aimed at what the schema says: enums, bounds, patterns, formats."""
    options: list[st.SearchStrategy[Any]] = []
    for node in nodes:
        if "enum" in node:
            options.append(st.sampled_from(node["enum"]))
        if "const" in node:
            options.append(st.just(node["const"]))
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if bound in node:
                edge = node[bound]
                options.append(st.sampled_from([edge - 1, edge, edge + 1, edge + 0.5, edge - 0.5]))
        for size in ("minLength", "maxLength", "minItems", "maxItems"):
            if size in node:
                n = node[size]
                item = "x" if size.endswith("Length") else node.get("items", {}).get("const", "x")
                counts = [max(n - 1, 0), n, n + 1]
                options.append(
                    st.sampled_from(counts).map(
                        lambda k, i=item, s=size: "x" * k if s.endswith("Length") else [i] * k
                    )
                )
        if "pattern" in node:
            try:
                options.append(st.from_regex(node["pattern"]))
            except Exception:  # a pattern hypothesis cannot generate from (e.g. a lookahead)
                options.append(st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,2})?", fullmatch=True))
        if node.get("format") == "date":
            options.append(st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)))
            options.append(st.sampled_from(["2024-02-30", "2024-1-5", "31/01/2024"]))
        if str(node.get("format", "")).startswith("ipv"):
            options.append(
                st.sampled_from(
                    [
                        "203.0.113.7",
                        "203.0.113.0/24",
                        "203.0.113.7/24",
                        "2001:db8::1",
                        "2001:db8::/32",
                        "::1",
                        "999.1.1.1",
                        "203.0.113",
                        "any",
                    ]
                )
            )
    return st.one_of(options) if options else st.nothing()


GENERIC = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70_000),
    # JSON Schema cannot tell 3.0 from 3 (the model refuses a float for an int), and `.inf`
    # or `.nan` are no amounts: see test_known_divergences
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.text(alphabet="az09.:-/ _\n", max_size=12),
    st.lists(st.one_of(st.integers(0, 9), st.text("ab", max_size=2)), max_size=3),
    st.dictionaries(st.sampled_from(["x", "name"]), st.integers(0, 3), max_size=2),
    st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)),
)


def _retyped(value: Any) -> st.SearchStrategy[Any]:
    """The same value in another type, as YAML makes it easy to write: "22" for 22, "yes" or 1
    for true, a date's text or a datetime for a date, a float for an int, a list of it."""
    same: list[Any] = [str(value), [value]]
    if isinstance(value, bool):
        same += [int(value), "yes" if value else "no", "on", str(value).lower()]
    elif isinstance(value, int | float):
        same += [float(value) + 0.5, str(value) + ".0", value is not None and bool(value)]
    elif isinstance(value, dt.date):
        same += [dt.datetime.combine(value, dt.time(10, 30)), value.isoformat() + "T00:00:00"]
    elif isinstance(value, str):
        same += [
            value.upper(),
            value + "\n",
            " " + value,
            value[:-1],
            int(value) if value.isdigit() else 0,
        ]
    elif isinstance(value, list):
        same += [value[0] if value else None, {}]
    return st.sampled_from(same)


@st.composite
def variants(draw: st.DrawFn) -> tuple[str, type[BaseModel], Any]:
    path, name, model = draw(st.sampled_from(EXAMPLES))
    data, _ = load(path.read_text())
    data = copy.deepcopy(data)
    schema = VALIDATORS[name].schema
    place = draw(st.sampled_from(list(_paths(data))))
    parent_place, key = place[:-1], place[-1] if place else None
    target = data
    for part in place:
        target = target[part]
    parent = data
    for part in parent_place:
        parent = parent[part]
    kind = draw(st.sampled_from(["drop", "unknown", "replace", "aimed", "aimed", "retyped"]))
    if kind == "drop" and isinstance(parent, dict) and place:
        del parent[key]
    elif kind == "unknown" and isinstance(target, dict):
        name_ = draw(
            st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda k: k not in target)
        )
        target[name_] = 1
    elif kind == "aimed" and place:
        aimed = _values_for(_subschemas(schema, place))
        parent[key] = draw(aimed) if not aimed.is_empty else draw(GENERIC)
    elif kind == "retyped" and place:
        parent[key] = draw(_retyped(target))
    elif place:
        parent[key] = draw(GENERIC)
    return name, model, data


def _changed(rel: str, where: tuple[Any, ...], value: Any) -> Any:
    data, _ = load((PROJECT / rel).read_text())
    node = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(variants())
@example(  # found 2026-12-07: pydantic read "0" as a Unix time (1970-01-01)
    variant=(
        "client.schema.json",
        Client,
        _changed(
            "clients/velo-savoie/client.yaml", ("contract", "price_changes", 0, "notified_on"), "0"
        ),
    )
)
def test_schema_and_model_agree_on_variants(variant: tuple[str, type[BaseModel], Any]) -> None:
    name, model, data = variant
    assert_agree(name, model, data)


@pytest.mark.parametrize(
    "text", ["0", "1700000000", "2026-10-20T00:00:00", "2026-1-2", "20261020", "2026-10-20 "]
)
@pytest.mark.parametrize(
    ("rel", "where", "model"),
    [
        (
            "clients/velo-savoie/client.yaml",
            ("contract", "price_changes", 0, "notified_on"),
            Client,
        ),
        ("clients/velo-savoie/client.yaml", ("contract", "signed_on"), Client),
        ("clients/velo-savoie/client.yaml", ("network", "blocklist", 0, "added_on"), Client),
    ],
)
def test_a_date_that_is_not_yyyy_mm_dd_is_refused_by_model_and_schema(
    rel: str, where: tuple[Any, ...], model: type[BaseModel], text: str
) -> None:
    data = _changed(rel, where, text)
    assert not schema_accepts("client.schema.json", data)
    errors = model_errors(model, data)
    assert errors is not None
    assert [e["loc"][: len(where)] for e in errors] == [where]
    assert "YYYY-MM-DD" in errors[0]["msg"]


def test_a_date_written_as_a_number_in_quotes_is_a_finding_at_its_line(
    repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo_copy / "clients/velo-savoie/client.yaml"
    path.write_text(path.read_text().replace("notified_on: 2026-10-20", "notified_on: '0'"))
    assert main(["validate", "--no-cache", "--format", "json", "--repo", str(repo_copy)]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    line = path.read_text().splitlines().index("    - notified_on: '0'") + 1
    assert [(f["rule"], f["file"], f["line"]) for f in findings] == [
        ("RUN001", "clients/velo-savoie/client.yaml", 1),  # the contract rules did not run
        ("SCH002", "clients/velo-savoie/client.yaml", line),
    ]
    assert "YYYY-MM-DD" in findings[1]["message"]


def _example(rel: str) -> Any:
    data, _ = load((PROJECT / rel).read_text())
    return data


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("ssh", "port"), 22.0),  # an integral float: JSON Schema's "integer" takes it
        (("firewall", "open_ports", 0, "sources", 0), "203.0.113.7/24"),  # host bits set
        (("firewall", "open_ports", 0, "port"), "90-80"),  # a range from high to low
    ],
)
def test_known_divergences_are_the_model_being_stricter(where: tuple[Any, ...], value: Any) -> None:
    data = _example("clients/alpine-books/servers/shop1.yaml")
    node = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    assert schema_accepts("server.schema.json", data)
    assert model_errors(Server, data)
