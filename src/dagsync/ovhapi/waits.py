"""Waiting for OVH's asynchronous states: polling until a task is done, a state reached or an
object gone.

:class:`Waits` is mixed into :class:`~.client.OvhApi`: it polls through the client's ``get``
and ``find`` (so each poll is rate-limited and retried like any call) and sleeps with the
client's clock, raising :class:`~.errors.OvhWaitTimeout` when the time is up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from dagsync.ovhapi.errors import OvhError, OvhWaitTimeout
from dagsync.ovhapi.limits import Clock, Sleep


class Waits(ABC):
    """Polling over the client's reads, with its clock and sleep."""

    _clock: Clock
    _sleep: Sleep

    @abstractmethod
    def get(self, path: str, **query: str | int | bool | None) -> Any:
        """The object at ``path``."""

    @abstractmethod
    def find(self, path: str, **query: str | int | bool | None) -> Any:
        """The object at ``path``, or ``None`` on 404."""

    def wait_for(
        self,
        probe: Callable[[], tuple[bool, str]],
        *,
        what: str,
        wanted: str,
        timeout: float,
        interval: float = 2.0,
    ) -> str:
        """Call ``probe`` (-> done, state) every ``interval`` s until done; return the state."""
        deadline = self._clock() + timeout
        while True:
            done, state = probe()
            if done:
                return state
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise OvhWaitTimeout(what, wanted, state, timeout)
            self._sleep(min(interval, remaining))

    def wait_until_state(
        self,
        path: str,
        wanted: str,
        *,
        timeout: float,
        interval: float = 2.0,
        key: str = "state",
        failed: frozenset[str] = frozenset(),
        what: str | None = None,
    ) -> Any:
        """Poll ``GET path`` until its ``key`` is ``wanted``; return the last object read."""
        name = what or path
        last: list[Any] = [None]

        def probe() -> tuple[bool, str]:
            last[0] = self.get(path)
            state = str(last[0].get(key)) if isinstance(last[0], dict) else repr(last[0])
            if state in failed:
                raise OvhError(f"{name} ended in state {state} instead of {wanted}", path=path)
            return state == wanted, state

        self.wait_for(probe, what=name, wanted=wanted, timeout=timeout, interval=interval)
        return last[0]

    def wait_until_gone(
        self, path: str, *, timeout: float, interval: float = 2.0, what: str | None = None
    ) -> None:
        """Poll ``GET path`` until it answers 404."""

        def probe() -> tuple[bool, str]:
            found = self.find(path)
            if found is None:
                return True, "gone"
            return False, str(found.get("state", "present")) if isinstance(
                found, dict
            ) else "present"

        self.wait_for(probe, what=what or path, wanted="gone", timeout=timeout, interval=interval)
