"""Editing a configuration file in place, keeping its comments and formatting (ruamel round
trip).  It imports ruamel.yaml, as `yamlio.py` and `yamlpositions.py` do (which only read).

An edit is made only if the untouched file survives a round trip byte for byte with the
indentation detected, so a file is never silently reformatted.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from dagsync.errors import DagsyncError

# (mapping, sequence, offset) styles tried in turn; the first that reproduces the file wins.
_INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0))


class EditError(DagsyncError):
    """The file cannot be edited without reformatting it, or does not have the expected shape."""


def _yaml(indent: tuple[int, int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _load_faithfully(text: str) -> tuple[YAML, Any]:
    for indent in _INDENTS:
        yaml = _yaml(indent)
        try:
            data = yaml.load(text)
        except YAMLError as exc:
            raise EditError(f"not valid YAML: {exc}") from exc
        if _dump(yaml, data) == text:
            return yaml, data
    raise EditError("this file would be reformatted by an automatic edit: edit it by hand")


def append_to_list(text: str, path: tuple[str, ...], item: Mapping[str, Any]) -> str:
    """`text` with `item` appended to the list at `path` (mappings and list created if absent)."""
    yaml, data = _load_faithfully(text)
    node = data
    for index, key in enumerate(path):
        if not isinstance(node, CommentedMap):
            raise EditError(f"`{'.'.join(path[:index])}` is not a mapping")
        if key not in node:
            node[key] = CommentedSeq() if index == len(path) - 1 else CommentedMap()
        node = node[key]
    if not isinstance(node, CommentedSeq):
        raise EditError(f"`{'.'.join(path)}` is not a list")
    node.append(CommentedMap(item))
    return _dump(yaml, data)
