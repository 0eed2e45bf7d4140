"""Asynchronous states: configurable delays and lazily evaluated progressions.

Nothing runs in the background. A :class:`Progress` walks through its stages (for example
``creationPending`` then ``ok``) when it is observed: a stage is left once its :class:`Delay`
is satisfied, i.e. once at least ``seconds`` have elapsed **and** the stage has been read at
least ``polls`` times. Delays are looked up by kind at observation time, so changing them at
runtime also releases (or freezes) objects that are already pending.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["NEVER", "Delay", "DelayKind", "DelayLike", "Delays", "Progress", "as_delay"]

DelayKind = Literal[
    "firewall_state",
    "rule_creation",
    "rule_removal",
    "mitigation_creation",
    "mitigation_removal",
    "task",
]
DELAY_KINDS: tuple[str, ...] = get_args(DelayKind)


@dataclass(frozen=True)
class Delay:
    """How long a pending stage lasts: ``seconds`` elapsed and ``polls`` reads, both required."""

    seconds: float = 0.0
    polls: int = 0

    def __post_init__(self) -> None:
        if self.seconds < 0 or self.polls < 0:
            raise ValueError(f"a delay cannot be negative: {self}")

    def satisfied(self, elapsed: float, reads: int) -> bool:
        return elapsed >= self.seconds and reads >= self.polls


NEVER = Delay(seconds=math.inf)
"""A delay that never ends: the object stays stuck in its pending state."""

DelayLike = Delay | float | int
"""A :class:`Delay`, or a number of seconds."""


def as_delay(value: DelayLike) -> Delay:
    return value if isinstance(value, Delay) else Delay(seconds=float(value))


_ONE_POLL = Delay(polls=1)


@dataclass(frozen=True)
class Delays:
    """One delay per kind of asynchronous change.

    The default (no time, one poll) costs nothing but makes every pending state visible to
    exactly one read, so a consumer that does not poll is caught.
    """

    firewall_state: Delay = _ONE_POLL
    rule_creation: Delay = _ONE_POLL
    rule_removal: Delay = _ONE_POLL
    mitigation_creation: Delay = _ONE_POLL
    mitigation_removal: Delay = _ONE_POLL
    task: Delay = _ONE_POLL

    def get(self, kind: DelayKind) -> Delay:
        delay: Delay = getattr(self, kind)
        return delay

    def with_changes(self, **changes: DelayLike) -> Delays:
        unknown = sorted(set(changes) - set(DELAY_KINDS))
        if unknown:
            raise ValueError(f"unknown delay kind(s) {unknown}; known: {list(DELAY_KINDS)}")
        return dataclasses.replace(self, **{k: as_delay(v) for k, v in changes.items()})

    @classmethod
    def uniform(cls, delay: DelayLike) -> Delays:
        return cls().with_changes(**dict.fromkeys(DELAY_KINDS, delay))


@dataclass
class Progress:
    """A walk through ``stages``; the last stage is final."""

    kind: DelayKind
    stages: tuple[str, ...]
    since: float
    index: int = 0
    reads: int = 0

    @property
    def stage(self) -> str:
        return self.stages[self.index]

    @property
    def finished(self) -> bool:
        return self.index == len(self.stages) - 1

    def observe(self, now: float, delays: Delays, *, read: bool) -> str:
        """Advance as far as the delay allows, count this read if ``read``, return the stage."""
        delay = delays.get(self.kind)
        while not self.finished and delay.satisfied(now - self.since, self.reads):
            self.index += 1
            self.since = now if delay.polls else self.since + delay.seconds
            self.reads = 0
        if read:
            self.reads += 1
        return self.stage
