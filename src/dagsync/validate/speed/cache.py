"""The validation cache: one client's result is reused while its files' content hashes, the
policies, the day and dagsync's own code are unchanged (`Cache`, one JSON file).

Nothing in the work tree is trusted as if it had been reviewed: the cache lives OUTSIDE the
repository, in the user's cache folder keyed by the repository's real path
(`$DAGSYNC_CACHE_DIR`, else `$XDG_CACHE_HOME/dagsync`, else `~/.cache/dagsync`, then
`repos/<sha256 of the path>/`), so a `.dagsync-cache/` committed with `git add -f` is never
read; and in CI (`CI` set to a true value) the cache is neither read nor written, so a result
always comes from the checker.  A cache folder that another user owns or that others may
write is ignored as well.

This module stays light (standard library and dagsync's own plain types only): a fully cached
run imports neither pydantic nor ruamel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagsync import __version__
from dagsync.config.document import INDEX_KINDS, ClientFiles, ClientIndex, Located
from dagsync.findings import Finding

CACHE_DIR = ".dagsync-cache"  # the former, in-tree location: never read (see `in_ci`)
CACHE_FILE = "v2/clients.json"
CACHE_DIR_ENV = "DAGSYNC_CACHE_DIR"
CI_ENV = "CI"
_TRUE = frozenset({"1", "true", "yes", "on"})
_RACY_NS = 2_000_000_000  # a file modified this recently is hashed, never trusted by its stat


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this run is a CI job (`CI=true`, as GitHub Actions and most runners set it)."""
    value = (os.environ if environ is None else environ).get(CI_ENV, "")
    return value.strip().lower() in _TRUE


def cache_base(environ: Mapping[str, str] | None = None) -> Path:
    """The user's dagsync cache folder (outside any repository)."""
    env = os.environ if environ is None else environ
    named = env.get(CACHE_DIR_ENV)
    if named:
        return Path(named)
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache") / "dagsync"


def cache_path(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The cache file of the repository at `root`: keyed by its resolved path."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
    return cache_base(environ) / "repos" / key / CACHE_FILE


def _trusted_folder(path: Path) -> bool:
    """A cache folder is read only if this user owns it and nobody else may write to it."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


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
    package = Path(__file__).parents[2]  # the whole dagsync package
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
                for kind in INDEX_KINDS
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

        return ClientIndex(self.index_json["client_id"], *(located(k) for k in INDEX_KINDS))


class Cache:
    """Per-client results in one JSON file, valid for one salt (see `run_salt`)."""

    def __init__(
        self,
        path: Path | None,
        salt: str,
        data: dict[str, Any],
        lines: dict[str, bytes] | None = None,
    ) -> None:
        self.path = path
        self.salt = salt
        self._clients: dict[str, Any] = data.get("clients", {})
        self._policy: list[dict[str, Any]] | None = data.get("policy")
        self._lines = lines or {}  # each unchanged client's entry as read (see `_entry_lines`)
        self._seen: set[str] = set()
        self._changed: set[str] = set()
        self._dirty = False
        self._now_ns = time.time_ns()

    @staticmethod
    def exists(root: Path) -> bool:
        return not in_ci() and cache_path(root).is_file()

    @classmethod
    def open(cls, root: Path, salt: str | None) -> Cache:
        """The cache of `root` for this salt; a disabled cache when `salt` is None or in CI."""
        if salt is None or in_ci():
            return cls(None, "", {})
        path = cache_path(root)
        data: Any = {}
        raw = b""
        if _trusted_folder(path.parent) and _trusted_folder(path.parent.parent):
            try:
                raw = path.read_bytes()
                data = json.loads(raw)
            except (OSError, ValueError):
                data = {}
        if not isinstance(data, dict) or data.get("salt") != salt:
            return cls(path, salt, {})
        return cls(path, salt, data, _entry_lines(raw, data))

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
            self._changed.add(files.client_id)
            self._dirty = True
        return ClientEntry.from_json(files.client_id, data)

    def store(self, entry: ClientEntry) -> None:
        if self.enabled and entry.key:
            self._clients[entry.client_id] = entry.as_json()
            self._seen.add(entry.client_id)
            self._changed.add(entry.client_id)
            self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed (atomically); forget clients that no longer exist."""
        if self.path is None or not (self._dirty or set(self._clients) - self._seen):
            return
        text = _layout(self.salt, self._policy, self._entry_lines())
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.parent.parent.mkdir(parents=True, exist_ok=True)
            for folder in (self.path.parent.parent, self.path.parent):
                folder.mkdir(mode=0o700, exist_ok=True)
            tmp.write_bytes(text)
            tmp.replace(self.path)
        except OSError:
            pass  # a read-only cache folder: the run still validates, just uncached

    def _entry_lines(self) -> list[bytes]:
        """One line per client still there: as read if unchanged, else serialised anew."""
        out = []
        for client_id, data in self._clients.items():
            if client_id not in self._seen:
                continue
            line = None if client_id in self._changed else self._lines.get(client_id)
            out.append(line if line is not None else _entry_line(client_id, data))
        return out


# --- the file: one JSON document, one client a line --------------------------------------------
#
#   {"salt":"...","policy":[...],"clients":{
#   "client-a":{"key":...},
#   "client-b":{"key":...}
#   }}
#
# Any JSON document is read (`json.loads` of the whole file, always); when the file has this
# layout, the line of each client not checked again is written back as it was read, so that a
# run with one client changed does not serialise 2,000 entries anew.


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _entry_line(client_id: str, data: Any) -> bytes:
    return _compact(client_id) + b":" + _compact(data)


def _header(salt: str, policy: Any) -> bytes:
    return b'{"salt":' + _compact(salt) + b',"policy":' + _compact(policy) + b',"clients":{'


def _layout(salt: str, policy: Any, lines: list[bytes]) -> bytes:
    return b"\n".join([_header(salt, policy), b",\n".join(lines), b"}}"])


def _entry_lines(raw: bytes, data: dict[str, Any]) -> dict[str, bytes]:
    """Each client's line in a file of this module's layout, or {} (then every entry is
    serialised anew on save). A line is kept only where the layout is exact: the header this
    module writes for the data read, then one line per client starting with its id, then the
    end. (A line is only ever written back as it was read: it carries no more trust than
    the data `json.loads` read from the same file.)"""
    lines = raw.split(b"\n")
    clients = data.get("clients")
    if (
        not isinstance(clients, dict)
        or len(lines) != len(clients) + 2
        or lines[0] != _header(str(data.get("salt")), data.get("policy"))
        or lines[-1] != b"}}"
    ):
        return {}
    decoder = json.JSONDecoder()
    out: dict[str, bytes] = {}
    last = len(clients) - 1
    for i, line in enumerate(lines[1:-1]):
        if i < last:
            if not line.endswith(b","):
                return {}
            line = line[:-1]
        try:
            text = line.decode()
            client_id, end = decoder.raw_decode(text)
        except ValueError:  # UnicodeDecodeError is a ValueError
            return {}
        if not isinstance(client_id, str) or client_id not in clients or client_id in out:
            return {}
        if text[end : end + 1] != ":":
            return {}
        out[client_id] = line
    return out
