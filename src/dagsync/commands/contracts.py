"""`dagsync contracts`: every client's upcoming deadlines, soonest first."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from dagsync.contract.billing import Reading
from dagsync.contract.deadlines import Deadline
from dagsync.errors import DagsyncError


def _load_usage(path: Path) -> dict[str, list[Reading]]:
    """Mail usage readings: `{"client": [{"on": "2026-10-01", "used_gb": "27.5"}, ...]}`,
    as written by `dagsync mail usage --format json`."""
    try:
        raw = json.loads(path.read_text())
        return {
            client: [
                Reading(dt.date.fromisoformat(r["on"]), Decimal(str(r["used_gb"])))
                for r in readings
            ]
            for client, readings in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as exc:
        raise DagsyncError(
            f"{path}: not a mail usage file ({exc}); expected "
            '{"client-id": [{"on": "YYYY-MM-DD", "used_gb": "27.5"}]}'
        ) from exc


@click.command("contracts")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Compute deadlines as of this day (default: today).",
)
@click.option(
    "--within",
    type=click.IntRange(0, 3650),
    default=None,
    metavar="DAYS",
    help="Only deadlines in the next DAYS days.",
)
@click.option(
    "--mail-usage",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Mail usage readings (JSON) for overage warnings and billing.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "ics"]),
    default="text",
    show_default=True,
    help="ics: an iCalendar file (one all-day event per deadline) for the team's calendar.",
)
def contracts(
    repo: str | None, on: dt.datetime | None, within: int | None, mail_usage: Path | None, fmt: str
) -> None:
    """Renewals, invoices, price changes, termination notice deadlines, suspensions and mail
    overage of every client."""
    from dagsync.config.locate import repo_path
    from dagsync.contract.deadlines import upcoming
    from dagsync.validate.load import load_clients

    day = on.date() if on else dt.date.today()
    usage = _load_usage(mail_usage) if mail_usage else None
    rows = upcoming(load_clients(repo_path(repo)), day, within, usage)
    if fmt == "json":
        click.echo(
            json.dumps(
                {"version": 1, "on": day.isoformat(), "deadlines": [d.as_json() for d in rows]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if fmt == "ics":
        click.echo(to_ics(rows, day), nl=False)
        return
    _print_table(rows, day)


def to_ics(rows: list[Deadline], day: dt.date) -> str:
    """Every deadline as an all-day VEVENT; the UID is stable (client, kind, date), so that a
    calendar re-importing next month's file updates events instead of doubling them."""
    import hashlib

    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//DAG Technologies//dagsync contracts//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "dagsync contract deadlines")
    stamp = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    for d in rows:
        event = Event()
        key = f"{d.client}|{d.kind}|{d.date.isoformat()}".encode()
        event.add("uid", f"{hashlib.sha256(key).hexdigest()[:32]}@dagsync")
        event.add("dtstamp", stamp)
        event.add("dtstart", d.date)
        event.add("dtend", d.date + dt.timedelta(days=1))
        event.add("summary", f"{d.client}: {d.kind}")
        amount = "" if d.amount_eur is None else f"\n{d.amount_eur:.2f} EUR HT"
        event.add("description", f"{d.detail}{amount}\nCGV art. {d.article}")
        event.add("categories", [d.client])
        calendar.add_component(event)
    return str(calendar.to_ical().decode())


def _print_table(rows: list[Deadline], day: dt.date) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Contract deadlines as of {day.isoformat()}", title_justify="left")
    for name in ("date", "in", "client", "deadline", "detail", "art.", "EUR HT"):
        # Dates, client ids and amounts are never cut: the deadline and its detail wrap.
        whole = name not in ("deadline", "detail")
        table.add_column(
            name, justify="right" if name in ("in", "EUR HT") else "left", no_wrap=whole
        )
    for d in rows:
        days = (d.date - day).days
        style = "bold red" if 0 <= days <= 7 else ("yellow" if 0 <= days <= 31 else "")
        table.add_row(
            d.date.isoformat(),
            f"{days} d",
            d.client,
            d.kind,
            d.detail,
            d.article,
            "" if d.amount_eur is None else f"{d.amount_eur:.2f}",
            style=style,
        )
    # On a terminal rich reads its width; elsewhere COLUMNS when set (rich honours it and wraps
    # cells to fit), else 160 columns so that a log or a pipe keeps whole rows.
    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit()
    console = Console(file=sys.stdout, width=160 if wide else None)
    if rows:
        console.print(table)
    else:
        console.print(f"no deadline as of {day.isoformat()}")
