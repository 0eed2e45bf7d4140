"""Validation of a whole repository: discover files, check clients (cached, in parallel),
then the repository-wide invariants. Nothing here prints.

Speed matters (CI and pre-commit run this on every change), so this module stays light:
pydantic, ruamel and the rules are imported only when a client has to be checked. A client's
result is reused while its files' content hashes, the policies, the day and dagsync's own code
are unchanged (`Cache`, one JSON file); misses are checked in worker processes, in batches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .document import ClientFiles, ClientIndex, Located
from .errors import RepositoryError, UsageError
from .findings import Finding, Result, Severity

CACHE_DIR = ".dagsync-cache"
CACHE_FILE = "v2/clients.json"
_RACY_NS = 2_000_000_000  # a file modified this recently is hashed, never trusted by its stat
_IN_PROCESS_BELOW = 24  # clients: fewer than this are checked without a process pool
_MAX_BATCH = 100


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
        if entry.is_dir():
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
        if entry.name in ("client.yaml", "requests.yaml") and entry.is_file():
            found[entry.name] = path
        elif entry.name == "servers" and entry.is_dir():
            servers.extend(_server_files(entry.path, path, stray))
        elif entry.is_dir():
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
        if entry.name.endswith(".yaml") and not entry.name.startswith(".") and entry.is_file():
            servers.append(path)
        elif entry.is_dir():
            stray.extend(_all_files(entry.path, path))
        else:
            stray.append(path)
    return servers


def _all_files(folder: str, rel: str) -> list[str]:
    out = []
    for entry in _entries(folder):
        path = f"{rel}/{entry.name}"
        out.extend(_all_files(entry.path, path) if entry.is_dir() else [path])
    return out


# --- the cache ----------------------------------------------------------------------------------


def _hash_files(h: Any, root: Path, rels: Iterable[str]) -> None:
    base = str(root)
    for rel in rels:
        h.update(rel.encode() + b"\0")
        with open(f"{base}/{rel}", "rb") as f:  # noqa: PTH123 - the hot path: no Path overhead
            h.update(f.read())
        h.update(b"\0")


def client_digest(root: Path, files: ClientFiles) -> str:
    """The content hash of a client's files (names and bytes)."""
    h = hashlib.sha256()
    try:
        _hash_files(h, root, files.all)
    except OSError:
        return ""  # unreadable: never a cache hit
    return h.hexdigest()


def client_stats(root: Path, files: ClientFiles, now_ns: int | None = None) -> str | None:
    """A fingerprint of the names, sizes, mtimes and inodes of a client's files: a shortcut to
    the content hash while none changed; None when a file changed so recently that its stat
    cannot be trusted (racy: a same-size edit within the clock's resolution)."""
    h = hashlib.blake2b(digest_size=16)
    base = str(root)
    recent = (now_ns or time.time_ns()) - _RACY_NS
    for rel in files.all:
        try:
            st = os.stat(f"{base}/{rel}")  # noqa: PTH116 - the hot path: no Path overhead
        except OSError:
            return None
        if st.st_mtime_ns > recent:
            return None
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0".encode())
    return h.hexdigest()


def run_salt(root: Path, day: dt.date) -> str:
    """What every cached result depends on besides the client's files: dagsync's version and
    code, the day of the run, and the policies."""
    h = hashlib.sha256(f"{__version__}|{day.isoformat()}".encode())
    package = Path(__file__).parent
    code = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py"))
    _hash_files(h, package, code)
    policies = root / "policies"
    if policies.is_dir():
        _hash_files(
            h,
            root,
            sorted(p.relative_to(root).as_posix() for p in policies.rglob("*") if p.is_file()),
        )
    return h.hexdigest()


@dataclass(frozen=True)
class ClientEntry:
    """One client's result as cached: JSON-ready findings and index."""

    client_id: str
    key: str
    stats: str | None
    findings_json: tuple[dict[str, Any], ...]
    index_json: dict[str, Any]

    @classmethod
    def of(
        cls,
        client_id: str,
        key: str,
        stats: str | None,
        findings: Iterable[Finding],
        index: ClientIndex,
    ) -> ClientEntry:
        index_json = {
            "client_id": index.client_id,
            **{
                kind: [[i.value, i.file, list(i.path)] for i in getattr(index, kind)]
                for kind in ("servers", "service_names", "ips")
            },
        }
        return cls(client_id, key, stats, tuple(f.as_json() for f in findings), index_json)

    @classmethod
    def from_json(cls, client_id: str, data: dict[str, Any]) -> ClientEntry:
        return cls(client_id, data["key"], data["stats"], tuple(data["findings"]), data["index"])

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "stats": self.stats,
            "findings": list(self.findings_json),
            "index": self.index_json,
        }

    def findings(self) -> list[Finding]:
        return [Finding.from_json(f) for f in self.findings_json]

    def index(self) -> ClientIndex:
        def located(kind: str) -> list[Located]:
            return [Located(v, f, tuple(p)) for v, f, p in self.index_json[kind]]

        return ClientIndex(
            self.index_json["client_id"],
            located("servers"),
            located("service_names"),
            located("ips"),
        )


