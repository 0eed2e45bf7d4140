"""The command line: parse, call the library, render, choose the exit code. Nothing else."""

from __future__ import annotations

import datetime as dt
import gc
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from dagsync import __version__
from dagsync.config.locate import repo_path
from dagsync.errors import EXIT_USAGE, DagsyncError
from dagsync.findings import Finding

repo_option = click.option(
    "--repo",
    metavar="DIR",
    default=None,
    help="The configuration repository (default: found upward).",
)


class LazyGroup(click.Group):
    """A click group whose subcommands from LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, attribute = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}.{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's whole first sentence, wrapped to the terminal (click cuts it at
        about 45 characters with "...")."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dagsync")
def cli() -> None:
    """dagsync: validate client configurations against the CGV, plan and apply them."""


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


@cli.command()
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
    from dagsync.validate.report import FORMATS, render_text, use_colour
    from dagsync.validate.run import validate_repository

    root = repo_path(repo)
    only: list[str] | None = _clients_of(root, paths) if paths else None
    if any(Path(p).resolve().is_relative_to(root / "policies") for p in paths):
        only = None  # a policy change can affect every client
    extra = ""
    frozen: list[Finding] = []
    changed: set[str] | None = None
    day = on.date() if on else dt.date.today()
    if changed_since is not None:
        from dagsync.gitops import changed_clients
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


@cli.command()
@repo_option
@click.option("--check", is_flag=True, help="Fail if schemas/ is stale instead of writing it.")
def schema(repo: str | None, check: bool) -> None:
    """Regenerate schemas/ from the model (or check that it is up to date)."""
    from dagsync.model import schema as schemas

    root = repo_path(repo)
    if check:
        stale = schemas.stale(root)
        for name in stale:
            click.echo(f"schemas/{name} is stale: run `dagsync schema` and commit it", err=True)
        raise SystemExit(1 if stale else 0)
    changed = schemas.write(root)
    click.echo(
        f"wrote {len(changed)} schema file(s)" + (f": {', '.join(changed)}" if changed else "")
    )


# The explicit table of subcommands that live in dagsync.commands: name -> (module, attribute).
# They are imported only when called, so `dagsync plan` does not pay for `ovh` or the rules.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "rules": ("dagsync.commands.rules", "rules"),
    "contracts": ("dagsync.commands.contracts", "contracts"),
    "plan": ("dagsync.commands.reconcile", "plan"),
    "apply": ("dagsync.commands.reconcile", "apply"),
    "block": ("dagsync.commands.reconcile", "block"),
    "sandbox": ("dagsync.commands.reconcile", "sandbox"),
    "audit": ("dagsync.commands.gitops", "audit"),
    "check-commits": ("dagsync.commands.gitops", "check_commits"),
    "changed-clients": ("dagsync.commands.gitops", "changed_clients"),
    "scope": ("dagsync.commands.gitops", "scope"),
    "backup": ("dagsync.commands.backup", "backup"),
    "mail": ("dagsync.commands.mail", "mail"),
    "ovh": ("dagsync.commands.ovh", "ovh"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code; a DagsyncError becomes a message and exit code 2."""
    # A short-lived process that loads tens of thousands of small objects (the validation
    # cache, the repository's indexes): with the default thresholds the cyclic collector
    # rescans them again and again, a quarter of a warm `validate` on 2,000 clients
    # (bench/validate.py). Collect less often; peak memory is unchanged on that benchmark.
    gc.set_threshold(100_000, 50, 100)
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="dagsync",
            standalone_mode=False,
        )
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
