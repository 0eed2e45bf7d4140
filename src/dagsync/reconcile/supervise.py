"""An apply that can be stopped: SIGINT, SIGTERM or a deadline, and what was done is known.

`supervised(work, deadline)` runs the apply in a worker thread while the main thread waits
for it, for SIGINT/SIGTERM (a Ctrl-C, a cancelled CI job, a runner shutting down) and for the
deadline.  Meanwhile a `Journal` collects each target's result as soon as a driver reports
it (`HostResult`s, through `report.add_listener`), and which targets the user confirmed.

When the apply is stopped, the journal tells, per confirmed target: finished (its result, as
the drivers reported it) or not (`interrupted`, with what was already reported done on it).
The caller records that and exits at once: a host that hangs (an SSH command that never
returns) cannot hold the apply past the deadline.  A firewall change that was not confirmed
rolls itself back on the host (commit-confirmed); every other resource converges at the next
apply, which finds the interrupted targets still in scope.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from dagsync.reconcile import report as reports
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
from dagsync.reconcile.resource import Status

_RANK = {
    HostStatus.UNCHANGED: 0,
    HostStatus.APPLIED: 1,
    HostStatus.SKIPPED: 2,
    HostStatus.ROLLED_BACK: 3,
    HostStatus.FAILED: 4,
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Journal:
    """What the running apply confirmed and what each driver reported, target by target."""

    started_at: str = field(default_factory=_now)
    plan: Plan | None = None  # the plan the user confirmed (None: nothing confirmed yet)
    pending: dict[str, set[str]] = field(default_factory=dict)  # target -> parts not done
    results: dict[str, list[HostResult]] = field(default_factory=dict)
    part: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def confirmed(self, plan: Plan, parts: Sequence[tuple[str, Plan]]) -> None:
        """The user accepted `plan`, applied by `parts` (driver name, its part) in turn."""
        with self.lock:
            self.plan = plan
            self.pending = {t.target.key: set() for t in plan.targets}
            for name, part in parts:
                for target in part.targets:
                    if target.changes:
                        self.pending.setdefault(target.target.key, set()).add(name)

    def start(self, part: str) -> None:
        with self.lock:
            self.part = part

    def reported(self, result: HostResult) -> None:
        """A driver reported `result` (called from its threads)."""
        with self.lock:
            key = result.target.key
            self.results.setdefault(key, []).append(result)
            self.pending.get(key, set()).discard(self.part)

    def finished(self, part: str) -> None:
        """Every target of `part` is done (even those it reported nothing for)."""
        with self.lock:
            for parts in self.pending.values():
                parts.discard(part)

    def stopped(self) -> tuple[ApplyReport | None, dict[str, list[str]]]:
        """At an interruption: the report of the finished targets, and the unfinished ones
        with what was reported done on them.  (None, {}) when nothing was confirmed."""
        with self.lock:
            if self.plan is None:
                return None, {}
            done, unfinished = [], {}
            for key in sorted(self.pending):
                results = self.results.get(key, [])
                if self.pending[key]:
                    unfinished[key] = _applied(results)
                elif results:
                    done.append(_merged(results))
                else:
                    target = next(t.target for t in self.plan.targets if t.target.key == key)
                    done.append(HostResult(target, HostStatus.UNCHANGED))
            return ApplyReport(self.plan, tuple(done), self.started_at, _now()), unfinished


def _applied(results: Sequence[HostResult]) -> list[str]:
    return [
        f"{o.change.kind}: {o.change.summary}"
        for r in results
        for o in r.outcomes
        if o.status is Status.APPLIED
    ]


def _merged(results: Sequence[HostResult]) -> HostResult:
    first = results[0]
    if len(results) == 1:
        return first
    status = max((r.status for r in results), key=_RANK.__getitem__)
    outcomes = tuple(o for r in results for o in r.outcomes)
    message = "; ".join(r.message for r in results if r.message)
    return HostResult(first.target, status, outcomes, message, sum(r.seconds for r in results))


_current: Journal | None = None


def journal() -> Journal | None:
    """The journal of the apply running in this process, if any."""
    return _current


@dataclass(frozen=True)
class Outcome:
    """How a supervised apply ended: its report, or why it was stopped and what was done."""

    report: ApplyReport | None
    stopped_by: str | None = None  # "SIGINT", "SIGTERM", "the deadline of N s"; None: finished
    unfinished: dict[str, list[str]] = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def exit_code(self) -> int:
        if self.stopped_by == "SIGINT":
            return 130
        if self.stopped_by == "SIGTERM":
            return 143
        return 124  # the deadline, as timeout(1)

    def summary(self) -> str:
        """What was and was not done, for the terminal."""
        if self.report is None:
            return f"apply stopped by {self.stopped_by} before confirmation: nothing was changed"
        done = [r.target.key for r in self.report.results if r.target.key not in self.unfinished]
        lines = [f"apply stopped by {self.stopped_by}:"]
        lines.append(f"  done ({len(done)}): {', '.join(done) or 'none'}")
        for key, applied in self.unfinished.items():
            what = f"; already applied: {'; '.join(applied)}" if applied else ""
            lines.append(f"  NOT finished: {key}{what}")
        lines.append(
            "The unfinished targets are recorded `interrupted` and stay in the apply scope: "
            "run `dagsync apply` again to converge."
        )
        return "\n".join(lines)


@contextmanager
def _signals(flag: list[str], wake: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `flag` and wake the waiting main thread (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.append(signal.Signals(signum).name)
        wake.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def supervised(work: Callable[[], ApplyReport], deadline: float | None) -> Outcome:
    """Run `work` (an apply) until it ends, a signal arrives or `deadline` seconds pass."""
    global _current
    record = Journal()
    box: dict[str, Any] = {}
    wake = threading.Event()
    flag: list[str] = []

    def target() -> None:
        try:
            box["report"] = work()
        except BaseException as exc:  # handed to the main thread, raised there
            box["error"] = exc
        finally:
            wake.set()

    _current = record
    reports.add_listener(record.reported)
    worker = threading.Thread(target=target, name="dagsync-apply", daemon=True)
    try:
        with _signals(flag, wake):
            worker.start()
            end = None if deadline is None else time.monotonic() + deadline
            while not wake.wait(None if end is None else max(0.0, end - time.monotonic())):
                if end is not None and time.monotonic() >= end:
                    flag.append(f"the deadline of {deadline:g} s")
                    break
    finally:
        reports.remove_listener(record.reported)
        _current = None
    if "report" in box:
        return Outcome(box["report"])
    if "error" in box and not flag:
        raise box["error"]
    report, unfinished = record.stopped()
    return Outcome(report, flag[0] if flag else "an error", unfinished)


def exit_now(code: int) -> None:
    """Leave at once (the apply thread may be stuck on a host): flush, then `os._exit`."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
