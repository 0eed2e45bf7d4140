"""Contract terms at their limits and every field of the values returned, as literals: written to
kill the mutants that survived in `bench/mutation.py contracts` (a boundary moved by one, a
message or a returned field set to None).  The survivors judged equivalent are listed with the
reason in bench/mutation-results.md."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from dagsync.contract import lifecycle as c


def terms(**changes: Any) -> c.ContractTerms:
    base: dict[str, Any] = {
        "start_date": dt.date(2026, 3, 15),
        "initial_term_months": 12,
        "renewal_term_months": 12,
        "tacit_renewal": True,
        "monthly_price": Decimal("100.00"),
    }
    return c.ContractTerms(**{**base, **changes})


def test_the_shortest_terms_and_the_zero_values_are_accepted() -> None:
    one = terms(initial_term_months=1, renewal_term_months=1, monthly_price=Decimal(0))
    assert c.minimum_term_end(one) == dt.date(2026, 4, 15)
    zero = terms(
        notice_jours_francs=0,
        unpaid_grace_days=0,
        cure_jours_ouvrables=0,
        price_notice_months=0,
        change_termination_days=0,
        termination_earliest_months=0,
        force_majeure_days=0,
    )
    assert c.service_change_window(zero, dt.date(2027, 1, 1)) == dt.date(2027, 1, 1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"initial_term_months": 0}, "contract terms must last at least one month"),
        ({"renewal_term_months": 0}, "contract terms must last at least one month"),
        ({"monthly_price": Decimal("-0.01")}, "monthly price cannot be negative: -0.01"),
        ({"notice_jours_francs": -1}, "contract delays cannot be negative"),
        ({"force_majeure_days": -1}, "contract delays cannot be negative"),
    ],
)
def test_impossible_terms_are_refused_with_their_reason(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(c.ContractError) as refused:
        terms(**changes)
    assert str(refused.value) == message


def test_a_contract_that_does_not_renew_ends_on_its_last_day_exactly() -> None:
    fixed = terms(tacit_renewal=False)
    # the notice ends on 3 February, the wanted date is 1 March: the 12th month decides,
    # on the last day of the contract, which is allowed
    result = c.early_termination(fixed, dt.date(2027, 1, 1), dt.date(2027, 3, 1))
    assert result == c.EarlyTermination(
        requested_on=dt.date(2027, 1, 1),
        effective_date=dt.date(2027, 3, 15),
        binding="minimum_term",
        period_start=dt.date(2026, 3, 15),
        months_due=12,
        amount_due=Decimal("1200.00"),
    )


def test_a_termination_after_the_end_of_a_contract_that_does_not_renew_is_refused() -> None:
    fixed = terms(tacit_renewal=False)
    with pytest.raises(c.ContractError) as refused:
        c.early_termination(fixed, dt.date(2027, 1, 1), dt.date(2027, 3, 16))
    assert str(refused.value) == (
        "the contract expires on 2027-03-15 without renewal, before the termination date 2027-03-16"
    )


def test_every_field_of_an_unpaid_renewal() -> None:
    assert c.unpaid_renewal(terms(), dt.date(2027, 3, 15)) == c.UnpaidRenewal(
        anniversary=dt.date(2027, 3, 15),
        service_stop=dt.date(2027, 3, 15),
        definitive_suspension=dt.date(2027, 3, 30),
    )


def test_an_unpaid_renewal_on_another_day_is_refused_with_the_date() -> None:
    with pytest.raises(c.ContractError) as refused:
        c.unpaid_renewal(terms(), dt.date(2027, 3, 16))
    assert str(refused.value) == "2027-03-16 is not a renewal date of the contract"


def test_every_field_of_a_price_increase_window() -> None:
    assert c.price_increase_window(terms(), dt.date(2027, 1, 31)) == c.PriceIncreaseWindow(
        notified_on=dt.date(2027, 1, 31),
        earliest_new_price=dt.date(2027, 2, 28),
        termination_deadline=dt.date(2027, 2, 28),
        applies_from=dt.date(2027, 3, 15),
    )


@pytest.mark.parametrize(
    ("day", "month_end"),
    [
        (dt.date(2027, 12, 31), dt.date(2028, 1, 31)),  # December into the next year
        (dt.date(2028, 1, 31), dt.date(2028, 2, 29)),  # a leap year
        (dt.date(2027, 1, 31), dt.date(2027, 2, 28)),
    ],
)
def test_adding_a_month_clamps_to_the_length_of_the_month(day: dt.date, month_end: dt.date) -> None:
    assert c.add_months(day, 1) == month_end
