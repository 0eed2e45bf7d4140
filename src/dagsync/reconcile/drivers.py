"""The explicit table of drivers that `dagsync plan` and `dagsync apply` run, in this order.

| driver | `--only` kinds                  | targets                                    | module                           |
|--------|---------------------------------|--------------------------------------------|----------------------------------|
| hosts  | firewall, accounts, root-access | the client servers, over SSH               | dagsync.reconcile.engine         |
| backup | backup                          | the client servers, `dag/<storage>`        | dagsync.backup.driver            |
| mail   | mail                            | `dag/<mail host>`                          | dagsync.reconcile.resources.mail |
| ovh    | ovh                             | `<client>/<server>@ovh`, `dag/ovh-account` | dagsync.reconcile.ovh.driver     |

Every driver has the same shape: `plan(context) -> Plan` reads (nothing is locked or
changed) and `apply(context, confirm, saved) -> ApplyReport` locks and reads its targets,
computes its plan again, calls `confirm` with it and applies it only if `confirm` accepts.

- `plan_all`: the selected drivers plan at once (threads; they only read) while the
  repository is validated; their plans merge into one `Combined` plan (a driver that
  cannot plan at all becomes one target `dagsync/<driver>` in error).
- `apply_all`: the combined plan is shown and confirmed once; then each driver whose part
  has changes applies in turn (drivers share each host's lock file, so never at once),
  with a `Check` as its `confirm`: the driver's fresh plan, computed under its locks, must
  have exactly the changes the user confirmed, else that driver is refused (the state moved)
  and the others carry on.  A saved plan (`apply --plan FILE`) is confirmed the same way;
  the host resources are checked against the fingerprints of what they were computed from.

Modules of the drivers are imported only when a driver runs, so `--only firewall` loads
neither borg's, the mail hosts' nor OVH's code.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DagsyncError
from .core import Target
from .plan import Plan, TargetPlan, fingerprint
from .report import ApplyReport, HostResult, HostStatus
from .resource import Outcome, Status

if TYPE_CHECKING:
    from ..repository import Repository
    from .desired import Selection
    from .engine import RunOptions
    from .inventory import Overrides

HOST_KINDS = ("firewall", "accounts", "root-access")  # == registry.HOST_KINDS (a test checks)
KINDS = (*HOST_KINDS, "backup", "mail", "ovh")
DRIVER_CLIENT = "dagsync"  # the "client" of the target that stands for a whole driver
ENVIRONMENT_KEY = "environment"  # the override file's variables for plan and apply
OVH_KEY = "ovh"  # the override file's OVH client settings (the sandbox's emulator)

Confirm = Callable[[Plan], bool]


@dataclass(frozen=True)
class Context:
    """What every driver is given: the repository, the selection, where hosts are, how."""

    repo: Repository
    selection: Selection
    overrides: Overrides
    options: RunOptions
    kinds: frozenset[str] = frozenset(KINDS)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    commit: str | None = None


@dataclass(frozen=True)
class Driver:
    """One row of the table."""

    name: str
    kinds: tuple[str, ...]  # what `--only` names
    change_kinds: tuple[str, ...]  # the `kind` of its changes, reads and fingerprints
    plan: Callable[[Context], Plan]
    apply: Callable[[Context, Confirm, Plan | None], ApplyReport]
    concerns: Callable[[Context], bool] = lambda ctx: True  # does the selection reach it?
    available: Callable[[], bool] = lambda: True

    def owns(self, kind: str) -> bool:
        """Is a change (read, fingerprint) of this kind this driver's? `x-*` is a prefix."""
        return any(
            kind == k or (k.endswith("*") and kind.startswith(k[:-1])) for k in self.change_kinds
        )


# --- the drivers ---------------------------------------------------------------------------


def _host_options(ctx: Context) -> RunOptions:
    return replace(ctx.options, kinds=ctx.kinds & frozenset(HOST_KINDS))


def _plan_hosts(ctx: Context) -> Plan:
    from . import engine

    return engine.plan(
        ctx.repo, ctx.selection, ctx.overrides, _host_options(ctx), now=ctx.now, commit=ctx.commit
    )


