"""Options several commands share."""

from __future__ import annotations

from collections.abc import Callable

import click

from dagsync.commands.completion import complete_client, complete_kind, complete_server
from dagsync.errors import EXIT_FAILED, DagsyncError

repo_option = click.option(
    "--repo",
    metavar="DIR",
    default=None,
    help="The configuration repository (default: found upward).",
)


def guard(run: Callable[[], int], error_code: int = EXIT_FAILED) -> None:
    """Errors of plan/apply exit 1 (2 means "changes" for --detailed-exitcode); the other
    commands give `error_code` (2: nothing was done), as dagsync.errors says."""
    try:
        code = run()
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = int(getattr(exc, "exit_code", error_code))  # NotOnTip, ApplyLocked: 2
    raise SystemExit(code)


# The options plan and apply share.
PLAN_OPTIONS = [
    click.option("--repo", metavar="DIR", default=None, help="The configuration repository."),
    click.option(
        "--client",
        "clients",
        multiple=True,
        metavar="C",
        help="Only this client.",
        shell_complete=complete_client,
    ),
    click.option(
        "--server",
        "servers",
        multiple=True,
        metavar="S",
        help="Only this server (NAME or CLIENT/NAME).",
        shell_complete=complete_server,
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
        "--only",
        "kinds",
        multiple=True,
        shell_complete=complete_kind,
        metavar="KIND[,KIND...]",
        help="Only these kinds: firewall, accounts, root-access, backup, mail, ovh (default: all).",
    ),
    click.option(
        "--on",
        "on",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Check the deploy freeze (CGV 6.1) for this day instead of today.",
    ),
]


def with_plan_options(fn: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(PLAN_OPTIONS):
        fn = option(fn)
    return fn
