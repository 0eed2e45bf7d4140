"""The monthly client report as data: one record per section, each with its CGV article.

The JSON (`Report.as_json`) is the data behind the HTML page: every number the page shows is
a field here, and every field comes from one of dagsync's sources (Prometheus, the backup
archives, the mail usage history with `contract.billing`, the audit trail, `contract`).
A section whose source could not be read is *not monitored* (`monitored` false, with the
reason), never filled with invented figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

VERSION = 1


class Mark(StrEnum):
    """One server's backup on one day."""

    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    NOT_DUE = "not_due"  # a weekly backup's other days
    UNKNOWN = "unknown"  # older than the retention: the archives can no longer prove it


@dataclass(frozen=True)
class Month:
    """A calendar month, ``first`` to ``last`` included."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; raises ValueError otherwise."""
        year, _, month = text.partition("-")
        if len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
            raise ValueError(f"`{text}` is not a month (YYYY-MM)")
        dt.date(int(year), int(month), 1)  # ValueError for month 13
        return cls(int(year), int(month))

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def last(self) -> dt.date:
        return self.next.first - dt.timedelta(days=1)

    def days(self) -> tuple[dt.date, ...]:
        return tuple(self.first + dt.timedelta(days=i) for i in range(self.last.day))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


class Why(StrEnum):
    """Why a section has no data, in words the page translates (the reason gives details)."""

    NOT_READ = "not_read"  # the run read no host (--offline)
    UNREACHABLE = "unreachable"  # the source's hosts did not answer
    NO_SOURCE = "no_source"  # nothing measures it for this client (no probe, no reading...)
    NOT_SUBSCRIBED = "not_subscribed"  # not part of the contract (e.g. dedicated mail)
    UNREADABLE = "unreadable"  # the source answered something unusable


@dataclass(frozen=True)
class NotMonitored:
    """Why a section (or one server of it) has no data."""

    reason: str
    why: Why = Why.UNREADABLE


@dataclass(frozen=True)
class ServerAvailability:
    server: str
    daily: tuple[tuple[dt.date, float], ...]  # day -> ratio of successful probes (0..1)

    @property
    def month_ratio(self) -> float | None:
        """The mean of the daily ratios (each day weighs the same), None without samples."""
        return sum(r for _, r in self.daily) / len(self.daily) if self.daily else None


@dataclass(frozen=True)
class Availability:
    servers: tuple[ServerAvailability, ...]


@dataclass(frozen=True)
class ServerBackups:
    server: str
    frequency: str
    schedule: str
    retention_days: int
    marks: tuple[tuple[dt.date, Mark], ...]
    error: str | None = None  # the archives could not be listed: every mark is unknown


@dataclass(frozen=True)
class Backups:
    servers: tuple[ServerBackups, ...]


@dataclass(frozen=True)
class MailUsage:
    readings: tuple[tuple[dt.date, Decimal], ...]  # the month's readings, in GB
    included_gb: Decimal
    hard_limit_gb: Decimal
    warned_on: tuple[dt.date, ...]  # warnings due this month (first reading over quota)
    billed_excess_gb: Decimal | None  # the month's largest billable excess
    billed_slices: int
    billed_amount_eur: Decimal  # EUR HT, from contract.billing
    hard_limit_reached: bool


@dataclass(frozen=True)
class Change:
    applied_on: dt.date
    commit: str  # short hash
    subject: str
    requests: tuple[tuple[str, str], ...]  # (request id, summary)
    internal: bool
    reviewer: str | None  # who merged it (the reviewer's merge), None when not recorded
    result: str  # the apply records' results, e.g. "ok"


@dataclass(frozen=True)
class Changes:
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class PriceNotice:
    notified_on: dt.date
    effective_on: dt.date
    old_monthly_eur: Decimal
    new_monthly_eur: Decimal
    termination_deadline: dt.date | None  # Art. 8: an increase opens a termination window


@dataclass(frozen=True)
class ContractDates:
    monthly_price_eur: Decimal  # in effect on the month's last day
    next_anniversary: dt.date | None
    last_notice_day: dt.date | None
    price_notices: tuple[PriceNotice, ...]


@dataclass(frozen=True)
class FreezeDay:
    day: dt.date
    before: dt.date  # the weekend day or holiday that follows
    holiday: str | None  # the holiday's name, None for a weekend


@dataclass(frozen=True)
class Advice:
    month: Month
    freeze_days: tuple[FreezeDay, ...]


Section = Availability | Backups | MailUsage | Changes | ContractDates | Advice | NotMonitored
SECTIONS = ("availability", "backups", "mail", "changes", "contract", "advice")
ARTICLES = {
    "availability": "4",
    "backups": "4",
    "mail": "6.1",
    "changes": "4",
    "contract": "7, 8",
    "advice": "6.1",
}


@dataclass(frozen=True)
class Report:
    client: str
    client_name: str
    month: Month
    generated_on: dt.date
    availability: Availability | NotMonitored
    backups: Backups | NotMonitored
    mail: MailUsage | NotMonitored
    changes: Changes | NotMonitored
    contract: ContractDates | NotMonitored
    advice: Advice

    def section(self, name: str) -> Section:
        value: Section = getattr(self, name)
        return value

    def as_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "client": self.client,
            "client_name": self.client_name,
            "month": str(self.month),
            "generated_on": self.generated_on.isoformat(),
            "sections": {name: _section(name, self.section(name)) for name in SECTIONS},
        }


def _section(name: str, value: Section) -> dict[str, Any]:
    head: dict[str, Any] = {"article": ARTICLES[name]}
    if isinstance(value, NotMonitored):
        return {**head, "monitored": False, "why": value.why.value, "reason": value.reason}
    return {**head, "monitored": True, **_plain(value)}


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, dates to ISO text, Decimals to text (exact), enums to values."""
    if isinstance(value, Month):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        out = {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
        if isinstance(value, ServerAvailability):
            out["month_ratio"] = value.month_ratio
        return out
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
