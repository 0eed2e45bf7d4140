"""Supervision rules (CGV Art. 4): what is watched, and how often alerts and uptime checks run."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.monitoring_budget import (
    ALERT_INTERVAL,
    UPTIME_INTERVAL,
    minimum_minutes,
    problems,
)
from dagsync.model.server import uptime_host, vhost_names
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

        Accepted: any interval up to the CGV's (checking more often is fine, as long as DAG's
        monitoring can keep it: MON004); a longer one when the `supervision` section cites
        the client's request.

    Why:
        Article 4: "Alerte automatique sur incident programmé toutes les 5min".

    Failing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 15

    Passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 5

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 15
          request: REQ-2025-001

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


@rule(
    id="MON004",
    severity=ERROR,
    article="4",
    terms=("alert_interval_max_minutes", "uptime_interval_max_minutes"),
)
def monitoring_keeps_the_intervals(ctx: ClientContext) -> Iterator[Violation]:
    """DAG's monitoring can alert within the server's declared intervals.

    What it checks:
        the worst case from a fault to the alert's notification (scrape, evaluation, the
        alert's `for`, Alertmanager's `group_wait`, the rate window for CPU), computed from
        `monitoring:` in policies/dag.yaml, fits in `supervision.alert_interval_minutes`; the
        probe interval plus `for` of the uptime alert fits in `uptime_interval_minutes`.

        Accepted: any interval the monitoring policies can keep (with policies/dag.yaml's
        timings, 5 minutes: CPU saturation is measured over a 2-minute rate window, then held
        2 minutes). The monitoring renderer leaves a
        server it cannot keep its promise to out of the shared monitoring hosts, with a plan
        note, and renders every other server.

    Why:
        Article 4: "Alerte automatique sur incident programmé toutes les 5min": a shorter
        interval than DAG's monitoring can keep is a promise nobody keeps.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 1

    Passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          alert_interval_minutes: 5

    Fix:
        Declare an interval the monitoring keeps (the message gives the shortest), or change
        the timings of `monitoring:` in policies/dag.yaml for every client.
    """
    monitoring = ctx.dag.monitoring
    if monitoring is None:
        return
    for entry in ctx.servers:
        found = problems(monitoring, entry.model.supervision)
        for field in (ALERT_INTERVAL, UPTIME_INTERVAL):
            mine = [p for p in found if p.field == field]
            if not mine:
                continue
            worst = max(mine, key=lambda p: p.delay)
            shortest = minimum_minutes(found, field)
            yield Violation(
                entry.doc,
                ("supervision", field),
                f"DAG's monitoring can send {worst.alert} only {worst.delay} s after a fault "
                f"({worst.why}), over the declared {worst.promise // 60} min: set "
                f"`{field}: {shortest}` or more, or change the timings of `monitoring:` in "
                "policies/dag.yaml",
                server=entry.name,
            )


@rule(id="MON005", severity=ERROR, article="4", terms=("uptime_interval_max_minutes",))
def uptime_urls_are_the_clients(ctx: ClientContext) -> Iterator[Violation]:
    """Uptime URLs are on the client's own sites.

    What it checks:
        the host of every `supervision.uptime_urls` entry is a `domain` or an alias of a vhost
        declared on one of the client's servers.

        Accepted: a URL on any of the client's vhost names, on any of its servers (a
        database server may watch the shop its web server serves).

    Why:
        Article 4 sells "Uptime applicatif" of the client's application. DAG's blackbox
        probe runs from DAG's monitoring hosts and mails its results to the client: a URL on
        somebody else's name would make DAG probe a third party every minute on a client's
        word, and report on it. The monitoring renderer leaves such a URL out again.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          uptime_urls: ["https://www.example.org/"]

    Passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          uptime_urls: ["https://alpine-books.example/health"]

    Fix:
        Probe one of the client's vhost names, or declare the vhost first.
    """
    names = vhost_names(e.model for e in ctx.servers)
    for entry in ctx.servers:
        for index, url in enumerate(entry.model.supervision.uptime_urls):
            host = uptime_host(url)
            if host not in names:
                known = ", ".join(f"`{n}`" for n in sorted(names)) or "none"
                yield Violation(
                    entry.doc,
                    ("supervision", "uptime_urls", index),
                    f"`{host}` is not one of the client's vhost names ({known}): probe one of "
                    "them, or declare the vhost first",
                    server=entry.name,
                )


@rule(id="MON006", severity=ERROR, article="4", terms=("alert_interval_max_minutes",))
def maintenance_names_the_clients_servers(ctx: ClientContext) -> Iterator[Violation]:
    """A planned maintenance names the client's own servers.

    What it checks:
        every name in the `servers` of a `maintenance` entry of client.yaml is one of the
        client's servers.

        Accepted: the client's server names; an empty list (every server of the client).

    Why:
        Article 5: DAG warns the client of the nature and probable duration of an
        intervention, and the monitoring of the servers concerned is silenced for its
        duration (Article 4's alerts). A misspelt name would silence nothing and tell the
        client about a server that does not exist.

    Failing example (clients/alpine-books/client.yaml):
        maintenance:
          - start: 2026-12-14T23:30
            duration_minutes: 60
            nature: Mise à jour du noyau
            request: REQ-2025-001
            servers: [shop2]

    Passing example (clients/alpine-books/client.yaml):
        maintenance:
          - start: 2026-12-14T23:30
            duration_minutes: 60
            nature: Mise à jour du noyau
            request: REQ-2025-001
            servers: [shop1]

    Fix:
        Name the servers as their files do (servers/<name>.yaml), or leave `servers` empty.
    """
    if ctx.unreadable_servers:
        return  # a server that failed its own checks may be the one named
    names = {e.name for e in ctx.servers}
    for index, window in enumerate(ctx.client.maintenance):
        for position, server in enumerate(window.servers):
            if server not in names:
                known = ", ".join(sorted(names)) or "none"
                yield Violation(
                    ctx.client_doc,
                    ("maintenance", index, "servers", position),
                    f"`{server}` is not one of the client's servers ({known}): name one of "
                    "them, or leave `servers` empty for all",
                )
