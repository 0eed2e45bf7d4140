"""Configuration files as dagsync sees them: one parsed file (`Document`), the files of one
client (`ClientFiles`), and the identifiers a client declares (`ClientIndex`).

Light on purpose (no pydantic, no ruamel at import time): a fully cached validation run
imports only this, `findings` and `validate`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from dagsync.config.yamlpositions import Positions


class NotRegular(OSError):
    """A repository file that is a symbolic link, a FIFO, a device...: never read."""


def read_regular(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of `path`, only if it is a regular file reached without
    following a symbolic link (a link to /proc/self/environ or /etc/shadow in a pull request
    must not be read, nor a FIFO block the run)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if path.is_symlink():
            raise NotRegular(
                "it is a symbolic link: dagsync reads only regular files of the repository; "
                "replace the link by the file itself"
            ) from exc
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise NotRegular("it is not a regular file: replace it by a YAML file")
        return handle.read(limit + 1)


@dataclass
class Document:
    """One YAML file of the repository; `rel` is its repository-relative POSIX path."""

    rel: str
    text: str
    data: Any = None
    _positions: Positions | None = field(default=None, repr=False)

    def locate(self, parts: list[str], *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at `parts` (or of its key)."""
        if self._positions is None:
            # lazy: importing it here keeps cython_runtime, dagsync.config, ruamel out of this module's load
            from dagsync.config.yamlpositions import Positions

            self._positions = Positions(self.text)
        return self._positions.locate(parts, key=key)

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


@dataclass(frozen=True)
class ClientFiles:
    """The files of `clients/<client_id>/` (repository-relative POSIX paths)."""

    client_id: str
    client: str | None
    requests: str | None
    servers: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(f for f in (self.client, self.requests, *self.servers) if f)


class Located(NamedTuple):
    """A value that must be unique across the repository, and where it is declared."""

    value: str
    file: str
    path: tuple[str | int, ...]


@dataclass
class ClientIndex:
    """What repository-wide invariants need to know about one client."""

    client_id: str | None = None
    servers: list[Located] = field(default_factory=list)
    service_names: list[Located] = field(default_factory=list)
    ips: list[Located] = field(default_factory=list)
    # Tenancy: names that belong to one client only (see `validate.tenancy`).
    mail_domains: list[Located] = field(default_factory=list)
    vhost_names: list[Located] = field(default_factory=list)  # vhost domains and aliases
    forward_sources: list[Located] = field(default_factory=list)
    databases: list[Located] = field(default_factory=list)
    # A client indexed by the quick scan: the words of its files' mail, vhosts and databases
    # sections (a superset of its claims), parsed only if one meets another client's claim.
    claim_hints: list[Located] = field(default_factory=list)
    # The networks of the client's blocklist, exact (a path into client.yaml) or, from the
    # quick scan, a superset of them with an empty path (the file is parsed on a hit).
    blocked: list[Located] = field(default_factory=list)


INDEX_KINDS = (
    "servers",
    "service_names",
    "ips",
    "mail_domains",
    "vhost_names",
    "forward_sources",
    "databases",
    "claim_hints",
    "blocked",
)
