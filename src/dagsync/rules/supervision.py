"""Supervision rules (CGV Art. 4): what is watched, and how often alerts and uptime checks run."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.common import ask_for_request


@rule(id="MON001", severity=ERROR, article="4", terms=("supervision_metrics",))
def metrics_watched(ctx: ClientContext) -> Iterator[Violation]:
    """CPU, RAM, disk, bandwidth, load and application/database connections are watched.

    What it checks:
        `supervision.metrics` contains every metric of `supervision_metrics` of the CGV
        version, unless the `supervision` section cites a client request.

        Accepted: every metric of the CGV, plus any other; fewer when the `supervision`
        section cites the client's request.

    Why:
        Article 4 promises "Supervision et métrologie du serveur 7/24" of these measures.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          metrics: [cpu, ram, disk, bandwidth, load]

    Passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          metrics: [cpu, ram, disk, bandwidth, load, app_connections, db_connections]

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          metrics: [cpu, ram, disk]
          request: REQ-2025-001

    Fix:
        Add the missing metrics, or cite the client's request in `supervision.request`.
    """
    wanted = ctx.policy.supervision_metrics.value
    for entry in ctx.servers:
        supervision = entry.model.supervision
        missing = [m for m in wanted if m not in supervision.metrics]
        if missing and supervision.request is None:
            yield Violation(
                entry.doc,
                ("supervision", "metrics"),
                "the CGV watches " + ", ".join(f"`{m}`" for m in missing) + " too: add "
                f"{'it' if len(missing) == 1 else 'them'}, or "
                + ask_for_request(ctx, "supervision"),
                server=entry.name,
            )


@rule(id="MON002", severity=ERROR, article="4", terms=("alert_interval_max_minutes",))
def alert_interval(ctx: ClientContext) -> Iterator[Violation]:
    """Incident alerts run at least as often as the CGV promises.

    What it checks:
        `supervision.alert_interval_minutes` is at most `alert_interval_max_minutes` of the
        CGV version, unless the `supervision` section cites a client request.

        Accepted: any interval up to the CGV's (checking more often is fine); a longer one
        when the `supervision` section cites the client's request.

    Why:
        Article 4: "Alerte automatique sur incident programmé toutes les 5min".

    Failing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 15

    Passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 2

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 1

    Fix:
        Check at least as often as the CGV says.
    """
    limit = ctx.policy.alert_interval_max_minutes.value
    for entry in ctx.servers:
        supervision = entry.model.supervision
        if supervision.alert_interval_minutes > limit and supervision.request is None:
            yield Violation(
                entry.doc,
                ("supervision", "alert_interval_minutes"),
                f"incident alerts every {supervision.alert_interval_minutes} minutes; the CGV "
                f"checks at least every {limit}: set `alert_interval_minutes: {limit}` or "
                "less, or " + ask_for_request(ctx, "supervision"),
                server=entry.name,
            )


@rule(id="MON003", severity=ERROR, article="4", terms=("uptime_interval_max_minutes",))
def uptime_interval(ctx: ClientContext) -> Iterator[Violation]:
    """Application uptime is checked at least as often as the CGV promises.

    What it checks:
        `supervision.uptime_interval_minutes` is at most `uptime_interval_max_minutes` of the
        CGV version, unless the `supervision` section cites a client request.

        Accepted: any interval up to the CGV's; a longer one when the `supervision` section
        cites the client's request.

    Why:
        Article 4: "Uptime applicatif avec alerte programmée toutes les 1min".

    Failing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          uptime_interval_minutes: 5

    Passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          uptime_interval_minutes: 1

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          uptime_interval_minutes: 15
          request: REQ-2025-001

    Fix:
        Check uptime as often as the CGV says.
    """
    limit = ctx.policy.uptime_interval_max_minutes.value
    for entry in ctx.servers:
        supervision = entry.model.supervision
        if supervision.uptime_interval_minutes > limit and supervision.request is None:
            yield Violation(
                entry.doc,
                ("supervision", "uptime_interval_minutes"),
                f"uptime checked every {supervision.uptime_interval_minutes} minutes; the CGV "
                f"checks at least every {limit}: set `uptime_interval_minutes: {limit}`, or "
                + ask_for_request(ctx, "supervision"),
                server=entry.name,
            )
