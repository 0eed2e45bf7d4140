"""`dagsync plan`, `apply`, `block` and `sandbox`: thin wrappers over `dagsync.reconcile`.

`plan` and `apply` run the drivers of `dagsync.reconcile.drivers` (host resources over SSH,
backups, shared mail, OVH), or those of `--only KIND,...`, as one plan with one confirmation.
Exit codes: plan 0 (no change) / 1 (error) / 2 (changes, with --detailed-exitcode);
apply 0 (every target applied or unchanged) / 1 (a target failed or was rolled back, or the
apply was refused) / 2 (HEAD is not the tip of the configured branch, or another apply
holds this client scope's run lock or a host's lock: nothing was done).
Heavy modules (Fabric, pydantic models) are imported inside the
commands, so that `dagsync --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dagsync.commands.confirm import confirmer, freeze_warning
from dagsync.commands.options import guard, with_plan_options
from dagsync.errors import DagsyncError

if TYPE_CHECKING:
    from dagsync.reconcile.combine import Combined
    from dagsync.reconcile.driverspec import Context, Driver
    from dagsync.reconcile.plan import Plan
    from dagsync.reconcile.report import ApplyReport
    from dagsync.reconcile.run import RunOptions
    from dagsync.reconcile.transport.inventory import Overrides
    from dagsync.validate.repository import Repository

EXIT_ERROR = 1
EXIT_CHANGES = 2


@dataclass(frozen=True)
class Scope:
    """What to act on and how."""

    root: Path
    clients: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    parallel: int = 20
    connect_timeout: float = 10.0
    command_timeout: float = 120.0
    allow_destroy: bool = False
    confirm_timeout: float = 30.0
    day: dt.date | None = None
    kinds: tuple[str, ...] = ()  # `--only`: resource kinds; empty: every kind
    deadline: float | None = 3600.0  # apply: stop (and record what was done) after this


def _options(scope: Scope) -> RunOptions:
    from dagsync.reconcile.lock import holder_info
    from dagsync.reconcile.resource import ApplyOptions
    from dagsync.reconcile.run import RunOptions
    from dagsync.reconcile.transport.session import Timeouts

    fresh = min(scope.connect_timeout, max(1.0, scope.confirm_timeout / 3))
    return RunOptions(
        parallel=scope.parallel,
        timeouts=Timeouts(connect=scope.connect_timeout, command=scope.command_timeout),
        allow_destroy=scope.allow_destroy,
        apply=ApplyOptions(scope.allow_destroy, scope.confirm_timeout, fresh),
        holder=holder_info(),
    )


def _load(scope: Scope, *, validate: bool = True) -> tuple[Any, Any]:
    from dagsync.reconcile.transport.inventory import (
        ignored_sandbox_notice,
        load_overrides,
        overrides_path,
    )
    from dagsync.validate.repository import load_repository

    repo = load_repository(scope.root, validate=validate)
    notice = ignored_sandbox_notice(scope.root)  # sandbox state only with DAGSYNC_SANDBOX=1
    if notice:
        click.echo(notice, err=True)
    return repo, load_overrides(overrides_path(scope.root))


def _context(
    scope: Scope, repo: Repository, overrides: Overrides, saved: Combined | None = None
) -> Context:
    from dagsync.reconcile.drivers import parse_kinds
    from dagsync.reconcile.driverspec import Context
    from dagsync.reconcile.run import Selection

    if saved is None:
        kinds = parse_kinds(scope.kinds)
        selection = Selection(scope.clients, scope.servers)
    else:
        _refuse_other_scope(scope, saved)
        kinds, selection = saved.kinds, Selection(*saved.selection)
    return Context(repo, selection, overrides, _options(scope), kinds, commit=_head(scope.root))


def _head(root: Path) -> str | None:
    """The commit plans are computed at (recorded in a saved plan); None outside git."""
    from dagsync.gitops.repo import GitError, open_repo, resolve

    try:
        return resolve(open_repo(root), "HEAD")
    except GitError:
        return None


def _refuse_other_scope(scope: Scope, saved: Combined) -> None:
    """A saved plan fixes its kinds and selection: other ones on the command line are refused."""
    from dagsync.reconcile.drivers import parse_kinds

    asked = {
        "--only": (parse_kinds(scope.kinds), saved.kinds) if scope.kinds else None,
        "--client": (set(scope.clients), set(saved.selection[0])) if scope.clients else None,
        "--server": (set(scope.servers), set(saved.selection[1])) if scope.servers else None,
    }
    for option, pair in asked.items():
        if pair is not None and pair[0] != pair[1]:
            raise DagsyncError(
                f"the saved plan was not computed with this {option}: apply it without "
                f"{option} (it applies what it holds), or run `dagsync plan` again"
            )


def _drivers(ctx: Context, scope: Scope, saved: Combined | None = None) -> list[Driver]:
    from dagsync.reconcile import drivers

    if saved is not None:
        return [drivers.driver(name) for name, _ in saved.parts]
    return drivers.selected(ctx, explicit=bool(scope.kinds))


def _render(combined: Combined, fmt: str, changes_only: bool = False) -> str:
    from dagsync.reconcile.render import RENDERERS

    if fmt == "json":
        return combined.dumps()
    colour = fmt == "text" and sys.stdout.isatty()
    if fmt == "markdown":  # a PR comment lists only what changes
        return RENDERERS[fmt](combined.plan, colour=colour)
    return RENDERERS[fmt](combined.plan, colour=colour, changes_only=changes_only)


def run_plan(
    scope: Scope,
    fmt: str = "text",
    *,
    detailed_exitcode: bool = False,
    out: Path | None = None,
    echo: Callable[[str], None] = click.echo,
    changes_only: bool = False,
) -> int:
    """Compute, render and optionally save the plan of every driver; returns the exit code."""
    from dagsync.reconcile import drivers
    from dagsync.reconcile.combine import plan_all
    from dagsync.reconcile.extras import environment, read_extras
    from dagsync.validate.repository import refuse_invalid

    repo, overrides = _load(scope, validate=False)  # validated while the hosts are read
    ctx = _context(scope, repo, overrides)
    drivers.check_selection(repo, ctx.selection)
    with environment(read_extras(overrides.path).environment):
        combined = plan_all(ctx, _drivers(ctx, scope), alongside=lambda: refuse_invalid(scope.root))
    plan = combined.plan
    echo(_render(combined, fmt, changes_only).rstrip("\n"))
    if out is not None:
        _write(out, combined.dumps())
    warning = freeze_warning(plan, scope.day or dt.date.today())
    if warning:
        click.echo(warning, err=True)
    if plan.has_errors or any(t.unknown for t in plan.targets):
        return EXIT_ERROR
    return EXIT_CHANGES if detailed_exitcode and plan.has_changes else 0


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def run_apply(
    scope: Scope, *, yes: bool = False, plan_file: Path | None = None, record: bool = True
) -> int:
    """Apply the configuration (or a saved plan) and report per target; returns the exit code."""
    from dagsync.reconcile import drivers
    from dagsync.reconcile.extras import environment, read_extras
    from dagsync.reconcile.report import render_report
    from dagsync.reconcile.supervise import exit_now, supervised

    repo, overrides = _load(scope)
    saved = drivers.load_plan(plan_file.read_text(), str(plan_file)) if plan_file else None
    ctx = _context(scope, repo, overrides, saved)
    if saved is not None:
        from dagsync.reconcile.compare import refuse_other_commit

        refuse_other_commit(saved.plan, ctx.commit)
    drivers.check_selection(repo, ctx.selection)
    from dagsync.reconcile.lock import run_lock

    # one apply per client scope on this machine, taken before any host is touched (exit 2)
    with (
        run_lock(scope.root, _lock_scope(repo, ctx.selection), ctx.options.holder),
        environment(read_extras(overrides.path).environment),
    ):
        rows = _drivers(ctx, scope, saved)
        run = supervised(lambda: _apply(ctx, rows, confirmer(yes, scope), saved), scope.deadline)
    if run.stopped_by is not None:  # SIGINT, SIGTERM or the deadline: record, say, leave
        if run.report is not None and record:
            click.echo(_record(scope.root, run.report, repo, ctx, run.unfinished), err=True)
        click.echo(run.summary(), err=True)
        exit_now(run.exit_code)
    report = run.report
    assert report is not None
    click.echo(render_report(report, colour=sys.stdout.isatty()).rstrip("\n"))
    if record:
        click.echo(_record(scope.root, report, repo, ctx), err=True)
    return 0 if report.ok else EXIT_ERROR


def _lock_scope(repo: Repository, selection: Any) -> list[str]:
    """The clients an apply of `selection` acts for (their run locks)."""
    if selection.servers:
        return sorted({c.id for c, s in repo.servers() if selection.wants(c.id, s.name)})
    return sorted(selection.clients or [c.id for c in repo.clients])


def _apply(
    ctx: Context, rows: list[Driver], confirm: Callable[[Plan], bool], saved: Combined | None
) -> ApplyReport:
    """One driver: it plans under its locks and asks; several: one combined plan first.

    A saved plan is only what must match: every driver plans again (reads only, the read
    commands and changes are the repository's, never the file's) and any difference refuses
    before anything is locked or changed; each driver then applies its own fresh plan."""
    from dagsync.reconcile import drivers
    from dagsync.reconcile.combine import apply_single, plan_all
    from dagsync.reconcile.compare import refuse_moved

    if saved is not None:
        destructive = [c for t in saved.plan.targets for c in t.changes if c.destructive]
        if destructive and not ctx.options.allow_destroy:
            raise DagsyncError(
                f"the plan deletes {len(destructive)} resource(s) "
                f"({destructive[0].summary}): apply it with --allow-destroy"
            )
        fresh = plan_all(ctx, rows)
        refuse_moved(saved.plan, fresh.plan)
        saved = fresh  # equal to the file; from here on nothing of the file is used
    if len(rows) == 1:
        return apply_single(rows[0], ctx, confirm, saved.part(rows[0].name) if saved else None)
    combined = saved or plan_all(ctx, rows)
    return drivers.apply_all(ctx, combined, confirm, saved=saved is not None)


def _record(
    root: Path, report: Any, repo: Any, ctx: Any, unfinished: dict[str, list[str]] | None = None
) -> str:
    from dagsync.reconcile.records import record_run

    try:
        return record_run(root, repo, ctx.selection, ctx.kinds, report, unfinished)
    except DagsyncError as exc:
        return f"warning: the apply could not be recorded in git notes: {exc}"


def _repo_root(repo: str | None) -> Path:
    from dagsync.config.locate import repo_path

    return repo_path(repo)


def _scope(common: dict[str, Any], **extra: Any) -> Scope:
    on = common.pop("on")
    root = _repo_root(common.pop("repo"))
    return Scope(root, day=on.date() if on else None, **common, **extra)


@click.command("plan")
@with_plan_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 without changes, 1 on error, 2 with changes."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also save the plan as JSON, for `dagsync apply --plan FILE`.",
)
@click.option(
    "--changes-only",
    is_flag=True,
    help="Text: list only the targets that change or could not be read.",
)
def plan(
    fmt: str, detailed_exitcode: bool, out: Path | None, changes_only: bool, **common: Any
) -> None:
    """Show what apply would change: servers, backups, shared mail, OVH (nothing is changed)."""
    guard(
        lambda: run_plan(
            _scope(common),
            fmt,
            detailed_exitcode=detailed_exitcode,
            out=out,
            changes_only=changes_only,
        )
    )


@click.command("apply")
@with_plan_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Apply this saved plan, if the servers still match it.",
)
@click.option(
    "--confirm-timeout",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds before an unconfirmed firewall change rolls back.",
)
@click.option("--no-record", is_flag=True, help="Do not write the apply record (git notes).")
@click.option(
    "--deadline",
    type=click.FloatRange(1, 86400),
    default=3600.0,
    show_default=True,
    help="Seconds the whole apply may take: then, as on SIGINT/SIGTERM, what was done is "
    "recorded, the unfinished targets as `interrupted`, and apply exits (124; 130/143 on "
    "a signal).",
)
@click.option(
    "--require-tip",
    metavar="REF",
    envvar="DAGSYNC_REQUIRE_TIP",
    default=None,
    help="Refuse (exit 2) unless HEAD is the current tip of REF, e.g. origin/main "
    "[env DAGSYNC_REQUIRE_TIP; default: origin/main, none in sandbox mode "
    "(DAGSYNC_SANDBOX=1)].",
)
@click.option(
    "--any-commit", is_flag=True, help="Apply whatever HEAD is: no tip check (the sandbox)."
)
def apply(
    yes: bool,
    plan_file: Path | None,
    confirm_timeout: float,
    no_record: bool,
    require_tip: str | None,
    any_commit: bool,
    deadline: float,
    **common: Any,
) -> None:
    """Make servers, backups, shared mail and OVH match the configuration (one confirmation).

    Only from the tip of the configured branch (see --require-tip): refused with exit 2
    otherwise, before anything is read or changed."""

    def run() -> int:
        scope = _scope(common, confirm_timeout=confirm_timeout, deadline=deadline)
        _check_tip(scope.root, require_tip, any_commit)
        return run_apply(scope, yes=yes, plan_file=plan_file, record=not no_record)

    guard(run)


def _check_tip(root: Path, require_tip: str | None, any_commit: bool) -> None:
    """The tip check of `apply` (dagsync.gitops.tip); raises NotOnTip (exit 2)."""
    from dagsync.gitops.tip import DEFAULT_TIP
    from dagsync.gitops.tip import require_tip as check
    from dagsync.reconcile.transport.inventory import sandbox_mode

    if any_commit:
        return
    ref = require_tip or (None if sandbox_mode() else DEFAULT_TIP)
    if ref is not None:
        click.echo(check(root, ref), err=True)
