"""Contract lifecycle: anniversaries, notices, early termination, unpaid renewals, windows."""

from __future__ import annotations

import datetime as dt
import doctest
from decimal import Decimal

import pytest

from dagsync.contract import lifecycle as contracts
from dagsync.contract.lifecycle import (
    ContractError,
    ContractTerms,
    add_months,
    anniversaries,
    contract_period,
    early_termination,
    force_majeure_termination_from,
    last_termination_notice,
    minimum_term_end,
    next_renewal,
    next_termination_opportunity,
    price_increase_window,
    service_change_window,
    started_months,
    unpaid_renewal,
)
from dagsync.errors import DagsyncError

D = dt.date


def terms(start: dt.date, *, tacit: bool = True, renewal: int = 12, **kw: int) -> ContractTerms:
    return ContractTerms(start, 12, renewal, tacit, Decimal("100.00"), **kw)


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(contracts, raise_on_error=False)
    assert result.attempted >= 20
    assert result.failed == 0


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2027, 1, 29), 1, D(2027, 2, 28)),
        (D(2027, 1, 30), 1, D(2027, 2, 28)),
        (D(2027, 1, 31), 1, D(2027, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2027, 3, 31), 1, D(2027, 4, 30)),
        (D(2027, 1, 31), 2, D(2027, 3, 31)),  # from the start, not chained via 28 Feb
        (D(2027, 12, 31), 2, D(2028, 2, 29)),  # across the year end
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
        (D(2028, 2, 29), 48, D(2032, 2, 29)),
        (D(2027, 5, 15), 0, D(2027, 5, 15)),
    ],
)
def test_add_months_clamps_to_the_last_day_of_shorter_months(
    start: dt.date, months: int, expected: dt.date
) -> None:
    assert add_months(start, months) == expected


def test_anniversaries_of_a_29_february_2028_start() -> None:
    assert anniversaries(terms(D(2028, 2, 29)), D(2032, 12, 31)) == (
        D(2029, 2, 28),
        D(2030, 2, 28),
        D(2031, 2, 28),
        D(2032, 2, 29),
    )


def test_anniversaries_of_a_31st_start_with_six_month_renewals_do_not_drift() -> None:
    # Initial 12 months, then 6: months 12, 18, 24, 30 counted from 31 August 2026.
    assert anniversaries(terms(D(2026, 8, 31), renewal=6), D(2029, 3, 1)) == (
        D(2027, 8, 31),
        D(2028, 2, 29),
        D(2028, 8, 31),
        D(2029, 2, 28),
    )


def test_without_tacit_renewal_the_contract_only_has_its_end() -> None:
    fixed = terms(D(2026, 3, 15), tacit=False)
    assert anniversaries(fixed, D(2030, 1, 1)) == (D(2027, 3, 15),)
    assert minimum_term_end(fixed) == D(2027, 3, 15)
    assert next_renewal(fixed, D(2026, 6, 1)) is None
    assert last_termination_notice(fixed, D(2026, 6, 1)) is None
    assert next_termination_opportunity(fixed, D(2026, 6, 1)) is None


def test_next_renewal_is_strictly_after_the_day_asked() -> None:
    t = terms(D(2026, 1, 30))
    assert next_renewal(t, D(2025, 12, 1)) == D(2027, 1, 30)  # before the start
    assert next_renewal(t, D(2027, 1, 29)) == D(2027, 1, 30)
    assert next_renewal(t, D(2027, 1, 30)) == D(2028, 1, 30)


def test_last_termination_notice_for_1_march_2027_anniversary_is_27_january() -> None:
    t = terms(D(2026, 3, 1))
    assert last_termination_notice(t, D(2026, 9, 1)) == D(2027, 1, 27)
    # Still the same anniversary (and a deadline already passed) until 1 March 2027.
    assert last_termination_notice(t, D(2027, 2, 15)) == D(2027, 1, 27)
    assert last_termination_notice(t, D(2027, 3, 1)) == D(2028, 1, 28)  # 2028 is leap


def test_a_request_one_day_late_reaches_only_the_following_anniversary() -> None:
    t = terms(D(2026, 3, 1))
    on_time = next_termination_opportunity(t, D(2027, 1, 27))
    late = next_termination_opportunity(t, D(2027, 1, 28))
    assert on_time is not None and on_time.anniversary == D(2027, 3, 1)
    assert late is not None
    assert (late.anniversary, late.last_notice) == (D(2028, 3, 1), D(2028, 1, 28))


def test_notice_deadline_across_the_year_end() -> None:
    # Anniversary 2 February 2028: 2 Feb - 33 days = Friday 31 December 2027.
    assert last_termination_notice(terms(D(2027, 2, 2)), D(2027, 6, 1)) == D(2027, 12, 31)


def test_early_termination_after_the_first_year_is_bound_by_the_notice() -> None:
    # Start 15 March 2026. Request Saturday 10 April 2027 for 30 April: 32 jours francs after
    # 10 April (11 April .. 12 May) -> effective Thursday 13 May 2027. Period started on
    # 15 March 2027: month 1 = 15 Mar-14 Apr, month 2 = 15 Apr-14 May, holding the last day of
    # service (12 May) -> 2 months x 100.00 = 200.00.
    result = early_termination(terms(D(2026, 3, 15)), D(2027, 4, 10), D(2027, 4, 30))
    assert result.effective_date == D(2027, 5, 13)
    assert result.binding == "notice"
    assert result.period_start == D(2027, 3, 15)
    assert (result.months_due, result.amount_due) == (2, Decimal("200.00"))


