"""`dagsync security decisions [--client C] [--format text|json] [--commit]`: the live
CrowdSec decisions of DAG's security host, and the long-lived ones proposed as blocklist
entries (`reconcile.security.decisions`); `--commit` writes them into the clients' YAML (the
round trip of `dagsync block`) and makes one commit with a `Client-Request: internal`
trailer and its reason, ready for review.

Exit code: 0 when read (and committed), 1 when the decisions could not be read or a scope
of them could not, 2 for a usage or repository error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dagsync.commands.completion import complete_client
from dagsync.errors import EXIT_FAILED, EXIT_USAGE, DagsyncError

if TYPE_CHECKING:
    from dagsync.reconcile.security.decisions import Proposal

REASON = (
    "long-lived CrowdSec decisions kept in git (dagsync security decisions): nothing blocked "
    "for good lives only in a database"
)


def _hours(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 3600:.1f} h"


def commit_proposals(root: Path, proposals: Sequence[Proposal]) -> str:
    """Write each proposal with `dagsync block`'s round trip; one commit; its id."""
    from dagsync.commands.block import add_block
    from dagsync.gitops.repo import open_repo, run
    from dagsync.gitops.trailers import CLIENT_REQUEST, INTERNAL
    from dagsync.gitops.trailers import REASON as REASON_TRAILER

    repo = open_repo(root)
    touched = sorted({repo.git_path(f"clients/{p.client}/client.yaml") for p in proposals})
    if run(repo, "status", "--porcelain", "--", *touched).strip():
        raise DagsyncError(
            f"uncommitted changes in {', '.join(touched)}: commit or stash them first, so that "
            "the blocklist commit holds the proposals only"
        )
    paths: list[str] = []
    lines: list[str] = []
    for proposal in proposals:
        add_block(root, proposal.client, str(proposal.network), proposal.reason)
        rel = f"clients/{proposal.client}/client.yaml"
        paths += [] if repo.git_path(rel) in paths else [repo.git_path(rel)]
        lines.append(f"- {proposal.client}: {proposal.network} ({proposal.reason})")
    message = "\n".join(
        [
            f"Blocklist: keep {len(proposals)} long-lived CrowdSec decision(s) in git",
            "",
            *lines,
            "",
            f"{CLIENT_REQUEST}: {INTERNAL}",
            f"{REASON_TRAILER}: {REASON}",
        ]
    )
    run(repo, "commit", "-q", "-m", message, "--", *paths)
    return run(repo, "rev-parse", "HEAD").strip()


def run_decisions(root: Path, client: str | None, fmt: str, min_hours: float, commit: bool) -> int:
    from dagsync.reconcile.security import decisions as live
    from dagsync.reconcile.transport.inventory import load_overrides, overrides_path
    from dagsync.validate.repository import load_repository

    repo = load_repository(root, validate=False)
    if client is not None:
        repo.client(client)  # an unknown client is a usage error
    overrides = load_overrides(overrides_path(root))
    try:
        found, failed = live.read(repo, overrides, client)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        return EXIT_FAILED
    proposed = live.proposals(repo, found, client, min_hours)
    made = commit_proposals(root, proposed) if commit and proposed else None
    if fmt == "json":
        doc = {
            "decisions": [d.as_json() for d in found],
            "unreadable_scopes": failed,
            "proposals": [
                {"client": p.client, "address": str(p.network), "reason": p.reason}
                for p in proposed
            ],
            "commit": made,
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        click.echo(f"{len(found)} live decision(s)")
        for d in found:
            click.echo(
                f"  {d.value:<20} {d.scope:<28} {_hours(d.remaining):>8}  {d.origin}: "
                f"{d.scenario or '-'}" + (f" (from {d.machine})" if d.machine else "")
            )
        for scope in failed:
            click.echo(f"  scope {scope}: could not be read")
        click.echo(f"{len(proposed)} long-lived (>= {min_hours:g} h left) not yet in git")
        for p in proposed:
            click.echo(f"  {p.client}: {p.network} ({p.reason})")
        if made:
            click.echo(f"committed {made[:12]}: review it, push it, then `dagsync apply`")
        elif proposed:
            click.echo("run again with --commit to write them as one commit for review")
    return EXIT_FAILED if failed else 0


@click.group("security")
def security() -> None:
    """CrowdSec, AIDE, ClamAV and IP reputation (CGV Art. 4, docs/security-services.md)."""


@security.command("decisions")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option(
    "--client",
    default=None,
    metavar="C",
    help="Only this client's scopes.",
    shell_complete=complete_client,
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--min-hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="A decision with at least this long left is long-lived.",
)
@click.option("--commit", is_flag=True, help="Write the proposals into git as one commit.")
def decisions(
    repo: str | None, client: str | None, fmt: str, min_hours: float, commit: bool
) -> None:
    """The live decisions, and the long-lived ones proposed as a blocklist change."""
    from dagsync.config.locate import repo_path

    try:
        code = run_decisions(repo_path(repo), client, fmt, min_hours, commit)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = EXIT_USAGE
    sys.stdout.flush()
    raise SystemExit(code)
