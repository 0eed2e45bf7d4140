"""Validation of a whole repository: discover files, check clients (cached, in parallel),
then the repository-wide invariants. Nothing here prints.

Speed matters (CI and pre-commit run this on every change), so this module stays light:
pydantic, ruamel and the rules are imported only when a client has to be checked. A client's
result is reused while its files' content hashes, the policies, the day and dagsync's own code
are unchanged (`Cache`, in `cache.py`); misses are checked in worker processes, in batches
(`workers.py`).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from dagsync.config.document import ClientFiles, ClientIndex, read_regular
from dagsync.errors import RepositoryError, UsageError
from dagsync.findings import Finding, Result, Severity
from dagsync.validate.involved import Meetings
from dagsync.validate.speed.cache import (
    CACHE_DIR,
    Cache,
    ClientEntry,
    client_digest,
    client_stats,
    run_salt,
)
from dagsync.validate.speed.workers import Standby, start_checks, worker_count

__all__ = [
    "CACHE_DIR",
    "Cache",
    "ClientEntry",
    "Layout",
    "client_digest",
    "client_stats",
    "discover",
    "run_salt",
    "validate_repository",
]


@dataclass(frozen=True)
class Layout:
    """The files of the repository, sorted into clients, and files that belong nowhere."""

    clients: dict[str, ClientFiles]
    stray: tuple[str, ...]


def discover(root: Path) -> Layout:
    """Sort the files under clients/ into clients; everything else there is stray."""
    base = root / "clients"
    if not base.is_dir():
        raise RepositoryError(
            f"{root} has no clients/ folder: is --repo the configuration repository?"
        )
    clients: dict[str, ClientFiles] = {}
    stray: list[str] = []
    for entry in _entries(str(base)):
        rel = f"clients/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            clients[entry.name] = _client_files(entry, rel, stray)
        else:
            stray.append(rel)
    return Layout(clients, tuple(sorted(stray)))


def _entries(folder: str) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _client_files(folder: os.DirEntry[str], rel: str, stray: list[str]) -> ClientFiles:
    found: dict[str, str] = {}
    servers: list[str] = []
    for entry in _entries(folder.path):
        path = f"{rel}/{entry.name}"
        if entry.name in ("client.yaml", "requests.yaml") and entry.is_file(follow_symlinks=False):
            found[entry.name] = path
        elif entry.name == "servers" and entry.is_dir(follow_symlinks=False):
            servers.extend(_server_files(entry.path, path, stray))
        elif entry.is_dir(follow_symlinks=False):
            stray.extend(_all_files(entry.path, path))
        else:
            stray.append(path)
    return ClientFiles(
        folder.name, found.get("client.yaml"), found.get("requests.yaml"), tuple(servers)
    )


def _server_files(folder: str, rel: str, stray: list[str]) -> list[str]:
    servers = []
    for entry in _entries(folder):
        path = f"{rel}/{entry.name}"
        if (
            entry.name.endswith(".yaml")
            and not entry.name.startswith(".")
            and entry.is_file(follow_symlinks=False)
        ):
            servers.append(path)
        elif entry.is_dir(follow_symlinks=False):
            stray.extend(_all_files(entry.path, path))
        else:
            stray.append(path)
    return servers


def _all_files(folder: str, rel: str) -> list[str]:
    out = []
    for entry in _entries(folder):
        path = f"{rel}/{entry.name}"
        out.extend(_all_files(entry.path, path) if entry.is_dir(follow_symlinks=False) else [path])
    return out


# --- the run -----------------------------------------------------------------------------------


def _policy_findings(root: Path, cache: Cache) -> list[Finding]:
    cached = cache.policy_findings()
    if cached is not None:
        return cached
    # lazy: importing it here keeps annotated_types, cython_runtime, dagsync.config (+7) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    out = Collector(None)
    load_policies(root, out)
    findings = out.finish()
    cache.set_policy_findings(findings)
    return findings


def _wanted(layout: Layout, only: Sequence[str] | None) -> list[str]:
    if only is None:
        return sorted(layout.clients)
    unknown = sorted(set(only) - set(layout.clients))
    if unknown:
        raise UsageError("no such client folder: " + ", ".join(f"clients/{c}/" for c in unknown))
    return sorted(set(only))


def _lookup(
    root: Path, cache: Cache, layout: Layout, wanted: set[str]
) -> tuple[dict[str, ClientEntry], list[ClientFiles]]:
    """Cached entries of every client, and the wanted clients that must be checked."""
    entries: dict[str, ClientEntry] = {}
    todo: list[ClientFiles] = []
    index_only: list[ClientFiles] = []
    for client_id, files in layout.clients.items():
        entry = cache.lookup(root, files)
        if entry is not None:
            entries[client_id] = entry
        elif client_id in wanted:
            todo.append(files)
        else:
            index_only.append(files)
    for entry in _index(root, index_only):
        entries[entry.client_id] = entry
    return entries, todo


def _index_batch(root: str, batch: list[ClientFiles]) -> list[ClientEntry]:
    """The identifiers of clients that are not validated (for the repository invariants)."""
    # lazy: importing it here keeps dagsync.validate out of this module's load
    from dagsync.validate.indexing import index_client

    return [
        ClientEntry.of(files.client_id, "", None, [], index_client(Path(root), files))
        for files in batch
    ]


def _index(root: Path, files: list[ClientFiles]) -> list[ClientEntry]:
    """Index the clients a --changed-since run does not validate. A fresh CI clone has no
    cache: the quick scan reads 2,000 clients in a fraction of a second, in this process
    (a pool's workers would first spend longer importing the checker)."""
    return _index_batch(str(root), files)


def validate_repository(
    root: Path,
    *,
    only: Sequence[str] | None = None,
    today: dt.date | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    changed: Collection[str] | None = None,
) -> Result:
    """Validate the clients named in `only` (all by default) and every repository invariant;
    `changed` (repository-relative paths) anchors repository-wide findings on changed files."""
    root = root.resolve()
    day = today or dt.date.today()
    early = use_cache and Cache.exists(root) and worker_count(jobs) > 1
    standby = Standby(root, day) if early else None
    try:
        return _validate(root, only, day, jobs, use_cache, standby, changed)
    finally:
        if standby is not None:
            standby.stop()


def _validate(
    root: Path,
    only: Sequence[str] | None,
    day: dt.date,
    jobs: int | None,
    use_cache: bool,
    standby: Standby | None,
    changed: Collection[str] | None = None,
) -> Result:
    layout = discover(root)
    wanted = _wanted(layout, only)
    cache = Cache.open(root, run_salt(root, day) if use_cache else None)
    if standby is not None and not cache.warm:
        standby.stop()  # most clients will be checked: the pool does it
        standby = None
    findings = list(_policy_findings(root, cache))
    entries, todo = _lookup(root, cache, layout, set(wanted))
    wait = start_checks(root, todo, day, jobs, cache.enabled, standby)
    # While the changed clients are checked: what does not depend on their results.
    findings.extend(_stray(root, layout))
    findings.extend(_missing_files(layout, wanted))
    # lazy: importing it here keeps dagsync.gitops, dagsync.validate out of this module's load
    from dagsync.validate.trackedstate import tracked_credential_findings, tracked_state_findings

    findings.extend(tracked_state_findings(root))
    findings.extend(tracked_credential_findings(root))
    meetings = Meetings()
    for client_id, entry in entries.items():
        meetings.add(client_id, entry.index_json)
    meetings.settle()
    for entry in wait():
        entries[entry.client_id] = entry
        meetings.add(entry.client_id, entry.index_json)
        cache.store(entry)
    cache.save()
    for client_id in wanted:
        findings.extend(entries[client_id].findings())
    # lazy: importing it here keeps dagsync.validate out of this module's load
    from dagsync.validate.invariants import repository_findings

    # Only the clients that meet another can be in a repository-wide finding (`involved`).
    indexes: dict[str, ClientIndex] = {c: entries[c].index() for c in meetings.involved()}
    findings.extend(repository_findings(root, indexes, changed))
    files = sum(len(layout.clients[c].all) for c in wanted) + len(layout.stray)
    return Result(tuple(sorted(set(findings))), files, len(wanted), tuple(wanted))


def _stray(root: Path, layout: Layout) -> list[Finding]:
    """REP003 at each stray file, and the secrets in them (ACC004 scans every file)."""
    found = _stray_secrets(root, layout.stray) if layout.stray else []
    return found + [
        Finding(
            rel,
            1,
            1,
            "REP003",
            Severity.ERROR,
            (
                "this is a symbolic link or a special file, which dagsync never reads (a link "
                "could point outside the repository): replace it by the file itself"
                if _not_regular(root / rel)
                else "this file is not part of the layout (clients/<id>/client.yaml, "
                "requests.yaml, servers/<name>.yaml): move or delete it"
            ),
            client=rel.split("/")[1] if rel.count("/") > 1 else None,
        )
        for rel in layout.stray
    ]


def _not_regular(path: Path) -> bool:
    try:
        return not stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return True


def _stray_secrets(root: Path, stray: Sequence[str]) -> list[Finding]:
    # lazy: importing it here keeps annotated_types, cython_runtime, dagsync.config (+7) out of this module's load
    from dagsync.validate.reading import MAX_SCAN_BYTES, Collector, scan_secrets

    found: list[Finding] = []
    for rel in stray:
        try:
            raw = read_regular(root / rel, MAX_SCAN_BYTES)
        except OSError:
            continue  # REP003 says the file is there; an unreadable file shows no secret
        if len(raw) > MAX_SCAN_BYTES or b"\0" in raw[:8192]:
            continue  # binary or huge: not configuration text
        out = Collector(rel.split("/")[1] if rel.count("/") > 1 else None)
        scan_secrets(rel, raw.decode("utf-8", errors="replace"), out)
        found.extend(out.finish())
    return found


def _missing_files(layout: Layout, wanted: Sequence[str]) -> list[Finding]:
    out = []
    for client_id in wanted:
        files = layout.clients[client_id]
        for name, present in (("client.yaml", files.client), ("requests.yaml", files.requests)):
            if present is None:
                out.append(
                    Finding(
                        f"clients/{client_id}/{name}",
                        1,
                        1,
                        "REP004",
                        Severity.ERROR,
                        f"clients/{client_id}/ has no {name}: create it",
                        client=client_id,
                    )
                )
    return out