def _apply_hosts(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from . import engine

    return engine.apply(
        ctx.repo,
        ctx.selection,
        ctx.overrides,
        _host_options(ctx),
        confirm,
        saved=saved,
        commit=ctx.commit,
    )


def _plan_backup(ctx: Context) -> Plan:
    from ..backup import driver

    return driver.plan(ctx.repo, ctx.selection, ctx.overrides, ctx.options, now=ctx.now)


def _apply_backup(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from ..backup import driver

    return driver.apply(ctx.repo, ctx.selection, ctx.overrides, ctx.options, confirm)


def _mail_clients(repo: Repository) -> list[Any]:
    from ..load import load_clients
    from .resources import mail

    policies = {client.id: policy for client, policy in load_clients(repo.root)}
    return mail.clients_of(repo, policies)


def _mail_concerned(ctx: Context) -> bool:
    """Every client's shared mail lives on the same hosts: a plan of all clients, or of
    clients one of which uses shared mail, reaches them; a plan of some servers does not."""
    if ctx.selection.servers:
        return False
    return not ctx.selection.clients or any(
        c.client.mail.hosting.value == "shared"
        for c in ctx.repo.clients
        if c.id in ctx.selection.clients
    )


def _plan_mail(ctx: Context) -> Plan:
    from .resources import mail

    clients = _mail_clients(ctx.repo)
    return mail.plan_hosts(ctx.repo, clients, ctx.overrides, ctx.options)


def _apply_mail(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from .resources import mail

    clients = _mail_clients(ctx.repo)
    return mail.apply_hosts(ctx.repo, clients, ctx.overrides, ctx.options, confirm)


# The OVH driver plugs in here (and only here): its module, its kinds of change.
OVH_PACKAGE = "dagsync.reconcile.ovh"
OVH_MODULE = f"{OVH_PACKAGE}.driver"
OVH_CHANGE_KINDS: tuple[str, ...] = ("ovh-*",)


def _ovh_available() -> bool:
    try:
        return importlib.util.find_spec(OVH_MODULE) is not None
    except ModuleNotFoundError:
        return False


def _ovh() -> Any:
    if not _ovh_available():
        raise DagsyncError(f"the OVH driver ({OVH_MODULE}) is not part of this dagsync yet")
    return importlib.import_module(OVH_MODULE)


def _ovh_api(ctx: Context) -> Any:
    """A client at the override file's rate (a local emulator needs no OVH-sized limit);
    None lets the driver connect with the defaults (and report why it cannot)."""
    rate = read_extras(ctx.overrides.path).ovh_rate_per_minute
    if rate is None:
        return None
    from .. import ovhapi

    try:
        return ovhapi.connect(max_rate_per_minute=rate, burst=max(5, int(rate // 60)))
    except ovhapi.OvhError:
        return None


def _plan_ovh(ctx: Context) -> Plan:
    ovh, api = _ovh(), _ovh_api(ctx)
    plan: Plan = ovh.plan(ctx.repo, ctx.selection, ctx.overrides, ctx.options, api=api)
    return plan


def _apply_ovh(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    ovh, api = _ovh(), _ovh_api(ctx)
    interval = read_extras(ctx.overrides.path).ovh_poll_interval
    options = None
    if interval is not None:
        options = importlib.import_module(f"{OVH_PACKAGE}.apply").OvhOptions(interval=interval)
    report: ApplyReport = ovh.apply(
        ctx.repo, ctx.selection, ctx.overrides, ctx.options, confirm, api=api, ovh_options=options
    )
    return report


DRIVERS: tuple[Driver, ...] = (
    Driver("hosts", HOST_KINDS, HOST_KINDS, _plan_hosts, _apply_hosts),
    Driver("backup", ("backup",), ("backup", "backup-storage"), _plan_backup, _apply_backup),
    Driver("mail", ("mail",), ("mail",), _plan_mail, _apply_mail, _mail_concerned),
    Driver("ovh", ("ovh",), OVH_CHANGE_KINDS, _plan_ovh, _apply_ovh, available=_ovh_available),
)


def driver(name: str, table: Sequence[Driver] = ()) -> Driver:
    """The row of `name` in `table` (default: DRIVERS)."""
    for row in table or DRIVERS:
        if row.name == name:
            return row
    raise DagsyncError(f"unknown driver {name!r} (known: {', '.join(d.name for d in DRIVERS)})")


def parse_kinds(values: Sequence[str]) -> frozenset[str]:
    """`--only firewall,accounts --only mail` -> the kinds; none given: every kind."""
    kinds = {k.strip() for value in values for k in value.split(",") if k.strip()}
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise DagsyncError(f"unknown kind(s) {', '.join(unknown)}: use {', '.join(KINDS)}")
    return frozenset(kinds) if kinds else frozenset(KINDS)


def selected(ctx: Context, *, explicit: bool = False) -> list[Driver]:
    """The drivers the kinds and the selection reach, in table order.

    A driver that is not available (not installed yet) is left out, unless its kind was
    named explicitly (`--only ovh`): then it is kept, and fails saying why.
    """
    out = []
    for row in DRIVERS:
        if not set(row.kinds) & ctx.kinds or not row.concerns(ctx):
            continue
        if row.available() or explicit:
            out.append(row)
    return out


def check_selection(repo: Repository, selection: Selection) -> None:
    """Refuse a `--client` or `--server` that the repository does not declare."""
    clients = {c.id for c in repo.clients}
    for client in selection.clients:
        if client not in clients:
            raise DagsyncError(f"no client `{client}` (known: {', '.join(sorted(clients))})")
    names = {s.name for _, s in repo.servers()} | {f"{c.id}/{s.name}" for c, s in repo.servers()}
    for server in selection.servers:
        if server not in names:
            raise DagsyncError(f"no server `{server}` in the repository")


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
    def loads(cls, text: str, source: str = "plan", table: Sequence[Driver] = ()) -> Combined:
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
            parts = tuple((str(n), part(plan, driver(str(n), table).owns)) for n in names)
        except (AttributeError, TypeError) as exc:
            raise DagsyncError(f"{source}: not a readable dagsync plan ({exc})") from exc
        return cls(plan, parts, kinds, selection)


def combine(ctx: Context, parts: Sequence[tuple[str, Plan]], overrides: str | None) -> Combined:
    from ..backup.targets import merge_plans

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
    """Every driver plans at once; `alongside` (the validation) runs meanwhile, and if it
    raises, the plans are discarded and its error propagates."""
    with ThreadPoolExecutor(max_workers=max(1, len(rows))) as pool:
        futures = [pool.submit(_plan_one, row, ctx) for row in rows]
        if alongside is not None:
            alongside()
        parts = [(row.name, f.result()) for row, f in zip(rows, futures, strict=True)]
    path = ctx.overrides.path
    return combine(ctx, parts, str(path) if path else None)


# --- confirming each driver against what the user confirmed ----------------------------------


def _changes(plan: Plan) -> dict[str, Counter[str]]:
    """Per target, its changes as canonical JSON (the plan's times are not part of them)."""
    return {
        t.target.key: Counter(fingerprint(c.as_json()) for c in t.changes)
        for t in plan.targets
        if t.changes
    }


def _summaries(plan: Plan) -> dict[str, str]:
    return {
        fingerprint(c.as_json()): f"{c.kind}: {c.summary}" for t in plan.targets for c in t.changes
    }


def differences(confirmed: Plan, fresh: Plan) -> list[str]:
    """How `fresh` differs from `confirmed`, change by change; empty when they agree."""
    before, after = _changes(confirmed), _changes(fresh)
    names = {**_summaries(confirmed), **_summaries(fresh)}
    out = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, Counter()), after.get(key, Counter())
        out += [f"{key}: now also {names[c]}" for c in sorted(new - old)]
        out += [f"{key}: no longer {names[c]}" for c in sorted(old - new)]
    return out


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
    if saved is None:
        return row.apply(ctx, confirm, None)
    check = Check(saved)

    def matches_then_confirm(fresh: Plan) -> bool:
        if not check(fresh):
            raise DagsyncError(check.reason())
        return confirm(saved)

    return row.apply(ctx, matches_then_confirm, saved)


def apply_all(
    ctx: Context,
    combined: Combined,
    confirm: Confirm,
    *,
    saved: bool = False,
    table: Sequence[Driver] = (),
) -> ApplyReport:
    """Confirm the combined plan once, then apply each driver's part in turn."""
    from ..backup.targets import merge_reports

    if combined.plan.has_changes and not confirm(combined.plan):
        raise DagsyncError("apply cancelled: nothing was changed")
    reports = []
    for name, confirmed in combined.parts:
        if confirmed.has_changes:
            reports.append(apply_one(driver(name, table), ctx, confirmed, saved=saved))
        else:
            reports.append(plan_report(confirmed))
    covered = {t.target.key for _, p in combined.parts for t in p.targets}
    rest = [t for t in combined.plan.targets if t.target.key not in covered]
    reports.append(plan_report(replace(combined.plan, targets=tuple(rest))))
    return merge_reports(*reports)


# --- what the override file adds (the sandbox's escrow folder and OVH emulator) -----------


@dataclass(frozen=True)
class Extras:
    """The override file's settings beyond hosts: `"environment"`, variables set while plan
    and apply run, and `"ovh"`, the client-side rate limit towards a local emulator."""

    environment: Mapping[str, str] = field(default_factory=dict)
    ovh_rate_per_minute: float | None = None
    ovh_poll_interval: float | None = None  # seconds between two reads of a pending state


def read_extras(path: Path | None) -> Extras:
    if path is None:
        return Extras()
    try:
        data = json.loads(path.read_text())
        values = dict(data.get(ENVIRONMENT_KEY) or {})
        ovh = dict(data.get(OVH_KEY) or {})
        rate, interval = ovh.get("rate_per_minute"), ovh.get("poll_interval")
        return Extras(
            {str(k): str(v) for k, v in values.items()},
            float(rate) if rate else None,
            float(interval) if interval else None,
        )
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise DagsyncError(f"{path}: not a hosts override file ({exc})") from exc


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set these variables for the length of a plan or an apply, then restore them.

    The override file describes the world plan and apply talk to (the sandbox's hosts, its
    escrow folder, its OVH emulator), so its values win over the caller's environment.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
