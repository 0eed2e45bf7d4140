"""`dagsync status`: per server, up or down, firing alerts, uptime, certificate, last backup
and guarantee, from DAG's Prometheus (docs/monitoring.md); then the security services' reports
(docs/security-services.md): files AIDE saw change, what ClamAV found, public IPs listed in
a DNS blocklist.  `--only monitoring` or `--only security` shows one part.

Exit code: 0 when every listed server is up with nothing firing and nothing to report, 1
otherwise (or when no monitoring host could be read), 2 for a usage or repository error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from dagsync.errors import EXIT_FAILED, EXIT_USAGE, DagsyncError

PARTS = ("monitoring", "security")


def run_status(root: Path, client: str | None, fmt: str, only: Sequence[str] = PARTS) -> int:
    import json

    from dagsync.reconcile import monitoring
    from dagsync.reconcile.monitoring import status
    from dagsync.reconcile.run import RunOptions
    from dagsync.reconcile.security import status as security
    from dagsync.reconcile.transport.inventory import load_overrides, overrides_path

    inputs = monitoring.load(root)
    overrides = load_overrides(overrides_path(root))
    code, doc, text = 0, {}, ""
    if "monitoring" in only:
        configs = [inputs.repo.client(client)] if client else list(inputs.repo.clients)
        servers = [(c.id, s.name) for c in configs for s in c.servers]
        samples, problems = status.read(inputs, overrides, RunOptions())
        for problem in problems if not samples else ():
            click.echo(f"dagsync: error: {problem}", err=True)
        rows = status.statuses(servers, samples) if samples else []
        code = EXIT_FAILED if not samples or not all(r.healthy for r in rows) else 0
        doc = json.loads(status.render_json(rows))
        text = status.render_text(rows)
    if "security" in only:
        reports = security.read(inputs.repo, overrides, RunOptions(), client)
        code = code if all(r.healthy for r in reports) else EXIT_FAILED
        doc = {"version": 1, **doc, "security": security.as_json(reports)}
        text += security.render_text(reports)
    click.echo(
        json.dumps(doc, indent=2, sort_keys=True) + "\n" if fmt == "json" else text, nl=False
    )
    return code


@click.command("status")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option("--client", "client", default=None, help="Only this client's servers.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--only", "only", type=click.Choice(PARTS), multiple=True, help="Only this part (repeatable)."
)
def status(repo: str | None, client: str | None, fmt: str, only: tuple[str, ...]) -> None:
    """Each server as DAG's Prometheus sees it (CGV Art. 4 supervision)."""
    from dagsync.config.locate import repo_path

    try:
        code = run_status(repo_path(repo), client, fmt, only or PARTS)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = EXIT_USAGE
    sys.stdout.flush()
    raise SystemExit(code)
