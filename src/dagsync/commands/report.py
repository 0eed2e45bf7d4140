"""`dagsync report CLIENT --month YYYY-MM`: the client's monthly service report.

The JSON is the data behind the page; the HTML is one self-contained page (inline styles
and SVG charts, no request at view time), in French by default, English with `--lang en`;
the PDF is that page printed by Chromium.
Availability comes from DAG's Prometheus and backups from the borg archives, over SSH;
`--offline` reads no host (those sections are then "not monitored").
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from dagsync.errors import EXIT_USAGE, DagsyncError


def run_report(
    root: Path,
    client: str,
    month_text: str,
    fmt: str,
    lang: str,
    output: Path | None,
    offline: bool,
    mail_history: Path | None,
) -> int:
    from dagsync.reconcile.run import RunOptions
    from dagsync.report.build import build_report, not_monitored_readers
    from dagsync.report.live import live_readers
    from dagsync.report.model import Month

    try:
        month = Month.parse(month_text)
    except ValueError as exc:
        raise DagsyncError(str(exc)) from exc
    readers = (
        not_monitored_readers("not read (--offline)")
        if offline
        else live_readers(root, RunOptions())
    )
    report = build_report(
        root, client, month, readers, today=dt.date.today(), mail_history=mail_history
    )
    if fmt == "json":
        text = json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"
    else:
        from dagsync.report.html import render_html

        text = render_html(report, lang, printed=fmt == "pdf")
    if fmt == "pdf":
        from dagsync.report.pdf import print_pdf

        pdf = print_pdf(text)
        if output is None:
            sys.stdout.buffer.write(pdf)
        else:
            output.write_bytes(pdf)
        return 0
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    return 0


@click.command("report")
@click.argument("client")
@click.option("--month", "month", required=True, metavar="YYYY-MM", help="The month reported.")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "json", "pdf"]), default="html", show_default=True
)
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to FILE instead of the standard output.",
)
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option(
    "--offline", is_flag=True, help="Read no host: availability and backups are not monitored."
)
@click.option(
    "--mail-history",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Mail usage readings (default: the history `dagsync mail usage` keeps).",
)
def report(
    client: str,
    month: str,
    fmt: str,
    lang: str,
    output: Path | None,
    repo: str | None,
    offline: bool,
    mail_history: Path | None,
) -> None:
    """A client's monthly service report: availability, backups, mail, changes, contract and
    advice, each with its CGV article (HTML, PDF or JSON)."""
    from dagsync.config.locate import repo_path

    try:
        code = run_report(repo_path(repo), client, month, fmt, lang, output, offline, mail_history)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        code = EXIT_USAGE
    sys.stdout.flush()
    raise SystemExit(code)
