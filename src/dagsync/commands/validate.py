"""`dagsync validate`: check client files against the model, the CGV rules and the repository
invariants, and print the findings (text, JSON, SARIF, GitHub annotations)."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dagsync.commands.options import repo_option
from dagsync.config.locate import repo_path
from dagsync.errors import DagsyncError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dagsync.findings import Finding


def _clients_of(root: Path, paths: Sequence[str]) -> list[str]:
    ids = []
    for raw in paths:
        path = Path(raw).resolve()
        try:
            parts = path.relative_to(root).parts
        except ValueError as exc:
            raise DagsyncError(f"{raw} is outside the repository {root}") from exc
        if len(parts) >= 2 and parts[0] == "clients":
            ids.append(parts[1])
        elif not path.exists():
            raise DagsyncError(f"{raw} does not exist")
    return ids


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@repo_option
@click.option(
    "--changed-since",
    "changed_since",
    metavar="REV",
    default=None,
    help="Validate only the clients changed since REV, plus every repository invariant.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
)
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Judge dates (expiries, deadlines) as of this day.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Ignore and do not write the validation cache (kept outside the repository; "
    "never used in CI).",
)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Worker processes.")
def validate(
    paths: tuple[str, ...],
    repo: str | None,
    changed_since: str | None,
    fmt: str,
    on: dt.datetime | None,
    no_cache: bool,
    jobs: int | None,
) -> None:
    """Check client files against the model, the CGV rules and the repository invariants."""
    from dagsync.validate.run import validate_repository  # the report's imports come after:
    # the run starts its standby worker first thing (see `validate.speed.workers.Standby`)

    root = repo_path(repo)
    only: list[str] | None = _clients_of(root, paths) if paths else None
    if any(Path(p).resolve().is_relative_to(root / "policies") for p in paths):
        only = None  # a policy change can affect every client
    extra = ""
    frozen: list[Finding] = []
    changed: set[str] | None = None
    day = on.date() if on else dt.date.today()
    if changed_since is not None:
        from dagsync.gitops.changes import changed_clients
        from dagsync.validate.freeze import freeze_findings

        changes = changed_clients(root, changed_since)
        only = sorted(set(only or []) | set(changes.present)) if only else sorted(changes.present)
        extra = changes.describe()
        changed = {p for f in changes.files for p in f.paths}
        frozen = freeze_findings(root, sorted(changed), day)
    try:
        result = validate_repository(
            root, only=only, today=day, jobs=jobs, use_cache=not no_cache, changed=changed
        )
        if frozen:
            result = replace(result, findings=tuple(sorted({*result.findings, *frozen})))
        from dagsync.validate.report import FORMATS, render_text, use_colour

        if fmt == "text":
            report = render_text(result, root, colour=use_colour(sys.stdout))
        else:
            report = FORMATS[fmt](result)
    except DagsyncError:
        raise
    except Exception as exc:
        from dagsync.validate.report import internal_error

        raise DagsyncError(internal_error(exc)) from None
    if extra and fmt == "text":
        click.echo(extra, err=True)
    click.echo(report, nl=False)
    raise SystemExit(result.exit_code)
