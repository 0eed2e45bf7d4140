"""Shared-mail storage overage (CGV Art. 6.1), from dated usage readings to warnings and bills.

The clause: "Le quota d'espace disque global est limité à 25Go par contrat d'infogérance
souscrit. En cas de dépassement de cette limite, DAG Technologies avertira le Client [...]. Si
après 30 jours, le Client reste toujours au-delà du quota de 25Go, une facturation
complémentaire de 10,00 Euros HT mensuel par tranche de 5Go de dépassement sera appliquée. La
limite maximum ne pourra pas dépasser 35Go [...]".

How the readings are read (every number is a field of :class:`MailQuotaTerms`):

- A reading is *over quota* when strictly above ``included_gb`` (25 GB itself is within it).
- An *episode* starts at the first reading over quota: the client is to be warned that day. It
  ends at the first later reading at or under the quota; the next excess is a new episode with
  a new warning and a new grace period (a dip under the quota resets the grace).
- The grace period: the ``grace_days`` days after the warning day. An episode becomes billable
  at a reading *after* the grace, i.e. dated at least ``grace_days + 1`` days after the
  warning, that is still over quota. Between readings nothing is assumed: an excess seen on
  day 0 and gone at the next reading on day 40 is never billed.
- Bills are per calendar month, and a month is billed in full ("mensuel"): each month holding
  at least one billable reading is charged ``slice_price`` per started ``slice_gb`` slice of the
  *largest* billable excess read that month (a storage ceiling: the client was warned and the
  peak is what DAG had to store; and it is easy to check). Excess above the hard limit is not
  billed: nothing can be stored above ``hard_limit_gb``.
- A reading at or above ``hard_limit_gb`` is reported: the mailboxes can no longer receive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import NamedTuple

from dagsync.errors import DagsyncError


class BillingError(DagsyncError):
    """Readings or quota terms that cannot be billed (negative usage, zero slice...)."""


class Reading(NamedTuple):
    """The mail storage of one contract measured on a day."""

    on: dt.date
    used_gb: Decimal


@dataclass(frozen=True)
class MailQuotaTerms:
    """CGV 6.1 numbers; the defaults are the CGV's."""

    included_gb: Decimal = Decimal(25)
    hard_limit_gb: Decimal = Decimal(35)
    slice_gb: Decimal = Decimal(5)
    slice_price: Decimal = Decimal("10.00")
    grace_days: int = 30

    def __post_init__(self) -> None:
        if self.slice_gb <= 0 or self.grace_days < 0 or self.slice_price < 0:
            raise BillingError("slice size must be positive, grace and price not negative")
        if not 0 <= self.included_gb <= self.hard_limit_gb:
            raise BillingError("the included quota must lie between 0 and the hard limit")


@dataclass(frozen=True)
class Episode:
    """One continuous excess: warned on ``warned_on``, billable from ``billable_from`` if still
    over quota then, over when usage was back under the quota on ``ended_on`` (None: ongoing).
    """

    warned_on: dt.date
    warned_used_gb: Decimal
    billable_from: dt.date
    ended_on: dt.date | None
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class BillableMonth:
    """One month of overage: ``slices`` started slices of ``max_excess_gb``."""

    month: str  # "YYYY-MM"
    max_excess_gb: Decimal
    slices: int
    amount: Decimal


@dataclass(frozen=True)
class OverageReport:
    """What the readings call for: warnings, monthly bills and hard-limit alerts."""

    episodes: tuple[Episode, ...]
    billable_months: tuple[BillableMonth, ...]
    hard_limit_readings: tuple[Reading, ...]

    @property
    def warnings(self) -> tuple[dt.date, ...]:
        """The days a warning is due: the first reading over quota of each episode."""
        return tuple(e.warned_on for e in self.episodes)

    @property
    def total(self) -> Decimal:
        return sum((m.amount for m in self.billable_months), Decimal("0.00"))

    @property
    def hard_limit_reached(self) -> bool:
        return bool(self.hard_limit_readings)


def slices_for(excess_gb: Decimal, terms: MailQuotaTerms) -> int:
    """Started slices in an excess, the excess capped at the hard limit.

    >>> t = MailQuotaTerms()
    >>> slices_for(Decimal(2), t), slices_for(Decimal(5), t), slices_for(Decimal("5.1"), t)
    (1, 1, 2)
    >>> slices_for(Decimal(40), t)  # nothing above 35 GB: at most 10 GB over
    2
    """
    capped = min(excess_gb, terms.hard_limit_gb - terms.included_gb)
    if capped <= 0:
        return 0
    return int((capped / terms.slice_gb).to_integral_value(rounding=ROUND_CEILING))


def _episodes(readings: tuple[Reading, ...], terms: MailQuotaTerms) -> tuple[Episode, ...]:
    found: list[Episode] = []
    current: list[Reading] = []
    for reading in readings:
        if reading.used_gb > terms.included_gb:
            current.append(reading)
        elif current:
            found.append(_episode(current, reading.on, terms))
            current = []
    if current:
        found.append(_episode(current, None, terms))
    return tuple(found)


def _episode(over: list[Reading], ended_on: dt.date | None, terms: MailQuotaTerms) -> Episode:
    first = over[0]
    billable_from = first.on + dt.timedelta(days=terms.grace_days + 1)
    return Episode(first.on, first.used_gb, billable_from, ended_on, tuple(over))


def _billable_months(
    episodes: tuple[Episode, ...], terms: MailQuotaTerms
) -> tuple[BillableMonth, ...]:
    peaks: dict[str, Decimal] = {}
    for episode in episodes:
        for reading in episode.readings:
            if reading.on >= episode.billable_from:
                month = f"{reading.on:%Y-%m}"
                excess = reading.used_gb - terms.included_gb
                peaks[month] = max(excess, peaks.get(month, excess))
    return tuple(_bill(month, peaks[month], terms) for month in sorted(peaks))


def _bill(month: str, excess: Decimal, terms: MailQuotaTerms) -> BillableMonth:
    slices = slices_for(excess, terms)
    return BillableMonth(month, excess, slices, slices * terms.slice_price)


def mail_overage(
    readings: Iterable[Reading | tuple[dt.date, Decimal]],
    terms: MailQuotaTerms | None = None,
) -> OverageReport:
    """Warnings, monthly bills and hard-limit alerts for one contract's mail readings.

    >>> day = dt.date(2027, 1, 4)
    >>> report = mail_overage([(day, Decimal(27)), (day + dt.timedelta(days=31), Decimal(27))])
    >>> report.warnings, report.billable_months[0].amount
    ((datetime.date(2027, 1, 4),), Decimal('10.00'))
    """
    terms = terms or MailQuotaTerms()
    ordered = tuple(sorted((Reading(*r) for r in readings), key=lambda r: r.on))
    negative = [r for r in ordered if r.used_gb < 0]
    if negative:
        raise BillingError(f"a mail usage cannot be negative: {negative[0]}")
    episodes = _episodes(ordered, terms)
    full = tuple(r for r in ordered if r.used_gb >= terms.hard_limit_gb)
    return OverageReport(episodes, _billable_months(episodes, terms), full)
