"""One host for the length of a plan or an apply: its connection, its lock, its executor."""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import lock
from .core import Target
from .errors import CommandTimeout, HostError, Unreachable
from .inventory import Credentials, Endpoint
from .resource import CommandResult
from .ssh import Connection, Stream, connect

OBSERVER_ENV = "DAGSYNC_OBSERVER"  # "1": connect as the observer (see resources.observer)


def observer_mode() -> bool:
    """Whether this run reads through the observer key's forced command."""
    return os.environ.get(OBSERVER_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


LOCK_ANSWER_TIMEOUT = 15.0


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
        self.observer = observer_mode()  # `DAGSYNC_OBSERVER=1`: reads only, as requests

    @property
    def target(self) -> Target:
        return self._target

    def open(self) -> HostSession:
        self._connection = connect(self.endpoint, self.credentials, self.timeouts.connect)
        return self

    def _conn(self) -> Connection:
        if self._connection is None:
            raise Unreachable(f"{self._target.key}: not connected")
        return self._connection

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        if self.observer:  # the observer key's forced command takes a request, not a script
            from .resources.observer import request_for

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
        """Take the host's apply lock or raise LockHeld naming its holder."""
        if self.observer:
            raise HostError(
                f"{self._target.key}: the observer key only plans; "
                "apply runs with DAG's root key (unset DAGSYNC_OBSERVER)"
            )
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
            if self._connection is not None:
                self._connection.close()
                self._connection = None
