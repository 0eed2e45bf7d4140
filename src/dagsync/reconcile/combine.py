"""The drivers' plans combined into one, and each driver confirmed against it.

- `plan_all`: the selected drivers plan at once (threads; they only read) while the
  repository is validated; their plans merge into one `Combined` plan (a driver that
  cannot plan at all becomes one target `dagsync/<driver>` in error).
- `apply_all`: the combined plan is shown and confirmed once; then each driver whose part
  has changes applies in turn, with a `Check` as its `confirm`: the driver's fresh plan,
  computed under its locks, must have exactly the changes the user confirmed, else that
  driver is refused (the state moved) and the others carry on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.compare import differences
from dagsync.reconcile.core import Target
from dagsync.reconcile.driverspec import DRIVER_CLIENT, KINDS, Confirm, Context, Driver
from dagsync.reconcile.hosts.kinds import HOST_KINDS
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
from dagsync.reconcile.resource import Outcome, Status
from dagsync.reconcile.transport.pool import shared_connections


def _row(name: str, table: Sequence[Driver]) -> Driver:
    """The row of `name` in `table` (the callers in `drivers` pass `DRIVERS`)."""
    for row in table:
        if row.name == name:
            return row
    raise DagsyncError(f"unknown driver {name!r} (known: {', '.join(d.name for d in table)})")


# --- the combined plan ---------------------------------------------------------------------


def _keep(
    owns: Callable[[str], bool], pairs: Sequence[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    return tuple(p for p in pairs if owns(p[0]))


def part(plan: Plan, owns: Callable[[str], bool]) -> Plan:
    """The part of `plan` made of these change kinds (reads, fingerprints, unknown facts).

    A target's error cannot be told apart by kind: it is kept where the kinds were not read
    (those kinds failed), dropped where they were (another kind failed).
    """
    targets = []
    for t in plan.targets:
        prints = {k: v for k, v in t.fingerprints.items() if owns(k)}
        mine = replace(
            t,
            changes=tuple(c for c in t.changes if owns(c.kind)),
            notes=tuple(n for n in t.notes if owns(n.kind)),
            unknown=_keep(owns, t.unknown),
            reads=_keep(owns, t.reads),
            fingerprints=prints,
            error=None if prints else t.error,
        )
        if mine.changes or mine.reads or mine.fingerprints or mine.unknown:
            targets.append(mine)
    return replace(plan, targets=tuple(targets))


def driver_error(name: str, message: str) -> Plan:
    """The plan of a driver that could not plan at all: one target in error."""
    target = TargetPlan(Target(DRIVER_CLIENT, name), "", error=message)
    return Plan((target,), _now())


@dataclass(frozen=True)
class Combined:
    """One plan for the user (rendered, saved, confirmed) and each driver's part of it."""

    plan: Plan
    parts: tuple[tuple[str, Plan], ...]  # (driver name, its plan), table order
    kinds: frozenset[str] = frozenset(KINDS)
    selection: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # (clients, servers)

    def part(self, name: str) -> Plan:
        return dict(self.parts)[name]

    def as_json(self) -> dict[str, Any]:
        return {
            **self.plan.as_json(),
            "only": sorted(self.kinds),
            "drivers": [name for name, _ in self.parts],
            "selection": {"clients": list(self.selection[0]), "servers": list(self.selection[1])},
        }

    def dumps(self) -> str:
        return json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str, source: str, table: Sequence[Driver]) -> Combined:
        """A saved plan; one saved before drivers existed holds the host resources only."""
        plan = Plan.loads(text, source)
        data = json.loads(text)
        names = data.get("drivers")
        if not isinstance(names, list):
            names = ["hosts"]
        try:
            kinds = frozenset(str(k) for k in data.get("only") or HOST_KINDS)
            chosen = data.get("selection") or {}
            selection = (
                tuple(str(c) for c in chosen.get("clients", [])),
                tuple(str(s) for s in chosen.get("servers", [])),
            )
            parts = tuple((str(n), part(plan, _row(str(n), table).owns)) for n in names)
        except (AttributeError, TypeError) as exc:
            raise DagsyncError(f"{source}: not a readable dagsync plan ({exc})") from exc
        return cls(plan, parts, kinds, selection)


def combine(ctx: Context, parts: Sequence[tuple[str, Plan]], overrides: str | None) -> Combined:
    # lazy: importing it here keeps bcrypt, cryptography, cython_runtime (+7) out of this module's load
    from dagsync.reconcile.daghosts import merge_plans

    plans = [p for _, p in parts]
    merged = merge_plans(*plans) if plans else Plan((), _now())
    plan = replace(
        merged,
        created_at=_now(),
        commit=ctx.commit,
        allow_destroy=ctx.options.allow_destroy,
        overrides=overrides,
    )
    chosen = (ctx.selection.clients, ctx.selection.servers)
    return Combined(plan, tuple(parts), ctx.kinds, chosen)


def _plan_one(row: Driver, ctx: Context) -> Plan:
    try:
        return row.plan(ctx)
    except DagsyncError as exc:
        return driver_error(row.name, str(exc))


