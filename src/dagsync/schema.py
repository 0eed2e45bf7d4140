"""JSON Schemas (draft 2020-12) generated from the model, for editors and CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .model import CgvPolicy, Client, DagSettings, Requests, Server

DRAFT = "https://json-schema.org/draft/2020-12/schema"

SCHEMAS: dict[str, type[BaseModel]] = {
    "client.schema.json": Client,
    "server.schema.json": Server,
    "requests.schema.json": Requests,
    "cgv-policy.schema.json": CgvPolicy,
    "dag-settings.schema.json": DagSettings,
}


def schema_for(model: type[BaseModel], name: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "$id": f"https://dagsync.dagtechnologies.example/schemas/{name}", **body}


def render(name: str) -> str:
    return json.dumps(schema_for(SCHEMAS[name], name), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


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
