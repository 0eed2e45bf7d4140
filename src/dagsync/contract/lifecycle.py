"""Contract lifecycle dates and amounts (CGV Articles 5, 7, 8 and 9), as pure functions.

Every number is a field of :class:`ContractTerms` whose default is the CGV's; the policy file
of the CGV version a contract was signed under supplies the real values.

Month arithmetic (:func:`add_months`) follows art. 641 of the Code de procédure civile: a delay
in months ends on the day of the month with the same number, or on the last day of the month
when there is none (31 January + 1 month = 28 or 29 February). Dates are always computed
from the start date, never chained: month 2 of a period starting 31 January begins on
28 February and month 3 on 31 March (not 28 March). A contract started on 29 February 2028
renews on 28 February 2029, 2030 and 2031, then on 29 February 2032.

An *anniversary* is the first day of a new contract period. A termination *effective* on a date
means the service ends at the start of that date: the last day of service is the day before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Literal

from dagsync.contract.calendar import earliest_date_after_notice, latest_notice_date
from dagsync.errors import DagsyncError

_ONE_DAY = dt.timedelta(days=1)


class ContractError(DagsyncError):
    """Contract terms or a request about them are inconsistent."""


@dataclass(frozen=True)
class ContractTerms:
    """The dates and numbers of one contract; defaults are the CGV's.

    >>> ContractTerms(dt.date(2026, 3, 15), 12, 12, True, Decimal("100")).notice_jours_francs
    32
    """

    start_date: dt.date
    initial_term_months: int
    renewal_term_months: int
    tacit_renewal: bool
    monthly_price: Decimal
    notice_jours_francs: int = 32  # Art. 7
    unpaid_grace_days: int = 15  # Art. 8
    cure_jours_ouvrables: int = 7  # Art. 7
    price_notice_months: int = 1  # Art. 8
    change_termination_days: int = 30  # Art. 9
    termination_earliest_months: int = 12  # Art. 7 "A partir du 12ème mois de contrat échu"
    force_majeure_days: int = 30  # Art. 5

    def __post_init__(self) -> None:
        if self.initial_term_months < 1 or self.renewal_term_months < 1:
            raise ContractError("contract terms must last at least one month")
        if self.monthly_price < 0:
            raise ContractError(f"monthly price cannot be negative: {self.monthly_price}")
        counts = (
            self.notice_jours_francs,
            self.unpaid_grace_days,
            self.cure_jours_ouvrables,
            self.price_notice_months,
            self.change_termination_days,
            self.termination_earliest_months,
            self.force_majeure_days,
        )
        if min(counts) < 0:
            raise ContractError("contract delays cannot be negative")


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` plus ``months`` months, clamped to the last day of a shorter month.

    >>> add_months(dt.date(2027, 1, 31), 1), add_months(dt.date(2028, 2, 29), 12)
    (datetime.date(2027, 2, 28), datetime.date(2029, 2, 28))
    >>> add_months(dt.date(2027, 3, 31), -1)
    datetime.date(2027, 2, 28)
    """
    year, month0 = divmod(d.year * 12 + d.month - 1 + months, 12)
    return dt.date(year, month0 + 1, min(d.day, _days_in_month(year, month0 + 1)))


def _days_in_month(year: int, month: int) -> int:
    first_of_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return (first_of_next - _ONE_DAY).day


def _anniversary(terms: ContractTerms, k: int) -> dt.date:
    """The k-th anniversary (k >= 1): the end of the initial term, then of each renewal."""
    months = terms.initial_term_months + (k - 1) * terms.renewal_term_months
    return add_months(terms.start_date, months)


def minimum_term_end(terms: ContractTerms) -> dt.date:
    """The end of the initial term: the first anniversary (Art. 7, "12 mois minimum").

    >>> minimum_term_end(ContractTerms(dt.date(2026, 3, 31), 12, 12, True, Decimal(100)))
    datetime.date(2027, 3, 31)
    """
    return _anniversary(terms, 1)


def anniversaries(terms: ContractTerms, until: dt.date) -> tuple[dt.date, ...]:
    """The anniversaries up to ``until`` included; without tacit renewal, at most the end of
    the initial term (the contract expires there).

    >>> terms = ContractTerms(dt.date(2028, 2, 29), 12, 12, True, Decimal(100))
    >>> [d.isoformat() for d in anniversaries(terms, dt.date(2032, 3, 1))]
    ['2029-02-28', '2030-02-28', '2031-02-28', '2032-02-29']
    """
    found: list[dt.date] = []
    for k in count(1):
        anniversary = _anniversary(terms, k)
        if anniversary > until or (k > 1 and not terms.tacit_renewal):
            return tuple(found)
        found.append(anniversary)
    raise AssertionError("unreachable")  # pragma: no cover


