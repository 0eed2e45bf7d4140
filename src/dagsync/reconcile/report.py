"""The result of an apply, per host: applied, failed, rolled back, unchanged or skipped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dagsync.reconcile.core import Target
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.resource import Outcome, Status


class HostStatus(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class HostResult:
    target: Target
    status: HostStatus
    outcomes: tuple[Outcome, ...] = ()
    message: str = ""
    seconds: float = 0.0

    def __post_init__(self) -> None:
        for listener in tuple(_LISTENERS):
            listener(self)

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target.key,
            "status": str(self.status),
            "message": self.message,
            "seconds": round(self.seconds, 3),
            "changes": [
                {
                    "kind": o.change.kind,
                    "action": str(o.change.action),
                    "resource": o.change.resource,
                    "summary": o.change.summary,
                    "status": str(o.status),
                    "message": o.message,
                }
                for o in self.outcomes
            ],
        }


# Called with each HostResult as a driver makes it (the journal of a supervised apply, which
# must know what was finished if the apply is stopped: `dagsync.reconcile.supervise`).
_LISTENERS: list[Callable[[HostResult], None]] = []


def add_listener(listener: Callable[[HostResult], None]) -> None:
    _LISTENERS.append(listener)


def remove_listener(listener: Callable[[HostResult], None]) -> None:
    if listener in _LISTENERS:
        _LISTENERS.remove(listener)


def host_status(outcomes: Sequence[Outcome]) -> HostStatus:
    statuses = {o.status for o in outcomes}
    if Status.ROLLED_BACK in statuses:
        return HostStatus.ROLLED_BACK
    if Status.FAILED in statuses:
        return HostStatus.FAILED
    return HostStatus.APPLIED if outcomes else HostStatus.UNCHANGED


@dataclass(frozen=True)
class ApplyReport:
    plan: Plan
    results: tuple[HostResult, ...]
    started_at: str
    finished_at: str

    @property
    def ok(self) -> bool:
        bad = (HostStatus.FAILED, HostStatus.ROLLED_BACK)
        return not any(r.status in bad for r in self.results)

    @property
    def changed_nothing(self) -> bool:
        return all(r.status is HostStatus.UNCHANGED for r in self.results)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "kind": "dagsync-apply",
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "ok": self.ok,
            "results": [r.as_json() for r in self.results],
        }


def render_report(report: ApplyReport, *, colour: bool = False) -> str:
    marks = {
        HostStatus.APPLIED: ("32", "applied"),
        HostStatus.UNCHANGED: ("2", "unchanged"),
        HostStatus.FAILED: ("31", "FAILED"),
        HostStatus.ROLLED_BACK: ("33", "ROLLED BACK"),
        HostStatus.SKIPPED: ("33", "skipped"),
    }
    width = max((len(r.target.key) for r in report.results), default=10)
    out = []
    for result in report.results:
        code, label = marks[result.status]
        shown = f"\x1b[{code}m{label}\x1b[0m" if colour else label
        count = sum(1 for o in result.outcomes if o.status is Status.APPLIED)
        extra = f"{count} change(s)" if result.status is HostStatus.APPLIED else ""
        out.append(
            f"{result.target.key:<{width}}  {shown}  {extra}  ({result.seconds:.2f} s)".rstrip()
        )
        if result.message:
            out.append(f"{'':<{width}}    {result.message}")
        for outcome in result.outcomes:
            if outcome.status is not Status.APPLIED and outcome.message:
                out.append(f"{'':<{width}}    {outcome.change.kind}: {outcome.message}")
    if report.changed_nothing:
        out.append("Nothing to do: every server already matches the configuration.")
    else:
        tally = {s: sum(1 for r in report.results if r.status is s) for s in HostStatus}
        out.append("Apply: " + ", ".join(f"{n} {s}" for s, n in tally.items() if n) + ".")
    return "\n".join(out) + "\n"
