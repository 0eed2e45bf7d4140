"""`dagsync plan`, `apply`, `block` and `sandbox`: thin wrappers over `dagsync.reconcile`.

Exit codes: plan 0 (no change) / 1 (error) / 2 (changes, with --detailed-exitcode);
apply 0 (every host applied or unchanged) / 1 (a host failed or was rolled back, or the
apply was refused).  Heavy modules (Fabric, pydantic models) are imported inside the
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

from ..errors import DagsyncError

if TYPE_CHECKING:
    from ..reconcile.engine import RunOptions
    from ..reconcile.plan import Plan

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


def _options(scope: Scope) -> RunOptions:
    from ..reconcile.engine import RunOptions
    from ..reconcile.lock import holder_info
    from ..reconcile.resource import ApplyOptions
    from ..reconcile.session import Timeouts

    fresh = min(scope.connect_timeout, max(1.0, scope.confirm_timeout / 3))
    return RunOptions(
        parallel=scope.parallel,
        timeouts=Timeouts(connect=scope.connect_timeout, command=scope.command_timeout),
        allow_destroy=scope.allow_destroy,
        apply=ApplyOptions(scope.allow_destroy, scope.confirm_timeout, fresh),
        holder=holder_info(),
    )


def _load(scope: Scope, *, validate: bool = True) -> tuple[Any, Any]:
    from ..reconcile.inventory import load_overrides, overrides_path
    from ..repository import load_repository

    repo = load_repository(scope.root, validate=validate)
    return repo, load_overrides(overrides_path(scope.root))


def _freeze_warning(plan: Plan, day: dt.date) -> str | None:
    from ..calendar import is_deploy_freeze

    production = [t.target.key for t in plan.targets if t.changes and t.target.production]
    if not production or not is_deploy_freeze(day):
        return None
    return (
        f"warning: {day:%A %Y-%m-%d} is the eve of a weekend or public holiday; CGV 6.1 "
        f"advises no production release on such days, and this changes "
        f"{len(production)} production server(s): {', '.join(production)}"
    )


def run_plan(
    scope: Scope,
    fmt: str = "text",
    *,
    detailed_exitcode: bool = False,
    out: Path | None = None,
    echo: Callable[[str], None] = click.echo,
) -> int:
    """Compute, render and optionally save the plan; returns the exit code."""
    from ..reconcile.desired import Selection
    from ..reconcile.engine import plan as compute
    from ..reconcile.render import RENDERERS
    from ..repository import refuse_invalid

    repo, overrides = _load(scope, validate=False)  # validated while the hosts are read
    plan = compute(
        repo,
        Selection(scope.clients, scope.servers),
        overrides,
        _options(scope),
        alongside=lambda: refuse_invalid(scope.root),
    )
    colour = fmt == "text" and sys.stdout.isatty()
    echo(RENDERERS[fmt](plan, colour=colour).rstrip("\n"))
    if out is not None:
        _write(out, plan.dumps())
    warning = _freeze_warning(plan, scope.day or dt.date.today())
    if warning:
        click.echo(warning, err=True)
    if plan.has_errors or any(t.unknown for t in plan.targets):
        return EXIT_ERROR
    return EXIT_CHANGES if detailed_exitcode and plan.has_changes else 0


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _confirmer(yes: bool, scope: Scope) -> Callable[[Plan], bool]:
    from ..reconcile.render import render_text

    def confirm(plan: Plan) -> bool:
        click.echo(render_text(plan, colour=sys.stdout.isatty()).rstrip("\n"))
        warning = _freeze_warning(plan, scope.day or dt.date.today())
        if warning:
            click.echo(warning, err=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise DagsyncError("apply needs a confirmation: run it on a terminal or pass --yes")
        return click.confirm("Apply these changes?", default=False)

    return confirm


def run_apply(
    scope: Scope, *, yes: bool = False, plan_file: Path | None = None, record: bool = True
) -> int:
    """Apply the configuration (or a saved plan) and report per host; returns the exit code."""
    from ..reconcile.desired import Selection
    from ..reconcile.engine import apply
    from ..reconcile.plan import Plan
    from ..reconcile.report import render_report

    repo, overrides = _load(scope)
    saved = Plan.loads(plan_file.read_text(), str(plan_file)) if plan_file else None
    report = apply(
        repo,
        Selection(scope.clients, scope.servers),
        overrides,
        _options(scope),
        _confirmer(yes, scope),
        saved=saved,
    )
    click.echo(render_report(report, colour=sys.stdout.isatty()).rstrip("\n"))
    if record and not report.changed_nothing:
        click.echo(_record(scope.root, report), err=True)
    return 0 if report.ok else EXIT_ERROR


def _record(root: Path, report: Any) -> str:
    from ..reconcile.records import record

    try:
        return record(root, report)
    except DagsyncError as exc:
        return f"warning: the apply could not be recorded in git notes: {exc}"


def _guard(run: Callable[[], int]) -> None:
    """Errors of plan/apply exit 1 (2 means "changes" for --detailed-exitcode)."""
    try:
        code = run()
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = EXIT_ERROR
    raise SystemExit(code)


def _repo_root(repo: str | None) -> Path:
    from ..cli import _repo

    return _repo(repo)


_common = [
    click.option("--repo", metavar="DIR", default=None, help="The configuration repository."),
    click.option("--client", "clients", multiple=True, metavar="C", help="Only this client."),
    click.option(
        "--server",
        "servers",
        multiple=True,
        metavar="S",
        help="Only this server (NAME or CLIENT/NAME).",
    ),
    click.option(
        "--parallel",
        type=click.IntRange(1, 256),
        default=20,
        show_default=True,
        help="Hosts handled at once.",
    ),
    click.option(
        "--connect-timeout",
        type=click.FloatRange(0.1, 300),
        default=10.0,
        show_default=True,
        help="Seconds to open an SSH connection.",
    ),
    click.option(
        "--command-timeout",
        type=click.FloatRange(1, 3600),
        default=120.0,
        show_default=True,
        help="Seconds a command on a host may take.",
    ),
    click.option(
        "--allow-destroy",
        is_flag=True,
        help="Delete accounts no longer declared (else they are locked).",
    ),
    click.option(
        "--on",
        "on",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Check the deploy freeze (CGV 6.1) for this day instead of today.",
    ),
]


def _with_common(fn: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_common):
        fn = option(fn)
    return fn


def _scope(common: dict[str, Any], **extra: Any) -> Scope:
    on = common.pop("on")
    return Scope(_repo_root(common.pop("repo")), day=on.date() if on else None, **common, **extra)


@click.command("plan")
@_with_common
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
def plan(fmt: str, detailed_exitcode: bool, out: Path | None, **common: Any) -> None:
    """Show what apply would change on each server (nothing is changed)."""
    _guard(lambda: run_plan(_scope(common), fmt, detailed_exitcode=detailed_exitcode, out=out))


@click.command("apply")
@_with_common
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
def apply(
    yes: bool, plan_file: Path | None, confirm_timeout: float, no_record: bool, **common: Any
) -> None:
    """Make the servers match the configuration (firewall, accounts, root access)."""
    _guard(
        lambda: run_apply(
            _scope(common, confirm_timeout=confirm_timeout),
            yes=yes,
            plan_file=plan_file,
            record=not no_record,
        )
    )


@click.command("block")
@click.argument("address")
@click.option("--client", required=True, metavar="C", help="The client whose blocklist grows.")
@click.option("--reason", required=True, metavar="R", help="Why (kept in the YAML).")
@click.option("--request", default=None, metavar="REQ-...", help="The client request, if any.")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def block(address: str, client: str, reason: str, request: str | None, repo: str | None) -> None:
    """Add ADDRESS to a client's blocklist in clients/C/client.yaml, for review and apply."""
    from ..reconcile.blocking import add_block

    try:
        message = add_block(_repo_root(repo), client, address, reason, request=request)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        raise SystemExit(EXIT_ERROR) from exc
    click.echo(message)


@click.group("sandbox")
def sandbox() -> None:
    """Local test hosts, one per server of the repository, that plan and apply target."""


@sandbox.command("up")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_up(repo: str | None) -> None:
    """Start the test hosts and write the hosts override file (needs root)."""
    from ..sandbox import up

    _guard(lambda: _echo_zero(up(_repo_root(repo))))


@sandbox.command("down")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_down(repo: str | None) -> None:
    """Stop the test hosts and remove everything the sandbox made."""
    from ..sandbox import down

    _guard(lambda: _echo_zero(down(_repo_root(repo))))


@sandbox.command("status")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_status(repo: str | None) -> None:
    """Show the sandbox's hosts."""
    from ..sandbox import status

    _guard(lambda: _echo_zero(status(_repo_root(repo))))


def _echo_zero(text: str) -> int:
    click.echo(text.rstrip("\n"))
    return 0
