"""What a plan or apply runs on and how: the selection of clients and servers, the run's
options, and the thread pool every driver reaches its hosts with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from dagsync.reconcile.resource import ApplyOptions
from dagsync.reconcile.transport.session import Timeouts

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Selection:
    clients: tuple[str, ...] = ()  # empty: every client
    servers: tuple[str, ...] = ()  # empty: every server of the selected clients

    def wants(self, client: str, server: str) -> bool:
        return (not self.clients or client in self.clients) and (
            not self.servers or server in self.servers or f"{client}/{server}" in self.servers
        )


@dataclass(frozen=True)
class RunOptions:
    parallel: int = 20
    timeouts: Timeouts = field(default_factory=Timeouts)
    allow_destroy: bool = False
    apply: ApplyOptions = field(default_factory=ApplyOptions)
    holder: str = ""
    lock_ttl: int = 900
    kinds: frozenset[str] | None = None  # host resource kinds to plan and apply; None: all


def parallel(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(fn, items))
