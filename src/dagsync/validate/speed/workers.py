"""Checking clients outside the main process: a pool for many clients, a standby worker
that warms up during a warm run's cache lookup, or in-process for a few.

The checker (pydantic, ruamel, the rules) is imported only in `_init_worker`/`_check_batch`,
that is only when a client really has to be checked.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dagsync.config.document import ClientFiles
from dagsync.validate.speed.cache import ClientEntry, client_digest, client_stats

_IN_PROCESS_BELOW = 24  # clients: fewer than this are checked without a process pool
_MAX_BATCH = 100

_WORKER: dict[str, Any] = {}


def _init_worker(root: str, today: str) -> None:
    # lazy: importing it here keeps annotated_types, cython_runtime, dagsync.config (+7) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    _WORKER["root"] = Path(root)
    _WORKER["today"] = dt.date.fromisoformat(today)
    _WORKER["policies"] = load_policies(Path(root), Collector(None))


def _check_batch(batch: list[ClientFiles], keyed: bool) -> list[ClientEntry]:
    """Check clients; with `keyed`, hash their files first (so a later edit is never cached)."""
    # lazy: importing it here keeps annotated_types, cython_runtime, dagsync.config (+7) out of this module's load
    from dagsync.validate.checker import check_client

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


class Standby:
    """A worker started before the cache lookup of a warm run: it imports the checker and loads
    the policies while the main process stats and hashes files, so that a run with a few
    changed clients does not pay those imports after the lookup. Stopped unused when every
    client is a cache hit."""

    def __init__(self, root: Path, day: dt.date) -> None:

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


def worker_count(jobs: int | None) -> int:
    """Worker processes to use: one a core by default; none inside a daemonic process (a pool
    worker of the caller's), which may not start processes of its own."""

    if multiprocessing.current_process().daemon:
        return 1
    return min(jobs or os.cpu_count() or 1, 8)


def start_checks(
    root: Path,
    todo: list[ClientFiles],
    day: dt.date,
    jobs: int | None,
    keyed: bool,
    standby: Standby | None,
) -> Callable[[], list[ClientEntry]]:
    """Start checking the clients of `todo` the cheapest way for their number; return the
    function that waits for their entries (a standby worker checks while the caller works)."""
    workers = worker_count(jobs)
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

    size = max(1, min(_MAX_BATCH, len(todo) // (workers * 6)))
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    entries: list[ClientEntry] = []
    with ProcessPoolExecutor(
        workers, initializer=_init_worker, initargs=(str(root), day.isoformat())
    ) as pool:
        for part in pool.map(_check_batch, batches, [keyed] * len(batches)):
            entries.extend(part)
    return entries
