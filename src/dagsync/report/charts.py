"""The report's charts as inline SVG, drawn by matplotlib (the only importer of matplotlib).

Text is drawn as paths (``svg.fonttype: path``), so that the SVG needs no font and holds no
text element; each chart has a table alternative on the page and a ``<title>`` given by the
page. No date or id in the SVG metadata, so that the same data gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import matplotlib

matplotlib.use("svg")  # before pyplot: no GUI backend is ever tried

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

_RC: Any = {"svg.fonttype": "path", "svg.hashsalt": "dagsync-report", "font.size": 9}
_PROLOG = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(figure)
    return _PROLOG.sub("", out.getvalue(), count=1)


def uptime_chart(daily: Sequence[tuple[dt.date, float]], target: float | None, ylabel: str) -> str:
    """Bars of one server's daily uptime (percent), the target as a dashed line."""
    with plt.rc_context(_RC):
        figure, axes = plt.subplots(figsize=(7, 2.2))
        days = [d.day for d, _ in daily]
        values = [r * 100 for _, r in daily]
        axes.bar(days, values, color="#2b6cb0", hatch=None)
        if target is not None:
            axes.axhline(target * 100, color="#444444", linestyle="--", linewidth=1)
        low = min([*values, (target or 1) * 100, 100.0])
        axes.set_ylim(max(0.0, low - 1), 100.2)
        axes.set_xticks(days[::2] if len(days) > 16 else days)
        axes.set_ylabel(ylabel)
        axes.spines[["top", "right"]].set_visible(False)
        return _svg(figure)


def mail_chart(
    readings: Sequence[tuple[dt.date, Decimal]],
    included: Decimal,
    limit: Decimal,
    labels: tuple[str, str, str],
    unit: str,
    last_day: int,
) -> str:
    """Mail usage (in ``unit``, GB) on days 1 to ``last_day``, with the quota and the limit as
    labelled lines (labels: usage, quota, limit), told apart by line style as well as colour."""
    with plt.rc_context(_RC):
        figure, axes = plt.subplots(figsize=(7, 2.4))
        days = [d.day for d, _ in readings]
        axes.plot(
            days, [float(v) for _, v in readings], marker="o", color="#2b6cb0", label=labels[0]
        )
        axes.axhline(float(included), color="#b7791f", linestyle="--", label=labels[1])
        axes.axhline(float(limit), color="#c53030", linestyle=":", label=labels[2])
        top = max([float(limit), *(float(v) for _, v in readings)])
        axes.set_ylim(0, top * 1.1)
        axes.set_xlim(0.5, last_day + 0.5)
        axes.set_xticks(range(1, last_day + 1, 2))
        axes.set_ylabel(unit)
        axes.legend(loc="lower right", frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
        return _svg(figure)
