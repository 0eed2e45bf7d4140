"""`dagsync backup verify`: each server's newest archive, retention and `borg check`.

Exit codes: 0 when every selected server passes, 1 when one does not (or on an error).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dagsync.commands.completion import complete_client, complete_server
from dagsync.errors import EXIT_FAILED, EXIT_USAGE, DagsyncError


@click.group("backup")
def backup() -> None:
    """Backups: prove that they exist, are fresh and restore (CGV article 4)."""


def run_verify(
    root: Path,
    clients: tuple[str, ...],
    servers: tuple[str, ...],
    restore_test: bool,
    fmt: str,
    parallel: int = 8,
) -> int:
    """Verify, print the report, return the exit code."""
    from dagsync.reconcile.backup.verify import verify
    from dagsync.reconcile.extras import environment, read_extras
    from dagsync.reconcile.run import RunOptions, Selection
    from dagsync.reconcile.transport.inventory import load_overrides, overrides_path
    from dagsync.validate.repository import load_repository

    repo = load_repository(root)
    overrides = load_overrides(overrides_path(root))
    with environment(read_extras(overrides.path).environment):  # the sandbox's escrow folder
        verdicts = verify(
            repo,
            Selection(clients, servers),
            overrides,
            RunOptions(parallel=parallel),
            restore_test=restore_test,
        )
    if fmt == "json":
        click.echo(
            json.dumps(
                {"version": 1, "servers": [v.as_json() for v in verdicts]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for verdict in verdicts:
            click.echo("\n".join(verdict.lines()))
        failed = sum(1 for v in verdicts if not v.ok)
        click.echo(
            f"{len(verdicts) - failed} of {len(verdicts)} server(s) verified"
            + (f", {failed} FAILED" if failed else "")
        )
    return 0 if all(v.ok for v in verdicts) else EXIT_FAILED


@backup.command("verify")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="C",
    help="Only this client.",
    shell_complete=complete_client,
)
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="S",
    help="Only this server (NAME or CLIENT/NAME).",
    shell_complete=complete_server,
)
@click.option(
    "--restore-test",
    is_flag=True,
    help="Also restore one file of the newest archive into a temporary folder.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--parallel", type=click.IntRange(1, 64), default=8, show_default=True)
def verify_command(
    repo: str | None,
    clients: tuple[str, ...],
    servers: tuple[str, ...],
    restore_test: bool,
    fmt: str,
    parallel: int,
) -> None:
    """List each server's archives: newest younger than 26 h, retention, borg check."""
    from dagsync.config.locate import repo_path

    try:
        code = run_verify(repo_path(repo), clients, servers, restore_test, fmt, parallel)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = EXIT_USAGE
    raise SystemExit(code)
