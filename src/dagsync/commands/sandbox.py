"""`dagsync sandbox up|down|status|run-backups|probe|matrix`: the repository's world on this
machine, and who reaches what in it."""

from __future__ import annotations

import click

from dagsync.commands.completion import complete_client, complete_server
from dagsync.commands.options import guard
from dagsync.config.locate import repo_path
from dagsync.errors import EXIT_FAILED, EXIT_USAGE


@click.group("sandbox")
def sandbox() -> None:
    """Local test hosts (each server, backup storage and mail host) and the OVH emulator,
    which plan and apply target while the sandbox is up."""


@sandbox.command("up")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_up(repo: str | None) -> None:
    """Start the test hosts and the OVH emulator, write the hosts override file (root)."""
    from dagsync.sandbox.world import up

    guard(lambda: _echo_zero(up(repo_path(repo))), error_code=EXIT_USAGE)


@sandbox.command("down")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_down(repo: str | None) -> None:
    """Stop the hosts and the emulator, and remove everything the sandbox made."""
    from dagsync.sandbox.world import down

    guard(lambda: _echo_zero(down(repo_path(repo))), error_code=EXIT_USAGE)


@sandbox.command("status")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_status(repo: str | None) -> None:
    """Show the sandbox's hosts and emulator."""
    from dagsync.sandbox.world import status

    guard(lambda: _echo_zero(status(repo_path(repo))), error_code=EXIT_USAGE)


@sandbox.command("run-backups")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_run_backups(repo: str | None) -> None:
    """Run every server's backup job now (the test hosts have no cron), then
    `dagsync backup verify` has archives to check."""
    from dagsync.sandbox.world import run_backups

    def run() -> int:
        text, ok = run_backups(repo_path(repo))
        click.echo(text)
        return 0 if ok else EXIT_FAILED

    guard(run, error_code=EXIT_USAGE)


@sandbox.command("probe")
@click.option(
    "--from",
    "origin",
    metavar="ADDRESS|any|management",
    required=True,
    shell_complete=lambda _ctx, _param, incomplete: [
        click.shell_completion.CompletionItem(word)
        for word in ("any", "management")
        if word.startswith(incomplete)
    ],
    help="The source: an IPv4 address, `any` (an address no declaration covers) or "
    "`management` (an address of each of DAG's management ranges).",
)
@click.argument("target", metavar="SERVER:PORT", shell_complete=complete_server)
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_probe(origin: str, target: str, repo: str | None) -> None:
    """One TCP connect from a source address to a sandbox server's port: open, closed
    (reached, nothing listens) or filtered (dropped); exit 1 when the YAML says otherwise."""
    from dagsync.sandbox.reach import probe

    def run() -> int:
        text, ok = probe(repo_path(repo), origin, target)
        click.echo(text)
        return 0 if ok else EXIT_FAILED

    guard(run, error_code=EXIT_USAGE)


@sandbox.command("matrix")
@click.option(
    "--client",
    metavar="C",
    default=None,
    shell_complete=complete_client,
    help="Only this client's servers (probed from every client's sources).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
def sandbox_matrix(client: str | None, fmt: str, repo: str | None) -> None:
    """Probe every declared port of every server from every declared source; exit 1 when an
    undeclared source reaches a port or a declared one cannot."""
    from dagsync.sandbox.reach import matrix, render_json, render_text

    def run() -> int:
        result = matrix(repo_path(repo), client)
        click.echo(render_json(result) if fmt == "json" else render_text(result))
        return 0 if result.ok else EXIT_FAILED

    guard(run, error_code=EXIT_USAGE)


def _echo_zero(text: str) -> int:
    click.echo(text.rstrip("\n"))
    return 0
