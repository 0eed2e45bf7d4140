"""Shared-mail overage (CGV 6.1): warnings, 30-day grace, 5 GB slices, 35 GB hard limit."""

from __future__ import annotations

import datetime as dt
import doctest
from decimal import Decimal

import pytest

from dagsync.contract import billing
from dagsync.contract.billing import BillingError, MailQuotaTerms, Reading, mail_overage, slices_for

WARNED = dt.date(2027, 1, 4)


def day(n: int) -> dt.date:
    """The n-th day after the warning day (day 0)."""
    return WARNED + dt.timedelta(days=n)


def gb(value: str) -> Decimal:
    return Decimal(value)


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(billing, raise_on_error=False)
    assert result.attempted >= 5
    assert result.failed == 0


@pytest.mark.parametrize(
    ("used", "slices", "amount"),
    [
        ("27", 1, "10.00"),  # 2 GB over: one started slice
        ("30", 1, "10.00"),  # exactly 5 GB over: still one slice
        ("30.1", 2, "20.00"),  # 5.1 GB over: a second slice is started
        ("35", 2, "20.00"),  # the hard limit: 10 GB over
    ],
)
def test_a_month_past_the_grace_is_billed_per_started_5_gb_slice(
    used: str, slices: int, amount: str
) -> None:
    report = mail_overage([(day(0), gb(used)), (day(31), gb(used))])
    assert report.warnings == (WARNED,)
    (month,) = report.billable_months
    assert (month.month, month.slices, month.amount) == ("2027-02", slices, Decimal(amount))
    assert month.max_excess_gb == gb(used) - 25


def test_no_bill_during_the_30_days_after_the_warning() -> None:
    # Day 30 is the last day of the grace ("après 30 jours"): still not billable.
    report = mail_overage([(day(0), gb("27")), (day(30), gb("27"))])
    assert report.warnings == (WARNED,)
    assert report.billable_months == ()
    assert report.episodes[0].billable_from == day(31)
    assert report.episodes[0].ended_on is None


def test_exactly_25_gb_is_within_the_quota() -> None:
    report = mail_overage([(day(0), gb("25")), (day(40), gb("25.00"))])
    assert report.episodes == ()
    assert report.total == Decimal("0.00")


def test_a_dip_under_the_quota_resets_the_grace() -> None:
    readings = [
        (day(0), gb("27")),  # warning 1
        (day(20), gb("24")),  # back under: episode 1 ends
        (day(25), gb("27")),  # warning 2, new 30 days
        (day(45), gb("28")),  # 45 days after the first warning, 20 after the second: no bill
        (day(56), gb("28")),  # 31 days after the second warning: billable
    ]
    report = mail_overage(readings)
    assert report.warnings == (day(0), day(25))
    assert report.episodes[0].ended_on == day(20)
    assert [(m.month, m.amount) for m in report.billable_months] == [("2027-03", Decimal("10.00"))]


def test_each_month_is_billed_on_its_largest_billable_excess() -> None:
    readings = [
        (day(0), gb("34")),  # 4 January: warned at 9 GB over
        (day(28), gb("33")),  # 1 February, in the grace: not billable, not counted
        (day(31), gb("27")),  # 4 February: billable, 2 GB over
        (day(45), gb("29")),  # 18 February: 4 GB over -> February peak, 1 slice
        (day(60), gb("31")),  # 5 March: 6 GB over -> 2 slices
        (day(70), gb("26")),  # 15 March: lower, the March peak stays 6 GB
    ]
    report = mail_overage(readings)
    assert [(m.month, m.max_excess_gb, m.slices, m.amount) for m in report.billable_months] == [
        ("2027-02", gb("4"), 1, Decimal("10.00")),
        ("2027-03", gb("6"), 2, Decimal("20.00")),
    ]
    assert report.total == Decimal("30.00")


def test_an_excess_that_ends_before_any_reading_after_the_grace_is_not_billed() -> None:
    report = mail_overage([(day(0), gb("30")), (day(40), gb("20"))])
    assert report.warnings == (WARNED,)
    assert report.billable_months == ()


def test_hard_limit_readings_are_flagged_and_nothing_above_35_gb_is_billed() -> None:
    readings = [(day(0), gb("34.9")), (day(10), gb("35")), (day(31), gb("36.5"))]
    report = mail_overage(readings)
    assert report.hard_limit_reached
    assert [r.on for r in report.hard_limit_readings] == [day(10), day(31)]
    (month,) = report.billable_months
    assert (month.slices, month.amount) == (2, Decimal("20.00"))
    assert not mail_overage([(day(0), gb("34.9"))]).hard_limit_reached


def test_readings_may_come_in_any_order() -> None:
    shuffled = [Reading(day(31), gb("27")), Reading(day(0), gb("27"))]
    assert mail_overage(shuffled).warnings == (WARNED,)
    assert len(mail_overage(shuffled).billable_months) == 1


def test_custom_terms_change_quota_slices_price_and_grace() -> None:
    terms = MailQuotaTerms(
        included_gb=gb("10"),
        hard_limit_gb=gb("50"),
        slice_gb=gb("2"),
        slice_price=Decimal("3.50"),
        grace_days=7,
    )
    report = mail_overage([(day(0), gb("15")), (day(8), gb("15"))], terms)
    (month,) = report.billable_months
    assert (month.month, month.slices, month.amount) == ("2027-01", 3, Decimal("10.50"))
    assert slices_for(gb("40"), terms) == 20


def test_invalid_readings_and_terms_are_refused() -> None:
    with pytest.raises(BillingError):
        mail_overage([(day(0), gb("-1"))])
    with pytest.raises(BillingError):
        MailQuotaTerms(slice_gb=gb("0"))
    with pytest.raises(BillingError):
        MailQuotaTerms(included_gb=gb("40"))
