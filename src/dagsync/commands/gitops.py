"""`dagsync check-commits`, `dagsync audit`, `dagsync changed-clients` and `dagsync scope`
(the last two are used by CI)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from dagsync.commands.completion import complete_client
from dagsync.errors import UsageError

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
    from dagsync.config.locate import repo_path

    return repo_path(repo)


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
    from dagsync.gitops.report import check_text
    from dagsync.gitops.trailers import check_commits as check

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
@click.option(
    "-v", "--verbose", is_flag=True, help="Each change an apply made, and whole error messages."
)
def audit(
    client: str, repo: str | None, since: dt.datetime | None, fmt: str, verbose: bool
) -> None:
    """The client's history, newest first: commits, requests cited, merges and PRs, files,
    apply records (one line per apply and target; -v or --format json for every change).
    Requests no commit cites, and commits citing no request, stand out."""
    from dagsync.gitops.report import audit_text
    from dagsync.gitops.trail import audit as build

    result = build(_root(repo), client, since=since.date() if since else None)
    if fmt == "json":
        _json(result.as_json())
    else:
        click.echo(_marked(audit_text(result, verbose=verbose)), nl=False)


@click.command("changed-clients")
@click.argument("rev", required=False)
@_REPO
@click.option(
    "--since-last-apply",
    is_flag=True,
    help="The clients of every target whose desired state differs from its last successful "
    "apply (see `dagsync scope`), `dag` for DAG's own hosts; REV is the fallback for targets "
    "never applied.",
)
@_FORMAT
def changed_clients(rev: str | None, repo: str | None, since_last_apply: bool, fmt: str) -> None:
    """The clients changed since REV: ids one a line (text) or an object (json), for CI."""
    from dagsync.gitops.changes import changed_clients as changed

    root = _root(repo)
    if since_last_apply:
        from dagsync.reconcile.lastapply import since_last_apply as compute

        scope = compute(root, rev)
        click.echo(scope.describe(), err=True)
        if fmt == "json":
            click.echo(json.dumps(_scope_as_changes(scope), ensure_ascii=False))
        else:
            click.echo("".join(f"{c}\n" for c in scope.clients), nl=False)
        return
    if rev is None:
        raise UsageError("give a REV to compare with (or --since-last-apply)")
    changes = changed(root, rev)
    click.echo(changes.describe(), err=True)
    if fmt == "json":
        click.echo(json.dumps(changes.as_json(), ensure_ascii=False))
    else:
        click.echo("".join(f"{c}\n" for c in changes.present), nl=False)


def _scope_as_changes(scope: Any) -> dict[str, Any]:
    """The scope in the shape `changed-clients --format json` always had, plus its targets."""
    return {
        "version": 1,
        "rev": scope.base,
        "base": scope.base,
        "touched": list(scope.clients),
        "present": list(scope.clients),
        "deleted": sorted({t.client for t in scope.removed} - set(scope.clients)),
        "renamed": [],
        "policies_changed": False,
        "files": [],
        "scope": scope.as_json(),
    }


@click.command("scope")
@click.option(
    "--base",
    metavar="REV",
    default=None,
    help="For a pull request: the targets whose desired state differs between the merge "
    "base of REV and HEAD, and the work tree.",
)
@click.option(
    "--fallback",
    metavar="REV",
    default=None,
    help="Without --base: for a target never applied with a digest, compare with REV "
    "(else it is in scope).",
)
@_REPO
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "clients"]),
    default="text",
    show_default=True,
    help="text: one target a line with why; json: everything; clients: the --client values.",
)
def scope(base: str | None, fallback: str | None, repo: str | None, fmt: str) -> None:
    """The targets to apply: each server, OVH service set and DAG host (`dag/<name>`) whose
    desired state differs from its last successful apply (or, with --base, from the base
    branch), whatever caused it. A target stays in scope until an apply of it succeeds."""
    from dagsync.reconcile.lastapply import since_last_apply
    from dagsync.reconcile.scope import between

    if base is not None and fallback is not None:
        raise UsageError("--fallback is for the scope since the last apply, not with --base")
    root = _root(repo)
    result = between(root, base) if base else since_last_apply(root, fallback)
    click.echo(result.describe(), err=True)
    if fmt == "json":
        _json(result.as_json())
    elif fmt == "clients":
        click.echo("".join(f"{c}\n" for c in result.clients), nl=False)
    else:
        click.echo(result.text(), nl=False)


COMMANDS = (check_commits, audit, changed_clients, scope)
