"""Options several commands share."""

from __future__ import annotations

from collections.abc import Callable

import click

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
