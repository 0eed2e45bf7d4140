"""A private copy of the example repository to break, and the whole findings of one client
(rule, file, line, column, server, message), for the rule tests that kill mutants
(`tests/test_rule_findings_*.py`; `bench/mutation.py rules/AREA`)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagsync.model.client import Client
from dagsync.model.requests import Requests
from dagsync.model.server import Server
from dagsync.rules.base import ClientContext, ServerEntry
from dagsync.validate.reading import Collector, load_policies, read_document, validate_model
from dagsync.validate.run import validate_repository

PROJECT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 12, 1)

Seen = tuple[str, str, int, int, str | None, str]


def copy_repository(into: Path) -> Path:
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, into / folder)
    return into


@contextmanager
def restored(root: Path) -> Iterator[Path]:
    """`root`'s clients/ and policies/ as they are now, once the block is done."""
    saved = {
        p: p.read_bytes()
        for f in ("clients", "policies")
        for p in (root / f).rglob("*")
        if p.is_file()
    }
    try:
        yield root
    finally:
        for folder in ("clients", "policies"):
            for path in (root / folder).rglob("*"):
                if path.is_file() and path not in saved:
                    path.unlink()
        for path, data in saved.items():
            path.write_bytes(data)


def edit(root: Path, rel: str, find: str, replace: str) -> None:
    path = root / rel
    text = path.read_text()
    assert text.count(find) == 1, f"{find!r} must occur once in {rel}"
    path.write_text(text.replace(find, replace))


def findings(root: Path, client: str | None, prefix: str) -> list[Seen]:
    only = [client] if client else None
    result = validate_repository(root, only=only, use_cache=False, today=TODAY)
    return [
        (f.rule, f.file, f.line, f.column, f.server, f.message)
        for f in result.findings
        if f.rule.startswith(prefix)
    ]


def context(root: Path, client: str, skip: str | None = None) -> ClientContext:
    """The context the checker gives the rules for `client` (every file readable), or, with
    `skip`, as if that server's file had failed to load."""
    out = Collector(client)
    policies = load_policies(root, out)
    folder = f"clients/{client}"
    client_doc = read_document(root, f"{folder}/client.yaml", out)
    requests_doc = read_document(root, f"{folder}/requests.yaml", out)
    assert client_doc is not None and requests_doc is not None and policies.dag is not None
    model = validate_model(Client, client_doc, out)
    requests = validate_model(Requests, requests_doc, out)
    assert model is not None and requests is not None
    servers = []
    for path in sorted((root / folder / "servers").glob("*.yaml")):
        doc = read_document(root, path.relative_to(root).as_posix(), out)
        server = validate_model(Server, doc, out) if doc else None
        assert server is not None and doc is not None
        if server.name != skip:
            servers.append(ServerEntry(server.name, server, doc))
    return ClientContext(
        client,
        model,
        client_doc,
        {r.id: r for r in requests.requests},
        requests_doc,
        tuple(servers),
        policies.cgv[model.contract.cgv_version],
        policies.dag,
        TODAY,
    )