class Cache:
    """Per-client results in one JSON file, valid for one salt (see `run_salt`)."""

    def __init__(self, path: Path | None, salt: str, data: dict[str, Any]) -> None:
        self.path = path
        self.salt = salt
        self._clients: dict[str, Any] = data.get("clients", {})
        self._policy: list[dict[str, Any]] | None = data.get("policy")
        self._seen: set[str] = set()
        self._dirty = False
        self._now_ns = time.time_ns()

    @staticmethod
    def exists(root: Path) -> bool:
        return (root / CACHE_DIR / CACHE_FILE).is_file()

    @classmethod
    def open(cls, root: Path, salt: str | None) -> Cache:
        """The cache of `root` for this salt; a disabled cache when `salt` is None."""
        if salt is None:
            return cls(None, "", {})
        path = root / CACHE_DIR / CACHE_FILE
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or data.get("salt") != salt:
            data = {}
        return cls(path, salt, data)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    @property
    def warm(self) -> bool:
        """Results of this salt are cached: most clients will probably be hits."""
        return bool(self._clients) and self._policy is not None

    def policy_findings(self) -> list[Finding] | None:
        if self._policy is None:
            return None
        return [Finding.from_json(f) for f in self._policy]

    def set_policy_findings(self, findings: Iterable[Finding]) -> None:
        self._policy = [f.as_json() for f in findings]
        self._dirty = True

    def lookup(self, root: Path, files: ClientFiles) -> ClientEntry | None:
        """The cached result of a client whose files have not changed, else None."""
        data = self._clients.get(files.client_id) if self.enabled else None
        if data is None:
            return None
        self._seen.add(files.client_id)
        stats = client_stats(root, files, self._now_ns)
        if stats is not None and stats == data["stats"]:
            return ClientEntry.from_json(files.client_id, data)
        if data["key"] != client_digest(root, files):
            return None
        if stats != data["stats"]:
            data["stats"] = stats
            self._dirty = True
        return ClientEntry.from_json(files.client_id, data)

    def store(self, entry: ClientEntry) -> None:
        if self.enabled and entry.key:
            self._clients[entry.client_id] = entry.as_json()
            self._seen.add(entry.client_id)
            self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed (atomically); forget clients that no longer exist."""
        if self.path is None or not (self._dirty or set(self._clients) - self._seen):
            return
        clients = {c: d for c, d in self._clients.items() if c in self._seen}
        data = {"salt": self.salt, "policy": self._policy, "clients": clients}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            tmp.replace(self.path)
        except OSError:
            pass  # a read-only checkout still validates, just uncached


# --- checking clients (in worker processes) ---------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(root: str, today: str) -> None:
    from .check import Collector, load_policies

    _WORKER["root"] = Path(root)
    _WORKER["today"] = dt.date.fromisoformat(today)
    _WORKER["policies"] = load_policies(Path(root), Collector(None))


def _check_batch(batch: list[ClientFiles], keyed: bool) -> list[ClientEntry]:
    """Check clients; with `keyed`, hash their files first (so a later edit is never cached)."""
    from .check import check_client

    root, today, policies = _WORKER["root"], _WORKER["today"], _WORKER["policies"]
    out = []
    for files in batch:
        stats = client_stats(root, files) if keyed else None
        key = client_digest(root, files) if keyed else ""
        report = check_client(root, files, policies, today)
        out.append(ClientEntry.of(files.client_id, key, stats, report.findings, report.index))
    return out


def _standby_main(conn: Any, root: str, today: str) -> None:
    _init_worker(root, today)
    try:
        todo, keyed = conn.recv()
    except EOFError:
        return  # not needed after all
    conn.send(_check_batch(todo, keyed))


class _Standby:
    """A worker started before the cache lookup of a warm run: it imports the checker and loads
    the policies while the main process stats and hashes files, so that a run with a few
    changed clients does not pay those imports after the lookup. Stopped unused when every
    client is a cache hit."""

    def __init__(self, root: Path, day: dt.date) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context()
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_standby_main, daemon=True, args=(child, str(root), day.isoformat())
        )
        self._proc.start()
        child.close()

    def send(self, todo: list[ClientFiles], keyed: bool) -> bool:
        """Hand `todo` over; False if the worker is gone (the caller checks in-process)."""
        try:
            self._conn.send((todo, keyed))
        except OSError:
            self.stop()
            return False
        return True

    def receive(self) -> list[ClientEntry] | None:
        """The entries of the clients sent, or None if the worker died."""
        try:
            entries: list[ClientEntry] | None = self._conn.recv()
        except (EOFError, OSError):
            entries = None
        self.stop()
        return entries

    def stop(self) -> None:
        self._conn.close()
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()


def _workers(jobs: int | None) -> int:
    """Worker processes to use: one a core by default; none inside a daemonic process (a pool
    worker of the caller's), which may not start processes of its own."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 1
    return min(jobs or os.cpu_count() or 1, 8)


def _start_checks(
    root: Path,
    todo: list[ClientFiles],
    day: dt.date,
    jobs: int | None,
    keyed: bool,
    standby: _Standby | None,
) -> Callable[[], list[ClientEntry]]:
    """Start checking the clients of `todo` the cheapest way for their number; return the
    function that waits for their entries (a standby worker checks while the caller works)."""
    workers = _workers(jobs)
    small = workers <= 1 or len(todo) < _IN_PROCESS_BELOW
    if standby is not None and todo and small and standby.send(todo, keyed):
        return lambda: standby.receive() or _check_here(root, todo, day, keyed)
    if standby is not None:
        standby.stop()
    if not todo:
        return list
    entries = (
        _check_here(root, todo, day, keyed)
        if small
        else _check_in_pool(root, todo, day, workers, keyed)
    )
    return lambda: entries


def _check_here(
    root: Path, todo: list[ClientFiles], day: dt.date, keyed: bool
) -> list[ClientEntry]:
    _init_worker(str(root), day.isoformat())
    return _check_batch(todo, keyed)


def _check_in_pool(
    root: Path, todo: list[ClientFiles], day: dt.date, workers: int, keyed: bool
) -> list[ClientEntry]:
    from concurrent.futures import ProcessPoolExecutor

    size = max(1, min(_MAX_BATCH, len(todo) // (workers * 6)))
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    entries: list[ClientEntry] = []
    with ProcessPoolExecutor(
        workers, initializer=_init_worker, initargs=(str(root), day.isoformat())
    ) as pool:
        for part in pool.map(_check_batch, batches, [keyed] * len(batches)):
            entries.extend(part)
    return entries


# --- the run -----------------------------------------------------------------------------------


def _policy_findings(root: Path, cache: Cache) -> list[Finding]:
    cached = cache.policy_findings()
    if cached is not None:
        return cached
    from .check import Collector, load_policies

    out = Collector(None)
    load_policies(root, out)
    cache.set_policy_findings(out.findings)
    return out.findings


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
    from .indexing import index_client

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
) -> Result:
    """Validate the clients named in `only` (all by default) and every repository invariant."""
    root = root.resolve()
    day = today or dt.date.today()
    early = use_cache and Cache.exists(root) and _workers(jobs) > 1
    standby = _Standby(root, day) if early else None
    try:
        return _validate(root, only, day, jobs, use_cache, standby)
    finally:
        if standby is not None:
            standby.stop()


def _validate(
    root: Path,
    only: Sequence[str] | None,
    day: dt.date,
    jobs: int | None,
    use_cache: bool,
    standby: _Standby | None,
) -> Result:
    layout = discover(root)
    wanted = _wanted(layout, only)
    cache = Cache.open(root, run_salt(root, day) if use_cache else None)
    if standby is not None and not cache.warm:
        standby.stop()  # most clients will be checked: the pool does it
        standby = None
    findings = list(_policy_findings(root, cache))
    entries, todo = _lookup(root, cache, layout, set(wanted))
    wait = _start_checks(root, todo, day, jobs, cache.enabled, standby)
    indexes: dict[str, ClientIndex] = {c: e.index() for c, e in entries.items()}
    for entry in wait():
        entries[entry.client_id] = entry
        indexes[entry.client_id] = entry.index()
        cache.store(entry)
    cache.save()
    for client_id in wanted:
        findings.extend(entries[client_id].findings())
    findings.extend(_stray(layout))
    findings.extend(_missing_files(layout, wanted))
    from .invariants import repository_findings

    findings.extend(repository_findings(root, indexes))
    files = sum(len(layout.clients[c].all) for c in wanted) + len(layout.stray)
    return Result(tuple(sorted(set(findings))), files, len(wanted), tuple(wanted))


def _stray(layout: Layout) -> list[Finding]:
    return [
        Finding(
            rel,
            1,
            1,
            "REP003",
            Severity.ERROR,
            "this file is not part of the layout (clients/<id>/client.yaml, requests.yaml, "
            "servers/<name>.yaml): move or delete it",
            client=rel.split("/")[1] if rel.count("/") > 1 else None,
        )
        for rel in layout.stray
    ]


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
