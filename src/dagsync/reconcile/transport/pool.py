"""One SSH connection per host for a whole plan, whichever drivers read it.

A full `dagsync plan` reads a client server for the host resources, the backup job and the
observer account, each in a driver of its own running in its own thread. Without sharing, each
driver logs in on its own: three key exchanges and authentications per server where one does
(issue 20: the floor opens one connection per host). While `shared_connections()` is active,
`HostSession.open()` takes its connection from the pool: the first session to reach a host
connects, the others wait for that connection and open their own channels on it (paramiko's
transport is safe to share between threads; each command is a channel of its own).

Only reads share: a session that takes a host's apply lock never comes from the pool (apply
runs outside it), and `run_fresh` (proving that a new login still works) always connects anew.
A failed connection is remembered for the run: every driver that wanted that host gets the
same error, without trying again. The pool closes every connection when the plan ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import Credentials, Endpoint

if TYPE_CHECKING:  # the pool itself never loads SSH: the sessions hand it their connector
    from dagsync.reconcile.transport.ssh import Connection

Key = tuple[str, int, str, str]  # address, port, pinned host key, user
Connect = Callable[[Endpoint, Credentials, float], "Connection"]


@dataclass
class _Entry:
    ready: threading.Event = field(default_factory=threading.Event)
    connection: Connection | None = None
    error: HostError | None = None


class ConnectionPool:
    """The connections of one plan, keyed by where and as whom they log in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Key, _Entry] = {}

    def get(
        self, endpoint: Endpoint, credentials: Credentials, timeout: float, connector: Connect
    ) -> Connection:
        key = (endpoint.address, endpoint.port, endpoint.host_key, credentials.user)
        with self._lock:
            entry = self._entries.get(key)
            first = entry is None
            if entry is None:
                entry = self._entries[key] = _Entry()
        if first:
            try:
                entry.connection = connector(endpoint, credentials, timeout)
            except HostError as exc:
                entry.error = exc
            finally:
                entry.ready.set()
        else:
            entry.ready.wait()
        if entry.error is not None:
            raise entry.error
        assert entry.connection is not None
        return entry.connection

    def logins(self) -> int:
        """How many connections were opened (or tried)."""
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            if entry.connection is not None:
                entry.connection.close()


@dataclass
class _Active:
    pool: ConnectionPool | None = None
    users: int = 0


_active = _Active()
_active_lock = threading.Lock()


def active() -> ConnectionPool | None:
    """The pool of the plan under way, if any (read by `HostSession.open`)."""
    return _active.pool


@contextmanager
def shared_connections(pool: ConnectionPool | None = None) -> Iterator[ConnectionPool]:
    """Share connections between every session opened meanwhile, in any thread. Plans that
    overlap in one process share one pool, closed when the last of them ends."""
    with _active_lock:
        if _active.pool is None:
            _active.pool = pool or ConnectionPool()
        _active.users += 1
        mine = _active.pool
    try:
        yield mine
    finally:
        with _active_lock:
            _active.users -= 1
            last = _active.users == 0
            if last:
                _active.pool = None
        if last:
            mine.close()
