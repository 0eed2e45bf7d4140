"""The report as one self-contained HTML page (jinja2 with autoescape: the only importer).

Nothing is fetched at view time: the styles are inline, the charts inline SVG, and a
Content-Security-Policy forbids any other source. Every value from YAML or git (the client's
name, commit subjects, request summaries) is escaped by the template engine; only the SVG of
`report.charts`, drawn from numbers and this module's own labels, is inserted as markup.
"""

from __future__ import annotations

from functools import partial

import jinja2
from markupsafe import Markup

from dagsync.report import charts
from dagsync.report import words as w
from dagsync.report.model import ARTICLES, SECTIONS, Availability, MailUsage, Report
from dagsync.report.template import PAGE

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)


def _charts(report: Report, lang: str) -> dict[str, Markup]:
    labels = w.LABELS[lang]
    out = {}
    if isinstance(report.availability, Availability):
        for server in report.availability.servers:
            svg = charts.uptime_chart(server.daily, None, labels["uptime_axis"])
            out[f"uptime:{server.server}"] = Markup(
                svg
            )  # matplotlib's SVG of numbers and fixed labels
    if isinstance(report.mail, MailUsage):
        m = report.mail
        legend = (labels["usage"], labels["quota"], labels["limit"])
        svg = charts.mail_chart(
            m.readings, m.included_gb, m.hard_limit_gb, legend, labels["gb"], report.month.last.day
        )
        out["mail"] = Markup(svg)  # matplotlib's SVG of numbers and fixed labels
    return out


def render_html(report: Report, lang: str = "fr", *, printed: bool = False) -> str:
    """The page in ``lang`` (``fr`` or ``en``); ``printed``: every table shown (a PDF cannot
    open a folded one)."""
    if lang not in w.LANGS:
        raise ValueError(f"unknown language `{lang}` (fr or en)")
    template = _ENV.from_string(PAGE)
    return template.render(
        r=report,
        printed=printed,
        lang=lang,
        t=w.LABELS[lang],
        marks=w.MARKS[lang],
        sections=SECTIONS,
        articles=ARTICLES,
        csp=CSP,
        charts=_charts(report, lang),
        long_date=partial(w.long_date, lang=lang),
        short_date=partial(w.short_date, lang=lang),
        pct=partial(w.percent, lang=lang),
        eur=partial(w.euros, lang=lang),
        num=partial(w.decimal, lang=lang),
        month_name=partial(w.month_name, lang=lang),
        holiday=partial(w.holiday, lang=lang),
        monitored=lambda s: not hasattr(s, "reason"),
    )
