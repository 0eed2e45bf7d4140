"""Validation of a whole repository: discover files, check clients (cached, in parallel),
then the repository-wide invariants. Nothing here prints."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import RepositoryError
from .findings import Finding, Result, Severity

CACHE_DIR = ".dagsync-cache"
_SERVER_GLOB = "servers/*.yaml"


@dataclass(frozen=True)
class Layout:
    """The files of the repository, sorted into clients, and files that belong nowhere."""

    clients: dict[str, Any]  # client id -> check.ClientFiles
    stray: tuple[str, ...]


def discover(root: Path) -> Layout:
    from .check import ClientFiles

    base = root / "clients"
    if not base.is_dir():
        raise RepositoryError(f"{root} has no clients/ folder: is --repo the configuration repository?")
    clients: dict[str, ClientFiles] = {}
    known: set[str] = set()
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        client = folder / "client.yaml"
        requests = folder / "requests.yaml"
        servers = tuple(sorted(p.relative_to(root).as_posix() for p in folder.glob(_SERVER_GLOB)))
        files = ClientFiles(
            client_id=folder.name,
            client=client.relative_to(root).as_posix() if client.is_file() else None,
            requests=requests.relative_to(root).as_posix() if requests.is_file() else None,
            servers=servers,
        )
        clients[folder.name] = files
        known.update(f for f in (files.client, files.requests, *servers) if f)
    stray = tuple(
        sorted(
            rel for p in base.rglob("*")
            if p.is_file() and (rel := p.relative_to(root).as_posix()) not in known
        )
    )
    return Layout(clients, stray)


def _digest(root: Path, rels: Iterable[str], salt: str) -> str:
    h = hashlib.sha256(salt.encode())
    for rel in rels:
        h.update(rel.encode() + b"\0")
        h.update((root / rel).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _policy_salt(root: Path, today: dt.date) -> str:
    from .rules.registry import RULES

    rels = sorted(p.relative_to(root).as_posix() for p in (root / "policies").rglob("*.yaml"))
    rules = ",".join(r.id for r in RULES)
    return _digest(root, rels, f"{__version__}|{today.isoformat()}|{rules}")


def _client_rels(files: Any) -> list[str]:
    return [f for f in (files.client, files.requests, *files.servers) if f]


def _check_batch(root: str, batch: list[Any], today: str) -> list[tuple[str, Any]]:
    from .check import Collector, check_client, load_policies

    policies = load_policies(Path(root), Collector(None))
    day = dt.date.fromisoformat(today)
    return [(files.client_id, check_client(Path(root), files, policies, day)) for files in batch]


class Cache:
    """Per-client results keyed by a hash of the client's files, the policies and dagsync."""

    def __init__(self, root: Path, enabled: bool) -> None:
        self.dir = root / CACHE_DIR / "v1"
        self.enabled = enabled

    def get(self, client_id: str, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        path = self.dir / f"{client_id}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("key") == key else None

    def put(self, client_id: str, key: str, payload: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / f".{client_id}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps({"key": key, **payload}))
            tmp.replace(self.dir / f"{client_id}.json")
        except OSError:
            self.enabled = False  # a read-only checkout still validates, just uncached


def _payload(report: Any) -> dict[str, Any]:
    return {
        "findings": [f.as_json() for f in report.findings],
        "index": asdict(report.index),
    }


def validate_repository(
    root: Path,
    *,
    only: Sequence[str] | None = None,
    today: dt.date | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
) -> Result:
    """Validate the clients named in `only` (all by default) and every repository invariant."""
    from .check import Collector, index_client, load_policies

    root = root.resolve()
    day = today or dt.date.today()
    layout = discover(root)
    policy_out = Collector(None)
    load_policies(root, policy_out)
    salt = _policy_salt(root, day)
    cache = Cache(root, use_cache)
    wanted = sorted(layout.clients) if only is None else [c for c in sorted(set(only)) if c in layout.clients]
    payloads: dict[str, dict[str, Any]] = {}
    keys: dict[str, str] = {}
    todo = []
    wanted_set = set(wanted)
    for client_id in sorted(layout.clients):
        files = layout.clients[client_id]
        keys[client_id] = _digest(root, _client_rels(files), salt)
        hit = cache.get(client_id, keys[client_id])
        if hit is not None:
            payloads[client_id] = hit
        elif client_id in wanted_set:
            todo.append(files)
        else:
            payloads[client_id] = {"findings": [], "index": asdict(index_client(root, files))}
    for client_id, report in _run(root, todo, day, jobs):
        payloads[client_id] = _payload(report)
        cache.put(client_id, keys[client_id], payloads[client_id])
    findings = list(policy_out.findings)
    for client_id in wanted:
        if client_id in payloads:
            findings.extend(Finding.from_json(f) for f in payloads[client_id]["findings"])
    findings.extend(_stray(layout))
    findings.extend(_missing_files(layout, wanted))
    from .invariants import repository_findings

    findings.extend(repository_findings(root, layout, payloads))
    files = sum(len(_client_rels(layout.clients[c])) for c in wanted) + len(layout.stray)
    return Result(tuple(sorted(set(findings))), files, len(wanted), tuple(wanted))


def _run(root: Path, todo: list[Any], day: dt.date, jobs: int | None) -> list[tuple[str, Any]]:
    if not todo:
        return []
    workers = jobs or min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(todo) < 8:
        return _check_batch(str(root), todo, day.isoformat())
    size = max(1, min(200, len(todo) // (workers * 4) or 1))
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    results: list[tuple[str, Any]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_check_batch, [str(root)] * len(batches), batches,
                             [day.isoformat()] * len(batches)):
            results.extend(part)
    return results


def _stray(layout: Layout) -> list[Finding]:
    return [
        Finding(rel, 1, 1, "REP003", Severity.ERROR,
                "this file is not part of the layout (clients/<id>/client.yaml, requests.yaml, "
                "servers/<name>.yaml): move or delete it", client=rel.split("/")[1])
        for rel in layout.stray
    ]


def _missing_files(layout: Layout, wanted: Sequence[str]) -> list[Finding]:
    out = []
    for client_id in wanted:
        files = layout.clients[client_id]
        for name, present in (("client.yaml", files.client), ("requests.yaml", files.requests)):
            if present is None:
                out.append(Finding(f"clients/{client_id}/{name}", 1, 1, "REP004", Severity.ERROR,
                                   f"clients/{client_id}/ has no {name}: create it",
                                   client=client_id))
    return out