def next_renewal(terms: ContractTerms, on: dt.date) -> dt.date | None:
    """The first anniversary strictly after ``on`` (on an anniversary, the contract has just
    renewed: the answer is the following one); None without tacit renewal.

    >>> terms = ContractTerms(dt.date(2026, 3, 15), 12, 12, True, Decimal(100))
    >>> next_renewal(terms, dt.date(2027, 3, 14)), next_renewal(terms, dt.date(2027, 3, 15))
    (datetime.date(2027, 3, 15), datetime.date(2028, 3, 15))
    """
    if not terms.tacit_renewal:
        return None
    return next(a for k in count(1) if (a := _anniversary(terms, k)) > on)


@dataclass(frozen=True)
class ContractPeriod:
    """One contract period: the initial term or a renewal, ``start`` included, ``end`` not."""

    start: dt.date
    end: dt.date


def contract_period(terms: ContractTerms, day: dt.date) -> ContractPeriod:
    """The contract period that contains ``day`` (the initial term for days before its end).

    >>> terms = ContractTerms(dt.date(2026, 3, 15), 12, 12, True, Decimal(100))
    >>> contract_period(terms, dt.date(2027, 6, 1))
    ContractPeriod(start=datetime.date(2027, 3, 15), end=datetime.date(2028, 3, 15))
    """
    start = terms.start_date
    for k in count(1):
        end = _anniversary(terms, k)
        if day < end:
            return ContractPeriod(start, end)
        start = end
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class RenewalNotice:
    """A termination at ``anniversary`` needs a request received by ``last_notice``."""

    anniversary: dt.date
    last_notice: dt.date


def last_termination_notice(terms: ContractTerms, on: dt.date) -> dt.date | None:
    """The last day a termination request for the next anniversary (after ``on``) can be
    received (Art. 7: "32 jours francs précédant la date anniversaire"); it may be before
    ``on`` when it is already too late. None without tacit renewal (nothing to stop).

    >>> terms = ContractTerms(dt.date(2026, 3, 1), 12, 12, True, Decimal(100))
    >>> last_termination_notice(terms, dt.date(2026, 6, 1))
    datetime.date(2027, 1, 27)
    """
    renewal = next_renewal(terms, on)
    if renewal is None:
        return None
    return latest_notice_date(renewal, terms.notice_jours_francs)


def next_termination_opportunity(terms: ContractTerms, on: dt.date) -> RenewalNotice | None:
    """The first anniversary after ``on`` that a request received on ``on`` still reaches.

    >>> terms = ContractTerms(dt.date(2026, 3, 1), 12, 12, True, Decimal(100))
    >>> next_termination_opportunity(terms, dt.date(2027, 1, 28)).anniversary
    datetime.date(2028, 3, 1)
    """
    if not terms.tacit_renewal:
        return None
    for k in count(1):
        anniversary = _anniversary(terms, k)
        last_notice = latest_notice_date(anniversary, terms.notice_jours_francs)
        if anniversary > on and last_notice >= on:
            return RenewalNotice(anniversary, last_notice)
    raise AssertionError("unreachable")  # pragma: no cover


Binding = Literal["wanted", "notice", "minimum_term"]


@dataclass(frozen=True)
class EarlyTermination:
    """Art. 7, termination before the anniversary.

    ``effective_date`` is the latest of the wanted date, the end of the notice
    (``notice_jours_francs`` whole days after the request) and the end of the
    ``termination_earliest_months``-th month of contract; ``binding`` says which one decided.
    ``months_due`` counts the months of use started in the contract period that contains the
    last day of service (``period_start`` to ``effective_date``, each month measured from
    ``period_start``); ``amount_due`` is ``months_due * monthly_price`` ("tout mois entamé sera
    dû entièrement"), before deducting what was paid in advance.
    """

    requested_on: dt.date
    effective_date: dt.date
    binding: Binding
    period_start: dt.date
    months_due: int
    amount_due: Decimal


def started_months(start: dt.date, end: dt.date) -> int:
    """The number of months, measured from ``start``, that the days ``[start, end)`` touch.

    >>> started_months(dt.date(2027, 3, 15), dt.date(2027, 5, 15))
    2
    >>> started_months(dt.date(2027, 3, 15), dt.date(2027, 5, 16))
    3
    """
    return next(m for m in count(0) if add_months(start, m) >= end)


