"""`dagsync status`: per server, up or down, firing alerts, uptime, certificate, last backup
and guarantee, from DAG's Prometheus (docs/monitoring.md).

Exit code: 0 when every listed server is up with nothing firing, 1 otherwise (or when no
monitoring host could be read), 2 for a usage or repository error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dagsync.errors import EXIT_FAILED, EXIT_USAGE, DagsyncError


def run_status(root: Path, client: str | None, fmt: str) -> int:
    from dagsync.reconcile import monitoring
    from dagsync.reconcile.monitoring import status
    from dagsync.reconcile.run import RunOptions
    from dagsync.reconcile.transport.inventory import load_overrides, overrides_path

    inputs = monitoring.load(root)
    configs = [inputs.repo.client(client)] if client else list(inputs.repo.clients)
    servers = [(c.id, s.name) for c in configs for s in c.servers]
    samples, problems = status.read(inputs, load_overrides(overrides_path(root)), RunOptions())
    for problem in problems if not samples else ():
        click.echo(f"dagsync: error: {problem}", err=True)
    if not samples:
        return EXIT_FAILED
    rows = status.statuses(servers, samples)
    text = status.render_json(rows) if fmt == "json" else status.render_text(rows)
    click.echo(text, nl=False)
    return 0 if all(r.healthy for r in rows) else EXIT_FAILED


@click.command("status")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option("--client", "client", default=None, help="Only this client's servers.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status(repo: str | None, client: str | None, fmt: str) -> None:
    """Each server as DAG's Prometheus sees it (CGV Art. 4 supervision)."""
    from dagsync.config.locate import repo_path

    try:
        code = run_status(repo_path(repo), client, fmt)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = EXIT_USAGE
    sys.stdout.flush()
    raise SystemExit(code)
