"""JSON Schemas (draft 2020-12) generated from the model, for editors and CI.

The schemas say what the model accepts as dagsync validates it (pydantic in strict JSON mode,
see `check.validate_model`), so that an editor or `check-jsonschema` and `dagsync validate`
agree on every file: amounts are numbers (never quoted text), defaults have the type of their
field, and IP networks, which JSON Schema has no format for, carry a pattern. What a schema
cannot say (a network's host bits, a port range's order, rules across fields) only dagsync
checks.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from dagsync.model.base import AMOUNT_TEXT_PATTERN
from dagsync.model.client import Client
from dagsync.model.policy import CgvPolicy, DagSettings
from dagsync.model.requests import Requests
from dagsync.model.server import Server

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://dagsync.dagtechnologies.example/schemas/"

SCHEMAS: dict[str, type[BaseModel]] = {
    "client.schema.json": Client,
    "server.schema.json": Server,
    "requests.schema.json": Requests,
    "cgv-policy.schema.json": CgvPolicy,
    "dag-settings.schema.json": DagSettings,
}

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
NETWORK_PATTERNS = {
    # an address, or address/prefix, or address/netmask (all accepted by `ipaddress`)
    "ipv4network": rf"^{_IPV4}(/(0*(3[0-2]|[12]?[0-9])|{_IPV4}))?$",
    # a loose shape; `ipaddress` decides the rest
    "ipv6network": r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[^/]+)?(/0*(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?$",
}


def _amount_text_pattern(schema: core_schema.DecimalSchema) -> str:
    """The text form of an amount (see `model.base.Amount`) under its bounds, as a pattern."""
    bounds = {k: schema.get(k) for k in ("gt", "ge", "lt", "le", "multiple_of")}
    if bounds == {"gt": 0, "ge": None, "lt": None, "le": None, "multiple_of": None}:
        return r"^(?=[0-9.]*[1-9])[0-9]+(\.[0-9]+)?$"
    if bounds == {"gt": None, "ge": 0, "lt": None, "le": None, "multiple_of": None}:
        return r"^[0-9]+(\.[0-9]+)?$"
    if all(v is None for v in bounds.values()):
        return AMOUNT_TEXT_PATTERN
    raise ValueError(f"no JSON Schema pattern for amounts bounded by {bounds}: add one here")


class _Generator(GenerateJsonSchema):
    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        """An amount: a number within its bounds, or its plain decimal text."""
        number: JsonSchemaValue = {"type": "number"}
        self.update_with_validations(number, schema, self.ValidationsMapping.numeric)
        number = {k: float(v) if isinstance(v, Decimal) else v for k, v in number.items()}
        return {"anyOf": [number, {"type": "string", "pattern": _amount_text_pattern(schema)}]}

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, Decimal):
            return int(dft) if dft == dft.to_integral_value() else float(dft)
        return super().encode_default(dft)


def _with_network_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _with_network_patterns(v) for k, v in node.items()}
        pattern = NETWORK_PATTERNS.get(out.get("format", ""))
        if pattern is not None and "pattern" not in out:
            out["pattern"] = pattern
        return out
    if isinstance(node, list):
        return [_with_network_patterns(v) for v in node]
    return node


def schema_for(model: type[BaseModel], name: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation", schema_generator=_Generator)
    return {"$schema": DRAFT, "$id": BASE_ID + name, **_with_network_patterns(body)}


def render(name: str) -> str:
    return json.dumps(schema_for(SCHEMAS[name], name), indent=2, ensure_ascii=False) + "\n"


def stale(root: Path) -> list[str]:
    """Names of schema files that are missing or differ from what the model generates."""
    out = []
    for name in SCHEMAS:
        path = root / "schemas" / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            out.append(name)
    return out


def write(root: Path) -> list[str]:
    """Regenerate every schema; return the names that changed."""
    changed = stale(root)
    (root / "schemas").mkdir(exist_ok=True)
    for name in changed:
        (root / "schemas" / name).write_text(render(name), encoding="utf-8")
    return changed