def early_termination(
    terms: ContractTerms, requested_on: dt.date, wanted_date: dt.date
) -> EarlyTermination:
    """When a termination requested on ``requested_on`` for ``wanted_date`` takes effect, and
    what the months of use cost.

    >>> terms = ContractTerms(dt.date(2026, 3, 15), 12, 12, True, Decimal("100.00"))
    >>> t = early_termination(terms, dt.date(2027, 4, 10), dt.date(2027, 4, 30))
    >>> t.effective_date, t.binding, t.months_due, t.amount_due
    (datetime.date(2027, 5, 13), 'notice', 2, Decimal('200.00'))
    """
    candidates: tuple[tuple[dt.date, Binding], ...] = (
        (wanted_date, "wanted"),
        (earliest_date_after_notice(requested_on, terms.notice_jours_francs), "notice"),
        (add_months(terms.start_date, terms.termination_earliest_months), "minimum_term"),
    )
    effective, binding = max(candidates, key=lambda c: c[0])
    if not terms.tacit_renewal and effective > minimum_term_end(terms):
        raise ContractError(
            f"the contract expires on {minimum_term_end(terms)} without renewal, "
            f"before the termination date {effective}"
        )
    period = contract_period(terms, effective - _ONE_DAY)
    months = started_months(period.start, effective)
    return EarlyTermination(
        requested_on, effective, binding, period.start, months, months * terms.monthly_price
    )


@dataclass(frozen=True)
class UnpaidRenewal:
    """Art. 8: an unpaid renewal stops the service on the anniversary and suspends the
    infogérance definitively ``unpaid_grace_days`` days later, unless paid in between."""

    anniversary: dt.date
    service_stop: dt.date
    definitive_suspension: dt.date


def unpaid_renewal(terms: ContractTerms, anniversary: dt.date) -> UnpaidRenewal:
    """The stop and suspension dates when the renewal at ``anniversary`` is not paid.

    >>> terms = ContractTerms(dt.date(2026, 12, 20), 12, 12, True, Decimal(100))
    >>> unpaid_renewal(terms, dt.date(2027, 12, 20)).definitive_suspension
    datetime.date(2028, 1, 4)
    """
    if anniversary not in anniversaries(terms, anniversary) or not terms.tacit_renewal:
        raise ContractError(f"{anniversary} is not a renewal date of the contract")
    suspension = anniversary + terms.unpaid_grace_days * _ONE_DAY
    return UnpaidRenewal(anniversary, anniversary, suspension)


@dataclass(frozen=True)
class PriceIncreaseWindow:
    """Art. 8, a less favourable price notified on ``notified_on``.

    ``earliest_new_price``: the new price may not apply before ``price_notice_months`` months
    after the information ("en informer le Client un mois à l'avance").
    ``termination_deadline``: the last day (included) the client may terminate without penalty
    ("un délai d'un mois pour résilier", counted from the information as art. 641 CPC does).
    ``applies_from``: the contract's price being guaranteed for its period, the first renewal
    on or after ``earliest_new_price`` ("applicables ... au moment de leur renouvellement");
    None when the contract does not renew.
    """

    notified_on: dt.date
    earliest_new_price: dt.date
    termination_deadline: dt.date
    applies_from: dt.date | None


def price_increase_window(terms: ContractTerms, notified_on: dt.date) -> PriceIncreaseWindow:
    """The dates that follow the notice of a price increase.

    >>> terms = ContractTerms(dt.date(2026, 3, 15), 12, 12, True, Decimal(100))
    >>> w = price_increase_window(terms, dt.date(2027, 1, 31))
    >>> w.earliest_new_price, w.termination_deadline, w.applies_from
    (datetime.date(2027, 2, 28), datetime.date(2027, 2, 28), datetime.date(2027, 3, 15))
    """
    earliest = add_months(notified_on, terms.price_notice_months)
    applies_from = next_renewal(terms, earliest - _ONE_DAY)
    return PriceIncreaseWindow(notified_on, earliest, earliest, applies_from)


def service_change_window(terms: ContractTerms, effective_on: dt.date) -> dt.date:
    """The last day (included) the client may terminate after a change of the service or of
    the CGV that took effect on ``effective_on`` (Art. 9: "dans un délai de trente jours à
    compter de l'entrée en vigueur"); the day of effect itself is not counted.

    >>> terms = ContractTerms(dt.date(2026, 3, 15), 12, 12, True, Decimal(100))
    >>> service_change_window(terms, dt.date(2027, 12, 15))
    datetime.date(2028, 1, 14)
    """
    return effective_on + terms.change_termination_days * _ONE_DAY


def force_majeure_termination_from(terms: ContractTerms, notified_on: dt.date) -> dt.date:
    """The first day either party may terminate for force majeure notified on ``notified_on``
    if its effects still last (Art. 5: "une durée supérieure à 30 jours, à compter de sa
    notification"): the 30 days run from the day after the notice, so "more than 30 days"
    is reached on the 31st day after it.

    >>> terms = ContractTerms(dt.date(2026, 3, 15), 12, 12, True, Decimal(100))
    >>> force_majeure_termination_from(terms, dt.date(2027, 3, 1))
    datetime.date(2027, 4, 1)
    """
    return notified_on + (terms.force_majeure_days + 1) * _ONE_DAY
