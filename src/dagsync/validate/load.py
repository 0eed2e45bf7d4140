"""Typed access to the repository for commands that need models, not findings."""

from __future__ import annotations

from pathlib import Path

from dagsync.errors import DagsyncError
from dagsync.model.client import Client
from dagsync.model.policy import CgvPolicy
from dagsync.validate.reading import Collector, load_policies, read_document, validate_model


def load_clients(root: Path) -> list[tuple[Client, CgvPolicy]]:
    """Every client with the CGV policy its contract names; refuses an invalid repository."""
    out = Collector(None)
    policies = load_policies(root, out)
    clients: list[tuple[Client, CgvPolicy]] = []
    for path in sorted((root / "clients").glob("*/client.yaml")):
        rel = path.relative_to(root).as_posix()
        doc = read_document(root, rel, out)
        client = validate_model(Client, doc, out) if doc else None
        if client is None:
            continue
        policy = policies.cgv.get(client.contract.cgv_version)
        if policy is None:
            out.at(rel, 1, 1, "REP009", f"unknown CGV version {client.contract.cgv_version}")
            continue
        clients.append((client, policy))
    if out.findings:
        first = out.findings[0]
        raise DagsyncError(
            f"{len(out.findings)} problem(s) in the repository, first at {first.file}:{first.line}:"
            f"{first.column}: {first.message}; run `dagsync validate` and fix them first"
        )
    return clients
