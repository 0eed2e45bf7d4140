"""One host for the length of a plan or an apply: its connection, its lock, its executor."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from dagsync.reconcile import lock
from dagsync.reconcile.core import Target
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.transport import pool
from dagsync.reconcile.transport.errors import CommandTimeout, HostError, LockHeld, Unreachable
from dagsync.reconcile.transport.inventory import Credentials, Endpoint
from dagsync.reconcile.transport.ssh import Connection, Stream, connect

REFUSED_EXIT = 126  # the observer's forced command refused a request
OBSERVER_ENV = "DAGSYNC_OBSERVER"  # "1": connect as the observer (see resources.observer)


def observer_mode() -> bool:
    """Whether this run reads through the observer key's forced command."""
    return os.environ.get(OBSERVER_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


LOCK_ANSWER_TIMEOUT = 15.0
BREAK_RETRIES = 25  # after breaking a dead run's lock: tries to take it, BREAK_PAUSE apart
BREAK_PAUSE = 0.2


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    command: float = 120.0


class HostSession:
    """The `Executor` of one host: commands go over one connection, reused throughout."""

    def __init__(
        self,
        target: Target,
        endpoint: Endpoint,
        credentials: Credentials,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        self._target = target
        self.endpoint = endpoint
        self.credentials = credentials
        self.timeouts = timeouts
        self._connection: Connection | None = None
        self._lock: Stream | None = None
        self._shared = False  # the connection belongs to the plan's pool, not to this session
        self.broken_lock: str | None = None  # set when a gone run's lock was broken
        self.observer = observer_mode()  # `DAGSYNC_OBSERVER=1`: reads only, as requests

    @property
    def target(self) -> Target:
        return self._target

    def open(self) -> HostSession:
        shared = pool.active()
        if shared is None:
            self._connection = connect(self.endpoint, self.credentials, self.timeouts.connect)
        else:  # a plan: one connection per host for all its drivers
            self._connection = shared.get(
                self.endpoint, self.credentials, self.timeouts.connect, connect
            )
        self._shared = shared is not None
        return self

    def _conn(self) -> Connection:
        if self._connection is None:
            raise Unreachable(f"{self._target.key}: not connected")
        return self._connection

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        if self.observer:  # the observer key's forced command takes a request, not a script
            # lazy: importing it here keeps cryptography, dagsync.model, dagsync.reconcile (+2) out of this module's load
            from dagsync.reconcile.observer_reads import request_for

            command = request_for(command)
        return self._conn().run(command, stdin=stdin, timeout=timeout or self.timeouts.command)

    def run_fresh(self, command: str, *, timeout: float | None = None) -> CommandResult:
        """On a new connection, closed afterwards: proves that a new login still works."""
        fresh = connect(self.endpoint, self.credentials, timeout or self.timeouts.connect)
        try:
            return fresh.run(command, timeout=self.timeouts.command)
        finally:
            fresh.close()

    def lock(self, holder: str, ttl: int = lock.DEFAULT_TTL) -> None:
        """Take the host's apply lock or raise LockHeld naming its holder.  A lock whose
        holder is provably gone (`lock.holder_gone`) is broken and taken at once."""
        if self.observer:
            raise HostError(
                f"{self._target.key}: the observer key only plans; "
                "apply runs with DAG's root key (unset DAGSYNC_OBSERVER)"
            )
        if self._shared:  # a lock lives and dies with a connection of the session's own
            self._connection = connect(self.endpoint, self.credentials, self.timeouts.connect)
            self._shared = False
        try:
            self._take_lock(holder, ttl)
        except LockHeld as held:
            gone = lock.holder_gone(held.holder_text)
            if gone is None:
                raise
            self._conn().run(lock.break_command(held.holder_text), timeout=LOCK_ANSWER_TIMEOUT)
            self.broken_lock = (
                f"{self._target.key}: released the lock of a run that is gone ({gone})"
            )
            for _ in range(BREAK_RETRIES - 1):
                try:
                    self._take_lock(holder, ttl)
                    return
                except LockHeld:
                    time.sleep(BREAK_PAUSE)
            self._take_lock(holder, ttl)

    def _take_lock(self, holder: str, ttl: int) -> None:
        stream = self._conn().stream(lock.acquire_command(holder, ttl))
        try:
            first = stream.readline(LOCK_ANSWER_TIMEOUT)
        except CommandTimeout:
            stream.close(1.0)
            raise
        if first == "LOCKED":
            self._lock = stream
            return
        rest, code = stream.read_rest(LOCK_ANSWER_TIMEOUT)
        stream.close(1.0)
        if first == "HELD":
            raise lock.refused(self._target.key, rest, ttl)
        raise HostError(f"{self._target.key}: cannot take the lock (exit {code}): {first} {rest}")

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def close(self) -> None:
        try:
            self.unlock()
        finally:
            if self._connection is not None and not self._shared:
                self._connection.close()
            self._connection = None
