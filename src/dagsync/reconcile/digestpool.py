"""Many clients' digests at once: each client's part computed in worker processes (loading
and validating the models is the cost), then combined (`digests.combine`)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dagsync.errors import RepositoryError
from dagsync.model.client import Client
from dagsync.model.server import Server
from dagsync.reconcile.digests import ClientPart, client_part, combine
from dagsync.validate.repository import ClientConfig

_IN_PROCESS_BELOW = 50  # clients
_BATCH = 100
_WORKER: dict[str, Any] = {}


def load_client(root: Path, folder: str, out: Any) -> Any:
    """One client's `ClientConfig`, as `load_repository` reads it (None if unusable)."""
    # lazy: importing it here keeps dagsync.config, dagsync.findings, dagsync.model (+2) out of this module's load
    from dagsync.validate.reading import read_document, validate_model

    doc = read_document(root, f"clients/{folder}/client.yaml", out)
    client = validate_model(Client, doc, out) if doc else None
    servers = []
    for path in sorted((root / "clients" / folder).glob("servers/*.yaml")):
        server_doc = read_document(root, path.relative_to(root).as_posix(), out)
        server = validate_model(Server, server_doc, out) if server_doc else None
        if server is not None:
            servers.append(server)
    if client is None:
        return None
    return ClientConfig(client, tuple(sorted(servers, key=lambda s: s.name)))


def _init(root: str) -> None:
    # lazy: importing it here keeps dagsync.config, dagsync.findings, dagsync.model (+2) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    _WORKER["root"] = Path(root)
    _WORKER["policies"] = load_policies(Path(root), Collector(None))


def _batch(folders: list[str]) -> tuple[list[ClientPart], list[str]]:
    """The parts of some clients, and the first problem of any unreadable one."""
    # lazy: importing it here keeps dagsync.config, dagsync.findings, dagsync.model (+2) out of this module's load
    from dagsync.validate.reading import Collector

    root, policies = _WORKER["root"], _WORKER["policies"]
    parts, problems = [], []
    for folder in folders:
        out = Collector(None)
        config = load_client(root, folder, out)
        if out.findings:
            f = out.findings[0]
            problems.append(f"{f.file}:{f.line}:{f.column}: {f.message}")
        elif config is not None:
            parts.append(client_part(config, policies.dag, policies.cgv))
    return parts, problems


def digests_of(root: Path, jobs: int | None = None) -> dict[str, str]:
    """Every target's digest in the configuration at `root`, the same as
    `digests(load_repository(root))`, with the clients read and digested in worker processes
    when there are many.  Raises RepositoryError as `load_repository` does."""
    # lazy: importing it here keeps dagsync.config, dagsync.findings, dagsync.validate out of this module's load
    from dagsync.validate.speed.workers import worker_count

    root = root.resolve()
    folders = sorted(p.name for p in (root / "clients").iterdir() if p.is_dir())
    _init(str(root))
    policies = _WORKER["policies"]
    if policies.dag is None:
        raise RepositoryError(
            f"{root}/policies/dag.yaml is missing or invalid: run `dagsync validate`"
        )
    workers = worker_count(jobs)
    batches = [folders[i : i + _BATCH] for i in range(0, len(folders), _BATCH)]
    if len(folders) < _IN_PROCESS_BELOW or workers < 2:
        results = [_batch(b) for b in batches]
    else:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init, initargs=(str(root),)
        ) as pool:
            results = list(pool.map(_batch, batches))
    problems = [p for _, found in results for p in found]
    if problems:
        raise RepositoryError(f"{problems[0]}; run `dagsync validate`")
    return combine([part for found, _ in results for part in found], policies.dag)
