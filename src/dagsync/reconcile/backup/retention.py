"""Is a server's backup fresh, and does its repository keep what the YAML declares? Pure.

Freshness: the newest archive must be younger than `MAX_AGE` (26 hours: a daily backup plus
two hours of slack for a slow night).  Retention: the archives in the repository must be
exactly those `borg prune --keep-daily N` (or `--keep-weekly`) would keep; an archive it
would delete means prune did not run, and fewer archives than declared while older days
exist cannot happen with prune, so it is reported as well.  Days and weeks are counted in
the server's local time, as borg does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from dagsync.model.server import Frequency
from dagsync.reconcile.backup.borgjson import Archive
from dagsync.reconcile.backup.job import Retention

MAX_AGE = dt.timedelta(hours=26)
WEEKLY_MAX_AGE = dt.timedelta(days=7, hours=2)


@dataclass(frozen=True)
class Freshness:
    newest: Archive | None
    age: dt.timedelta | None
    limit: dt.timedelta

    @property
    def ok(self) -> bool:
        return self.age is not None and self.age < self.limit

    def describe(self) -> str:
        if self.newest is None or self.age is None:
            return "no archive at all"
        hours = self.age.total_seconds() / 3600
        verdict = "ok" if self.ok else f"TOO OLD (limit {_hours(self.limit)})"
        return f"newest {self.newest.name} at {self.newest.time:%Y-%m-%d %H:%M %z}, {hours:.1f} h ago: {verdict}"


@dataclass(frozen=True)
class RetentionCheck:
    declared: Retention
    kept: tuple[Archive, ...]  # what prune keeps
    extra: tuple[Archive, ...]  # in the repository but prune would delete them

    @property
    def ok(self) -> bool:
        return not self.extra

    def describe(self) -> str:
        n = len(self.kept)
        base = (
            f"{n} {self.declared.rule} archive(s) kept, declared {self.declared.count} "
            f"({self.declared.days} days)"
        )
        if self.extra:
            return f"{base}: {len(self.extra)} archive(s) beyond the retention (prune not run?)"
        building = " (still building up)" if n < self.declared.count else ""
        return f"{base}: ok{building}"


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def age_limit(frequency: Frequency) -> dt.timedelta:
    return MAX_AGE if frequency is Frequency.DAILY else WEEKLY_MAX_AGE


def freshness(archives: Sequence[Archive], now: dt.datetime, frequency: Frequency) -> Freshness:
    newest = max(archives, default=None)
    age = None if newest is None else now - newest.time
    return Freshness(newest, age, age_limit(frequency))


def _period(archive: Archive, rule: str) -> tuple[int, int] | dt.date:
    day = archive.time.date()  # the archive's own (server-local) offset, as borg counts
    if rule == "daily":
        return day
    iso = day.isocalendar()
    return (iso.year, iso.week)


def kept_by_prune(archives: Sequence[Archive], retention: Retention) -> tuple[Archive, ...]:
    """The archives `borg prune --keep-<rule> N` keeps: the newest of each of the N newest
    periods (borg's algorithm, for one rule)."""
    kept: list[Archive] = []
    seen: set[object] = set()
    for archive in sorted(archives, reverse=True):
        period = _period(archive, retention.rule)
        if period in seen:
            continue
        seen.add(period)
        kept.append(archive)
        if len(kept) == retention.count:
            break
    return tuple(sorted(kept))


def check_retention(archives: Sequence[Archive], retention: Retention) -> RetentionCheck:
    kept = kept_by_prune(archives, retention)
    extra = tuple(a for a in sorted(archives) if a not in kept)
    return RetentionCheck(retention, kept, extra)
