"""The configuration repository as validated models, for the commands that act on it.

`load_repository` refuses a repository with validation errors: plan and apply never act on
a configuration that `dagsync validate` would reject.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dagsync.errors import DagsyncError, RepositoryError
from dagsync.model.client import Client
from dagsync.model.policy import DagSettings
from dagsync.model.requests import Request, Requests
from dagsync.model.server import Server


@dataclass(frozen=True)
class ClientConfig:
    """One client with its servers, sorted by server name."""

    client: Client
    servers: tuple[Server, ...]
    requests: tuple[Request, ...] = ()  # clients/<id>/requests.yaml, for the plan's reviewers

    @property
    def id(self) -> str:
        return self.client.id

    def request_summary(self, request_id: str) -> str | None:
        return next((r.summary for r in self.requests if r.id == request_id), None)


@dataclass(frozen=True)
class Repository:
    """Every client of the repository and the company settings of `policies/dag.yaml`."""

    root: Path
    settings: DagSettings
    clients: tuple[ClientConfig, ...]

    def client(self, client_id: str) -> ClientConfig:
        for config in self.clients:
            if config.id == client_id:
                return config
        known = ", ".join(c.id for c in self.clients) or "none"
        raise DagsyncError(f"no client `{client_id}` in {self.root}/clients (known: {known})")

    def servers(self) -> Iterator[tuple[ClientConfig, Server]]:
        for config in self.clients:
            for server in config.servers:
                yield config, server


def load_repository(root: Path, *, validate: bool = True) -> Repository:
    """Validate the repository (unless told not to), then load its models."""
    root = root.resolve()
    if validate:
        refuse_invalid(root)
    # lazy: importing it here keeps cython_runtime, dagsync.config, dagsync.findings (+3) out of this module's load
    from dagsync.validate.reading import Collector, load_policies, read_document, validate_model

    out = Collector(None)
    policies = load_policies(root, out)
    if policies.dag is None:
        raise RepositoryError(
            f"{root}/policies/dag.yaml is missing or invalid: run `dagsync validate`"
        )
    clients: list[ClientConfig] = []
    for folder in sorted(p for p in (root / "clients").iterdir() if p.is_dir()):
        doc = read_document(root, f"clients/{folder.name}/client.yaml", out)
        client = validate_model(Client, doc, out) if doc else None
        servers = []
        for path in sorted(folder.glob("servers/*.yaml")):
            rel = path.relative_to(root).as_posix()
            server_doc = read_document(root, rel, out)
            server = validate_model(Server, server_doc, out) if server_doc else None
            if server is not None:
                servers.append(server)
        requests: tuple[Request, ...] = ()
        if (folder / "requests.yaml").is_file():
            requests_doc = read_document(root, f"clients/{folder.name}/requests.yaml", out)
            book = validate_model(Requests, requests_doc, out) if requests_doc else None
            requests = tuple(book.requests) if book is not None else ()
        if client is not None:
            ordered = tuple(sorted(servers, key=lambda s: s.name))
            clients.append(ClientConfig(client, ordered, requests))
    if out.findings:
        first = out.findings[0]
        raise RepositoryError(
            f"{first.file}:{first.line}:{first.column}: {first.message}; run `dagsync validate`"
        )
    return Repository(root, policies.dag, tuple(clients))


def refuse_invalid(root: Path) -> None:
    """Raise RepositoryError when `dagsync validate` finds an error in the repository."""
    # lazy: importing it here keeps dagsync.config, dagsync.findings, dagsync.validate out of this module's load
    from dagsync.validate.run import validate_repository

    result = validate_repository(root)
    if result.exit_code == 0:
        return
    errors = [f for f in result.findings if f.severity == "error"]
    first = errors[0]
    raise RepositoryError(
        f"the repository has {len(errors)} validation error(s), first at {first.file}:"
        f"{first.line}:{first.column}: {first.message}; run `dagsync validate` and fix them "
        "before planning or applying"
    )