def plan_all(
    ctx: Context, rows: Sequence[Driver], *, alongside: Callable[[], None] | None = None
) -> Combined:
    """Every driver plans at once, over one SSH connection per host (`transport.pool`);
    `alongside` (the validation) runs meanwhile, and if it raises, the plans are discarded
    and its error propagates."""
    with shared_connections(), ThreadPoolExecutor(max_workers=max(1, len(rows))) as pool:
        futures = [pool.submit(_plan_one, row, ctx) for row in rows]
        if alongside is not None:
            alongside()
        parts = [(row.name, f.result()) for row, f in zip(rows, futures, strict=True)]
    path = ctx.overrides.path
    return combine(ctx, parts, str(path) if path else None)


# --- confirming each driver against what the user confirmed ----------------------------------


class Check:
    """A driver's `confirm`: accepts its fresh plan only if it matches the confirmed part."""

    def __init__(self, confirmed: Plan) -> None:
        self.confirmed = confirmed
        self.problems: list[str] = []

    def __call__(self, fresh: Plan) -> bool:
        self.problems = differences(self.confirmed, fresh)
        return not self.problems

    def reason(self) -> str:
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return (
            f"refused: the state moved since the plan was confirmed ({shown}{more}); "
            "nothing was changed by this driver: run `dagsync plan` again"
        )


# --- apply ---------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def plan_report(plan: Plan) -> ApplyReport:
    """The report of a part that was not applied because it had nothing to change."""
    results = []
    for t in plan.targets:
        unread = "; ".join(f"could not read {k}: {r}" for k, r in t.unknown)
        message = "; ".join(m for m in (t.error or "", unread) if m)
        status = HostStatus.FAILED if message else HostStatus.UNCHANGED
        results.append(HostResult(t.target, status, message=message))
    return ApplyReport(plan, tuple(results), _now(), _now())


def refused_report(plan: Plan, message: str) -> ApplyReport:
    """The report of a part that was refused or failed as a whole: nothing attempted."""
    targets = [t for t in plan.targets if t.changes] or list(plan.targets)
    results = tuple(
        HostResult(
            t.target,
            HostStatus.FAILED,
            tuple(Outcome(c, Status.SKIPPED, "not attempted") for c in t.changes),
            message,
        )
        for t in targets
    )
    if not results:
        results = (HostResult(Target(DRIVER_CLIENT, "apply"), HostStatus.FAILED, message=message),)
    return ApplyReport(plan, results, _now(), _now())


def apply_one(row: Driver, ctx: Context, confirmed: Plan, *, saved: bool) -> ApplyReport:
    """Run one driver's apply; its fresh plan must match `confirmed`, else it is refused."""
    check = Check(confirmed)
    try:
        return row.apply(ctx, check, confirmed if saved else None)
    except DagsyncError as exc:
        return refused_report(confirmed, check.reason() if check.problems else str(exc))


def apply_single(row: Driver, ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    """One driver alone needs no separate plan pass: it plans under its locks, the user
    confirms that plan, it applies.  A saved part must match its fresh plan first."""
    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.supervise import journal

    log = journal()
    if log is not None:
        log.start(row.name)

    def confirmed(plan: Plan) -> bool:
        accepted = confirm(plan)
        if accepted and log is not None:
            log.confirmed(plan, [(row.name, plan)])
        return accepted

    if saved is None:
        report = row.apply(ctx, confirmed, None)
    else:
        check = Check(saved)

        def matches_then_confirm(fresh: Plan) -> bool:
            if not check(fresh):
                raise DagsyncError(check.reason())
            return confirmed(saved)

        report = row.apply(ctx, matches_then_confirm, saved)
    if log is not None:
        log.finished(row.name)
    return report


def apply_all(
    ctx: Context,
    combined: Combined,
    confirm: Confirm,
    *,
    saved: bool = False,
    table: Sequence[Driver] = (),
) -> ApplyReport:
    """Confirm the combined plan once, then apply each driver's part in turn."""
    # lazy: importing it here keeps bcrypt, cryptography, cython_runtime (+7) out of this module's load
    from dagsync.reconcile.daghosts import merge_reports

    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.supervise import journal

    if combined.plan.has_changes and not confirm(combined.plan):
        raise DagsyncError("apply cancelled: nothing was changed")
    log = journal()
    if log is not None:
        log.confirmed(combined.plan, combined.parts)
    reports = []
    for name, confirmed in combined.parts:
        if log is not None:
            log.start(name)
        if confirmed.has_changes:
            reports.append(apply_one(_row(name, table), ctx, confirmed, saved=saved))
        else:
            reports.append(plan_report(confirmed))
        if log is not None:
            log.finished(name)
    covered = {t.target.key for _, p in combined.parts for t in p.targets}
    rest = [t for t in combined.plan.targets if t.target.key not in covered]
    reports.append(plan_report(replace(combined.plan, targets=tuple(rest))))
    return merge_reports(*reports)
