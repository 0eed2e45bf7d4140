"""Models of documents with invalid sections: every valid section typed, the others unavailable.

A schema error in one section of a file must not hide the CGV rules about the other sections
(a typo in `mail` must not hide a 3-day backup retention). `validate_sections` validates a
document; when that fails it drops the unknown fields (already reported as SCH001), then
replaces each section that still fails by an `Unavailable` marker and validates the rest. Any
use of a marker (an attribute, iteration, truth value, comparison...) raises
`SectionUnavailable`, which the rule runner catches: a rule that reads an invalid section is
reported as not run, with the section, instead of judging data that is not there. Sections are
fields of the document's model and of the models nested in them (e.g. `contract.root_access`);
a list is one section.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar, Union

from pydantic import BaseModel, ValidationError, create_model

M = TypeVar("M", bound=BaseModel)


class SectionUnavailable(Exception):
    """A rule used a section that failed validation; `where` names it for the report."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


class Unavailable:
    """Stands for a section, file or setting that failed validation (reported elsewhere)."""

    __slots__ = ("_where",)

    def __init__(self, where: str) -> None:
        object.__setattr__(self, "_where", where)

    @property
    def where(self) -> str:
        return str(object.__getattribute__(self, "_where"))

    def _refuse(self, *_: Any, **__: Any) -> NoReturn:
        raise SectionUnavailable(self.where)

    def __getattr__(self, name: str) -> NoReturn:
        raise SectionUnavailable(self.where)

    def __repr__(self) -> str:
        return f"Unavailable({self.where!r})"

    __iter__ = __len__ = __bool__ = __getitem__ = __contains__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _refuse
    __int__ = __float__ = __index__ = __call__ = __setattr__ = _refuse
    __add__ = __sub__ = __mul__ = __truediv__ = __or__ = __and__ = __radd__ = _refuse
    __rsub__ = __rmul__ = __ror__ = __rand__ = __format__ = keys = items = values = _refuse
    get = _refuse


def is_unavailable(value: object) -> bool:
    return type(value) is Unavailable


def as_json(data: Any) -> str:
    """The JSON text of loaded YAML data, as a JSON Schema validator sees it."""
    try:
        return json.dumps(data, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError):  # keys JSON has no form for (from YAML complex keys)
        return json.dumps(_string_keys(data), default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):  # dates and datetimes
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(map(str, value))
    return str(value)


def _string_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(k): _string_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_string_keys(v) for v in data]
    return data


def validate_sections(
    model: type[M], data: Any, errors: list[Any], label: str
) -> tuple[M | None, list[str]]:
    """The model of `data` (whose full validation gave `errors`) with each invalid section
    `Unavailable`, and the names of those sections (`label` names the file); (None, []) when
    even that fails (e.g. the document is not a mapping)."""
    if not isinstance(data, dict):
        return None, []
    extras = [error["loc"] for error in errors if error["type"] == "extra_forbidden"]
    cleaned = copy.deepcopy(data) if extras else data
    for loc in extras:
        _drop(cleaned, loc)
    tree: dict[str, Any] = {}
    for loc in _sections([error for error in errors if error["type"] != "extra_forbidden"]):
        _add(model, tree, loc)
    for _ in range(3):  # unknown keys dropped; then each failing section; then its parents
        try:
            instance = _partial(model, _freeze(tree)).model_validate_json(
                as_json(_without(cleaned, tree)), strict=True
            )
        except ValidationError as exc:
            grown = False
            for loc in _sections(exc.errors(include_url=False, include_input=False)):
                grown |= _add(model, tree, loc)
            if not grown:
                return None, []
            continue
        except Exception:
            return None, []
        names: list[str] = []
        _mark(instance, tree, label, (), names)
        return instance, names
    return None, []


def _sections(errors: list[Any]) -> set[tuple[Any, ...]]:
    """The distinct field paths of `errors`: each location up to its first list index or
    union tag (thousands of errors in one list are one section)."""
    out: set[tuple[Any, ...]] = set()
    for error in errors:
        loc = error["loc"]
        end = 0
        while end < len(loc) and loc[end].__class__ is str and loc[end].isidentifier():
            end += 1
        if end:
            out.add(loc[:end])
    return out


def _drop(data: Any, loc: tuple[Any, ...]) -> None:
    """Remove the unknown key at `loc` (pydantic's location, possibly with union tags)."""
    node = data
    for part in loc[:-1]:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
    if isinstance(node, dict):
        node.pop(loc[-1], None)


@functools.cache
def _field_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The model type of field `name` of `model` (also through `X | None`), if it is one."""
    field = model.model_fields.get(name)
    if field is None:
        return None
    annotation = field.annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _add(model: type[BaseModel], tree: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    """Mark the section `loc` is in as broken; False if nothing new (or a root error).

    A section is a field holding a model or a list; a wrong scalar makes its whole section
    unavailable (a rule may test a scalar by identity, `x is not True`, which no marker can
    intercept), except at the top of the document, where the scalar alone is marked."""
    node: dict[str, Any] = tree
    parent: tuple[dict[str, Any], str] | None = None
    current: type[BaseModel] = model
    for index, part in enumerate(loc):
        if not isinstance(part, str) or part not in current.model_fields:
            return False
        if part in node and node[part] is None:
            return False  # already broken whole
        nested = _field_model(current, part)
        if nested is not None and index < len(loc) - 1 and node.get(part, {}) is not None:
            parent = (node, part)
            node = node.setdefault(part, {})
            current = nested
            continue
        if parent is not None and nested is None and not _is_collection(current, part):
            node, part = parent  # a scalar of a section: the section
        if part in node and node[part] is None:
            return False
        node[part] = None
        return True
    return False


@functools.cache
def _is_collection(model: type[BaseModel], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    origins = {typing.get_origin(a) for a in (annotation, *typing.get_args(annotation))}
    return bool(origins & {list, tuple, dict, set, frozenset})


def _freeze(tree: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, None if v is None else _freeze(v)) for k, v in tree.items()))


@functools.cache
def _partial(model: type[M], tree: tuple[tuple[str, Any], ...]) -> type[M]:
    """`model` with the broken fields of `tree` optional and untyped, recursively."""
    if not tree:
        return model
    fields: dict[str, Any] = {}
    for name, sub in tree:
        field = model.model_fields[name]
        if sub is None:
            fields[name] = (Any, None)
        else:
            nested = _field_model(model, name)
            assert nested is not None
            optional = field.annotation is not nested
            partial = _partial(nested, sub)
            annotation: Any = partial | None if optional else partial
            default = field.default if field.default_factory is None else None
            fields[name] = (annotation, default)
    # Through an untyped factory: pydantic's stubs and mypy plugin type create_model's result
    # differently across versions (a cast is needed with some and redundant with others).
    factory: Callable[..., Any] = create_model
    made: type[M] = factory(model.__name__, __base__=model, __module__=model.__module__, **fields)
    return made


def _without(data: Any, tree: Mapping[str, Any]) -> Any:
    if not tree or not isinstance(data, dict):
        return data
    out = dict(data)
    for name, sub in tree.items():
        if sub is None:
            out.pop(name, None)
        elif name in out:
            out[name] = _without(out[name], sub)
    return out


def _mark(
    instance: Any, tree: Mapping[str, Any], label: str, path: tuple[str, ...], names: list[str]
) -> None:
    for name, sub in tree.items():
        where = ".".join((*path, name))
        if sub is None:
            instance.__dict__[name] = Unavailable(f"{label} `{where}`")
            names.append(where)
        else:
            child = instance.__dict__.get(name)
            if child is not None:
                _mark(child, sub, label, (*path, name), names)
