"""DAG's planned interventions (CGV Art. 5), declared in client.yaml `maintenance:`.

« DAG Technologies avertira alors préventivement [...] le Client en l'informant de la nature
et de la durée probable de l'intervention ». Each window becomes:

- an Alertmanager time interval (UTC, minute bounds, split per day) muting every route of
  the servers it concerns: no notification of theirs leaves during the intervention, to DAG's
  on-call or to the client (`amtool check-config` checks the file before activation);
- a recording rule `dagsync:maintenance` (exact time bounds), by which every alert of those
  servers is withheld in Prometheus itself (`unless`): the generated `promtool test rules`
  proof shows no alert inside the window, and the alert before and after it;
- a notice for the client (`notices/<client>.txt`): nature, start and probable duration in
  Paris time, and the request that records it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dagsync.model.client import Maintenance
from dagsync.validate.repository import ClientConfig

PARIS = ZoneInfo("Europe/Paris")
RECORD = "dagsync:maintenance"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Window:
    client: str
    servers: tuple[str, ...]
    request: str
    nature: str
    start: dt.datetime  # UTC, on a minute
    end: dt.datetime  # UTC, on a minute
    index: int = 0  # its place in the client's `maintenance:` list

    @property
    def name(self) -> str:
        return (
            f"maintenance {self.client} {self.index + 1} {self.request} {self.start:%Y%m%dT%H%MZ}"
        )


def bounds(m: Maintenance) -> tuple[dt.datetime, dt.datetime]:
    """UTC start (rounded down to the minute) and end (rounded up)."""
    start = m.start if m.start.tzinfo else m.start.replace(tzinfo=PARIS)
    start = start.astimezone(dt.UTC)
    end = start + dt.timedelta(minutes=m.duration_minutes)
    start = start.replace(second=0, microsecond=0)
    extra = (end.second + end.microsecond / 1e6) and 1
    end = end.replace(second=0, microsecond=0) + dt.timedelta(minutes=extra)
    return start, end


def windows(clients: Sequence[ClientConfig]) -> list[Window]:
    """Every declared window, with the names of the client's servers it concerns (an unknown
    server name concerns nothing)."""
    found = []
    for config in clients:
        names = [s.name for s in config.servers]
        for index, m in enumerate(config.client.maintenance):
            servers = tuple(n for n in names if not m.servers or n in m.servers)
            start, end = bounds(m)
            found.append(Window(config.id, servers, m.request, m.nature, start, end, index))
    return found


def time_interval(window: Window) -> dict[str, object]:
    """Alertmanager's time interval of one window: one entry per UTC day it touches."""
    entries = []
    day = window.start.date()
    while dt.datetime.combine(day, dt.time(), dt.UTC) < window.end:
        begin = max(window.start, dt.datetime.combine(day, dt.time(), dt.UTC))
        stop = min(window.end, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC))
        last = "24:00" if stop.date() != day else f"{stop:%H:%M}"
        entries.append(
            {
                "times": [{"start_time": f"{begin:%H:%M}", "end_time": last}],
                "days_of_month": [str(day.day)],
                "months": [str(day.month)],
                "years": [str(day.year)],
            }
        )
        day += dt.timedelta(days=1)
    return {"name": window.name, "time_intervals": entries}


def muted(found: Sequence[Window]) -> dict[tuple[str, str], list[str]]:
    """(client, server) -> the names of the windows muting it."""
    out: dict[tuple[str, str], list[str]] = {}
    for window in found:
        for server in window.servers:
            out.setdefault((window.client, server), []).append(window.name)
    return dict(sorted(out.items()))


def _epoch(moment: dt.datetime) -> int:
    return math.floor((moment - EPOCH).total_seconds())


def recording_rules(found: Sequence[Window]) -> list[dict[str, object]]:
    """`dagsync:maintenance` = 1 for each server, exactly while its window is open."""
    rules: list[dict[str, object]] = []
    for window in found:
        cond = f"vector(time()) >= {_epoch(window.start)} and vector(time()) < {_epoch(window.end)}"
        for server in window.servers:
            labels = {"client": window.client, "request": window.request, "server": server}
            rules.append(
                {"record": RECORD, "expr": f"vector(1) and on() ({cond})", "labels": labels}
            )
    return rules


def notice(config: ClientConfig, found: Sequence[Window]) -> str | None:
    """The text DAG sends the client (French, as the contract): one paragraph per window."""
    mine = [w for w in found if w.client == config.id]
    if not mine:
        return None
    lines = [
        f"Client : {config.client.name}",
        "Interventions techniques programmées par DAG Technologies (CGV, article 5).",
        "",
    ]
    for w in mine:
        start = w.start.astimezone(PARIS)
        minutes = int((w.end - w.start).total_seconds() // 60)
        hours, rest = divmod(minutes, 60)
        duration = f"{hours} h {rest:02d}" if hours else f"{rest} min"
        servers = ", ".join(w.servers) or "aucun serveur"
        lines += [
            f"- Le {start:%d/%m/%Y à %H:%M} (heure de Paris), durée probable {duration} : "
            f"{w.nature}.",
            f"  Serveurs concernés : {servers}. Référence : {w.request}.",
            "  La supervision de ces serveurs est suspendue pendant l'intervention.",
        ]
    return "\n".join(lines) + "\n"
