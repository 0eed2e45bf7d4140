"""The command line: parse, call the library, render, choose the exit code. Nothing else."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

import click

from dagsync import __version__
from dagsync.errors import EXIT_USAGE, DagsyncError


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


# The explicit table of subcommands that live in dagsync.commands: name -> (module, attribute).
# They are imported only when called, so `dagsync plan` does not pay for `ovh` or the rules.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("dagsync.commands.validate", "validate"),
    "schema": ("dagsync.commands.schema", "schema"),
    "rules": ("dagsync.commands.rules", "rules"),
    "contracts": ("dagsync.commands.contracts", "contracts"),
    "plan": ("dagsync.commands.reconcile", "plan"),
    "apply": ("dagsync.commands.reconcile", "apply"),
    "block": ("dagsync.commands.block", "block"),
    "sandbox": ("dagsync.commands.sandbox", "sandbox"),
    "audit": ("dagsync.commands.gitops", "audit"),
    "check-commits": ("dagsync.commands.gitops", "check_commits"),
    "changed-clients": ("dagsync.commands.gitops", "changed_clients"),
    "scope": ("dagsync.commands.gitops", "scope"),
    "backup": ("dagsync.commands.backup", "backup"),
    "mail": ("dagsync.commands.mail", "mail"),
    "ovh": ("dagsync.commands.ovh", "ovh"),
    "status": ("dagsync.commands.status", "status"),
    "security": ("dagsync.commands.security", "security"),
    "report": ("dagsync.commands.report", "report"),
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
