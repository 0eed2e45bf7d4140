"""`dagsync mail usage`: shared-mail storage per client, overage and what will be billed.

Each run reads every domain's mail store on the shared mail hosts, adds one reading per
client to the history (`.dagsync-cache/mail-usage.json` of the configuration repository,
or `--history FILE`; one reading per client and day, the last one wins), then applies the
CGV 6.1 billing rules of `dagsync.contract.billing` to the whole history.  `--format json` prints
the history itself, the input of `dagsync contracts --mail-usage FILE`.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dagsync.errors import EXIT_FAILED, EXIT_USAGE, DagsyncError

if TYPE_CHECKING:
    from dagsync.contract.billing import OverageReport

HISTORY = ".dagsync-cache/mail-usage.json"


@click.group("mail")
def mail() -> None:
    """Shared mail: usage, overage and billing (CGV article 6.1)."""


def _read_history(path: Path) -> dict[str, list[dict[str, str]]]:
    from dagsync.reconcile.mail.files import load_history

    try:
        return load_history(path.read_text()) if path.exists() else {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DagsyncError(f"{path}: not a mail usage history ({exc})") from exc


def _write_history(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    Path(tmp).replace(path)


def _line(client: str, used: Decimal, included: Decimal, report: OverageReport, on: dt.date) -> str:
    head = f"{client}: {used} GB used, {included} GB included"
    ongoing = [e for e in report.episodes if e.ended_on is None]
    if not ongoing:
        return f"{head}: within the quota"
    episode = ongoing[-1]
    text = f"{head}: OVER since {episode.warned_on} (warn the client that day)"
    text += (
        f", billable from {episode.billable_from}"
        if episode.billable_from > on
        else f", billed since {episode.billable_from}"
    )
    months = report.billable_months
    if months:
        text += "; " + ", ".join(
            f"{m.month}: {m.slices} slice(s) of {m.max_excess_gb} GB over = {m.amount} EUR HT"
            for m in months
        )
    if report.hard_limit_reached:
        text += "; HARD LIMIT reached: new mail is refused"
    return text


def run_usage(
    root: Path, fmt: str, on: dt.date, history_path: Path | None, record_reading: bool
) -> int:
    """Read, record, report; returns the exit code."""
    from dagsync.contract import billing
    from dagsync.contract.deadlines import quota_terms
    from dagsync.model.client import MailHosting
    from dagsync.reconcile.mail import files as mailconf
    from dagsync.reconcile.mail.usage import read_usage
    from dagsync.reconcile.run import RunOptions
    from dagsync.reconcile.transport.inventory import load_overrides, overrides_path
    from dagsync.validate.load import load_clients
    from dagsync.validate.repository import load_repository

    repo = load_repository(root)
    policies = {client.id: policy for client, policy in load_clients(root)}
    shared = [c.client for c in repo.clients if c.client.mail.hosting is MailHosting.SHARED]
    domains = sorted({d for c in shared for d in c.mail.domains})
    sizes, failed = read_usage(repo, load_overrides(overrides_path(root)), RunOptions(), domains)
    for problem in failed:
        click.echo(f"dagsync: error: {problem}", err=True)
    path = history_path or root / HISTORY
    history = _read_history(path)
    for client in shared:
        used = mailconf.gigabytes(sum(sizes.get(d, 0) for d in client.mail.domains))
        history = mailconf.record(history, client.id, on.isoformat(), used)
    if record_reading and not failed:
        _write_history(path, mailconf.dump_history(history))
    if fmt == "json":
        click.echo(mailconf.dump_history(history), nl=False)
    for client in shared if fmt == "text" else ():
        readings = [
            billing.Reading(dt.date.fromisoformat(r["on"]), Decimal(r["used_gb"]))
            for r in history.get(client.id, [])
        ]
        terms = quota_terms(policies[client.id])
        report = billing.mail_overage(readings, terms)
        click.echo(
            _line(
                client.id,
                readings[-1].used_gb if readings else Decimal(0),
                terms.included_gb,
                report,
                on,
            )
        )
    return EXIT_FAILED if failed else 0


@mail.command("usage")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date the reading (default: today).",
)
@click.option(
    "--history",
    "history",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Readings file (default: {HISTORY} in the repository).",
)
@click.option("--no-record", is_flag=True, help="Do not add this reading to the history.")
def usage(
    repo: str | None, fmt: str, on: dt.datetime | None, history: Path | None, no_record: bool
) -> None:
    """Each shared-mail client's usage, who is over the included quota, since when, and
    what will be billed (CGV 6.1)."""
    from dagsync.config.locate import repo_path

    try:
        code = run_usage(
            repo_path(repo), fmt, on.date() if on else dt.date.today(), history, not no_record
        )
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = EXIT_USAGE
    sys.stdout.flush()
    raise SystemExit(code)
