"""Client-side bounds of OVH calls: the rate limiter and the retry policy."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Clock",
    "Jitter",
    "RateLimiter",
    "RetryBudget",
    "RetryPolicy",
    "Sleep",
    "full_jitter",
]

Clock = Callable[[], float]
Sleep = Callable[[float], None]
Jitter = Callable[[float], float]


class RateLimiter:
    """A thread-safe token bucket: at most ``burst + per_minute * t / 60`` calls in ``t`` s.

    The default (50 a minute, burst 5) keeps any 60-second window under 56 calls, below the
    roughly 60 a minute per consumer key that OVH calls fair use.
    """

    def __init__(
        self,
        per_minute: float = 50,
        burst: int = 5,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError(
                f"a rate limit needs per_minute > 0 and burst >= 1, not {per_minute}/{burst}"
            )
        self.per_second = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; return the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
            self._stamp = now
            self._tokens -= 1.0  # below zero: a reservation, paid by the sleep below
            wait = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries.

    Failures (5xx, transport errors) are bounded per call: ``attempts`` and ``total`` seconds.
    Throttling (429) is not a failure: it is retried, waiting at least what OVH's
    ``Retry-After`` asks, for as long as the whole run's waiting budget (``run_budget``
    seconds of sleeping, shared by every call of one client) allows, never after a fixed
    count.  Every retry's sleep is charged to that budget.
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    total: float = 120.0
    run_budget: float = 600.0
    min_throttle_delay: float = 0.5

    def ceiling(self, failures: int) -> float:
        """The backoff ceiling after ``failures`` failed attempts: base * 2**(n-1), capped."""
        return min(self.max_delay, self.base_delay * 2.0 ** min(failures - 1, 30))


class RetryBudget:
    """The seconds of retry sleeping one run may still spend (thread-safe)."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self._left = seconds
        self._lock = threading.Lock()

    @property
    def left(self) -> float:
        with self._lock:
            return self._left

    def take(self, seconds: float) -> bool:
        """Spend ``seconds`` if the budget still holds them; False (nothing spent) if not."""
        with self._lock:
            if seconds > self._left:
                return False
            self._left -= seconds
            return True


def full_jitter(ceiling: float) -> float:
    """AWS-style full jitter: uniformly between 0 and the ceiling."""
    return random.uniform(0.0, ceiling)