def test_early_termination_during_the_first_year_waits_for_month_12() -> None:
    # Request 1 February 2027 for 1 March: the notice would allow 6 March, but the 12th month
    # ends on 15 March 2027. The whole initial term is due: 12 x 100.00.
    result = early_termination(terms(D(2026, 3, 15)), D(2027, 2, 1), D(2027, 3, 1))
    assert (result.effective_date, result.binding) == (D(2027, 3, 15), "minimum_term")
    assert result.period_start == D(2026, 3, 15)
    assert (result.months_due, result.amount_due) == (12, Decimal("1200.00"))


def test_early_termination_of_a_31st_start_counts_started_months_from_the_31st() -> None:
    # Start 31 January 2026; the period begun 31 January 2027 has months starting 31 Jan,
    # 28 Feb, 31 Mar, 30 Apr. Effective 1 April: last day of service 31 March, in month 3.
    t = terms(D(2026, 1, 31))
    result = early_termination(t, D(2027, 1, 2), D(2027, 4, 1))
    assert (result.effective_date, result.binding) == (D(2027, 4, 1), "wanted")
    assert (result.months_due, result.amount_due) == (3, Decimal("300.00"))
    # Effective 31 March: last day 30 March, still in month 2.
    assert early_termination(t, D(2027, 1, 2), D(2027, 3, 31)).months_due == 2


def test_started_months_counts_a_single_day_as_a_month() -> None:
    assert started_months(D(2027, 3, 15), D(2027, 3, 15)) == 0
    assert started_months(D(2027, 3, 15), D(2027, 3, 16)) == 1
    assert started_months(D(2027, 3, 15), D(2027, 4, 15)) == 1
    assert started_months(D(2027, 3, 15), D(2027, 4, 16)) == 2


def test_early_termination_after_expiry_of_a_fixed_contract_is_refused() -> None:
    with pytest.raises(ContractError):
        early_termination(terms(D(2026, 3, 15), tacit=False), D(2027, 3, 1), D(2027, 6, 1))


def test_contract_period_starts_at_the_latest_anniversary() -> None:
    t = terms(D(2028, 2, 29))
    assert contract_period(t, D(2028, 2, 29)).start == D(2028, 2, 29)
    period = contract_period(t, D(2029, 2, 28))
    assert (period.start, period.end) == (D(2029, 2, 28), D(2030, 2, 28))


def test_unpaid_renewal_stops_on_the_anniversary_and_suspends_15_days_later() -> None:
    result = unpaid_renewal(terms(D(2026, 12, 20)), D(2027, 12, 20))
    assert result.service_stop == D(2027, 12, 20)
    assert result.definitive_suspension == D(2028, 1, 4)  # across the year end


def test_unpaid_renewal_requires_a_real_anniversary() -> None:
    with pytest.raises(ContractError):
        unpaid_renewal(terms(D(2026, 12, 20)), D(2027, 12, 21))
    with pytest.raises(ContractError):
        unpaid_renewal(terms(D(2026, 12, 20), tacit=False), D(2027, 12, 20))


def test_price_increase_applies_at_the_first_renewal_after_a_month() -> None:
    t = terms(D(2026, 3, 15))
    w = price_increase_window(t, D(2027, 1, 31))
    assert (w.earliest_new_price, w.termination_deadline) == (D(2027, 2, 28), D(2027, 2, 28))
    assert w.applies_from == D(2027, 3, 15)
    # Notified exactly one month before the anniversary: the renewal takes the new price.
    assert price_increase_window(t, D(2027, 2, 15)).applies_from == D(2027, 3, 15)
    # One day later it is too late for that renewal.
    assert price_increase_window(t, D(2027, 2, 16)).applies_from == D(2028, 3, 15)
    assert (
        price_increase_window(terms(D(2026, 3, 15), tacit=False), D(2027, 1, 2)).applies_from
        is None
    )


def test_service_change_and_force_majeure_windows() -> None:
    t = terms(D(2026, 3, 15))
    assert service_change_window(t, D(2027, 12, 15)) == D(2028, 1, 14)
    # Force majeure notified 1 March: 30 days = 2 .. 31 March; more than 30 -> from 1 April.
    assert force_majeure_termination_from(t, D(2027, 3, 1)) == D(2027, 4, 1)
    assert service_change_window(
        terms(D(2026, 3, 15), change_termination_days=15), D(2027, 12, 15)
    ) == D(2027, 12, 30)


def test_every_number_comes_from_the_terms() -> None:
    t = terms(D(2026, 3, 1), notice_jours_francs=60, unpaid_grace_days=10, force_majeure_days=10)
    assert last_termination_notice(t, D(2026, 6, 1)) == D(2026, 12, 30)
    assert unpaid_renewal(t, D(2027, 3, 1)).definitive_suspension == D(2027, 3, 11)
    assert force_majeure_termination_from(t, D(2027, 3, 1)) == D(2027, 3, 12)
    early = terms(D(2026, 3, 1), termination_earliest_months=6)
    assert early_termination(early, D(2026, 4, 1), D(2026, 4, 1)).effective_date == D(2026, 9, 1)


def test_inconsistent_terms_are_refused() -> None:
    with pytest.raises(DagsyncError):
        ContractTerms(D(2026, 3, 1), 0, 12, True, Decimal(100))
    with pytest.raises(ContractError):
        ContractTerms(D(2026, 3, 1), 12, 12, True, Decimal(-1))
    with pytest.raises(ContractError):
        terms(D(2026, 3, 1), notice_jours_francs=-1)
