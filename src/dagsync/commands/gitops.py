"""`dagsync check-commits`, `dagsync audit` and `dagsync changed-clients` (used by CI)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from ..completion import complete_client
from ..errors import UsageError

_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
_REPO = click.option(
    "--repo",
    metavar="DIR",
    default=None,
    help="The configuration repository (default: found upward).",
)


def _root(repo: str | None) -> Path:
    from ..cli import _repo

    return _repo(repo)


def _json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _marked(text: str) -> str:
    """Lines that stand out (starting with `!`) in red on a terminal."""
    if not sys.stdout.isatty():
        return text
    return "".join(
        click.style(line, fg="red") if line.lstrip().startswith("!") else line
        for line in text.splitlines(keepends=True)
    )


@click.command("check-commits")
@click.argument("rev_range", metavar="REV-RANGE")
@_REPO
@_FORMAT
def check_commits(rev_range: str, repo: str | None, fmt: str) -> None:
    """Every commit of REV-RANGE (e.g. origin/main..HEAD) that touches clients/<id>/ must cite
    a request of each client it touches (Client-Request trailer), or be `internal` with a
    Reason. Exit 1 if one does not."""
    from ..gitops.report import check_text
    from ..gitops.trailers import check_commits as check

    result = check(_root(repo), rev_range)
    if fmt == "json":
        _json(result.as_json())
    else:
        click.echo(_marked(check_text(result)), nl=False)
    raise SystemExit(result.exit_code)


@click.command("audit")
@click.argument("client", shell_complete=complete_client)
@_REPO
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only commits dated DATE or later.",
)
@_FORMAT
def audit(client: str, repo: str | None, since: dt.datetime | None, fmt: str) -> None:
    """The client's history, newest first: commits, requests cited, merges and PRs, files,
    apply records. Requests no commit cites, and commits citing no request, stand out."""
    from ..gitops.report import audit_text
    from ..gitops.trail import audit as build

    result = build(_root(repo), client, since=since.date() if since else None)
    if fmt == "json":
        _json(result.as_json())
    else:
        click.echo(_marked(audit_text(result)), nl=False)


@click.command("changed-clients")
@click.argument("rev", required=False)
@_REPO
@click.option(
    "--since-last-apply",
    is_flag=True,
    help="Compare with the last commit applied without failure (its apply note); "
    "REV is the fallback when there is none.",
)
@_FORMAT
def changed_clients(rev: str | None, repo: str | None, since_last_apply: bool, fmt: str) -> None:
    """The clients changed since REV: ids one a line (text) or an object (json), for CI."""
    from ..gitops.changes import changed_clients as changed
    from ..gitops.notes import last_applied

    root = _root(repo)
    base = last_applied(root) if since_last_apply else None
    if base is None and rev is None:
        raise UsageError("give a REV to compare with (or --since-last-apply with a fallback REV)")
    changes = changed(root, base or str(rev))
    click.echo(changes.describe(), err=True)
    if fmt == "json":
        click.echo(json.dumps(changes.as_json(), ensure_ascii=False))
    else:
        click.echo("".join(f"{c}\n" for c in changes.present), nl=False)


COMMANDS = (check_commits, audit, changed_clients)
