"""What `dagsync apply` asks before it changes anything: the plan shown, the deploy-freeze
warning (CGV 6.1), and, for production targets, the count typed as Terraform asks for "yes"."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from dagsync.errors import DagsyncError

if TYPE_CHECKING:
    from dagsync.commands.reconcile import Scope
    from dagsync.reconcile.plan import Plan


def freeze_warning(plan: Plan, day: dt.date) -> str | None:
    from dagsync.contract.calendar import is_deploy_freeze

    production = [t.target.key for t in plan.targets if t.changes and t.target.production]
    if not production or not is_deploy_freeze(day):
        return None
    return (
        f"warning: {day:%A %Y-%m-%d} is the eve of a weekend or public holiday; CGV 6.1 "
        f"advises no production release on such days, and this changes "
        f"{len(production)} production server(s): {', '.join(production)}"
    )


def confirmer(yes: bool, scope: Scope) -> Callable[[Plan], bool]:
    from dagsync.reconcile.render import render_text

    def confirm(plan: Plan) -> bool:
        click.echo(render_text(plan, colour=sys.stdout.isatty()).rstrip("\n"))
        warning = freeze_warning(plan, scope.day or dt.date.today())
        if warning:
            click.echo(warning, err=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise DagsyncError("apply needs a confirmation: run it on a terminal or pass --yes")
        return ask(plan)

    return confirm


def production_question(plan: Plan) -> tuple[str, str] | None:
    """What to type before changes reach production, as Terraform asks for "yes": the number
    of production targets that change.  None when no production target changes."""
    changing = sorted({t.target.key for t in plan.targets if t.changes and t.target.production})
    if not changing:
        return None
    count = str(len(changing))
    more = f" and {len(changing) - 5} more" if len(changing) > 5 else ""
    shown = ", ".join(changing[:5]) + more
    return (
        f"{count} PRODUCTION target(s) will change ({shown}). Type {count} to apply",
        count,
    )


def ask(plan: Plan) -> bool:
    question = production_question(plan)
    if question is None:
        return click.confirm("Apply these changes?", default=False)
    text, expected = question
    answer = click.prompt(text, default="", show_default=False)
    if answer.strip() != expected:
        click.echo(f"not applied: the answer was not {expected}", err=True)
        return False
    return True
