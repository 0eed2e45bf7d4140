"""Deadlines across the two Alsace-Moselle holidays (Good Friday, 26 December), with the default
(national) calendar and with `alsace_moselle=True`: each function must both default to the
national calendar and pass the flag on.  Written to kill the mutants that survived in
`bench/mutation.py calendar` (a default flipped to True, the flag dropped or set to None).

2026: Good Friday is Friday 3 April, Easter Monday 6 April (national).
2025: 25 December is a Thursday, 26 December a Friday."""

from __future__ import annotations

import datetime as dt

import pytest

from dagsync.contract import calendar as cal

GOOD_FRIDAY = dt.date(2026, 4, 3)
SAINT_STEPHEN = dt.date(2025, 12, 26)


def d(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, day)


def test_good_friday_is_a_working_day_except_in_alsace_moselle() -> None:
    assert cal.is_jour_ouvrable(GOOD_FRIDAY) is True
    assert cal.is_jour_ouvrable(GOOD_FRIDAY, alsace_moselle=True) is False
    assert cal.is_jour_ouvre(GOOD_FRIDAY) is True
    assert cal.is_jour_ouvre(GOOD_FRIDAY, alsace_moselle=True) is False
    assert cal.is_jour_ouvre(SAINT_STEPHEN) is True
    assert cal.is_jour_ouvre(SAINT_STEPHEN, alsace_moselle=True) is False


@pytest.mark.parametrize(
    ("start", "national", "alsace"),
    [
        (d(2026, 4, 2), d(2026, 4, 3), d(2026, 4, 4)),  # Thu -> Fri, or Sat over Good Friday
        (d(2025, 12, 24), d(2025, 12, 26), d(2025, 12, 27)),  # Wed -> over Christmas
    ],
)
def test_add_jours_ouvrables_across_the_alsace_holidays(
    start: dt.date, national: dt.date, alsace: dt.date
) -> None:
    assert cal.add_jours_ouvrables(start, 1) == national
    assert cal.add_jours_ouvrables(start, 1, alsace_moselle=True) == alsace


def test_add_jours_ouvres_across_good_friday_and_easter_monday() -> None:
    assert cal.add_jours_ouvres(d(2026, 4, 2), 1) == d(2026, 4, 3)
    assert cal.add_jours_ouvres(d(2026, 4, 2), 1, alsace_moselle=True) == d(2026, 4, 7)


@pytest.mark.parametrize(
    ("start", "national", "alsace"),
    [
        (d(2026, 4, 4), d(2026, 4, 3), d(2026, 4, 2)),  # Sat -> Fri, or Thu over Good Friday
        (d(2025, 12, 27), d(2025, 12, 26), d(2025, 12, 24)),  # Sat -> Fri 26, or Wed 24
    ],
)
def test_sub_jours_ouvrables_across_the_alsace_holidays(
    start: dt.date, national: dt.date, alsace: dt.date
) -> None:
    assert cal.sub_jours_ouvrables(start, 1) == national
    assert cal.sub_jours_ouvrables(start, 1, alsace_moselle=True) == alsace


@pytest.mark.parametrize(
    ("start", "national", "alsace"),
    [
        (d(2026, 4, 7), d(2026, 4, 3), d(2026, 4, 2)),  # Tue -> over Easter Monday
        (d(2025, 12, 29), d(2025, 12, 26), d(2025, 12, 24)),  # Mon -> over the weekend
    ],
)
def test_sub_jours_ouvres_across_the_alsace_holidays(
    start: dt.date, national: dt.date, alsace: dt.date
) -> None:
    assert cal.sub_jours_ouvres(start, 1) == national
    assert cal.sub_jours_ouvres(start, 1, alsace_moselle=True) == alsace


def test_the_cautious_notice_date_moves_before_good_friday_only_in_alsace_moselle() -> None:
    target = GOOD_FRIDAY + dt.timedelta(days=33)  # Wednesday 6 May 2026
    assert cal.latest_notice_date(target, 32) == GOOD_FRIDAY
    assert cal.latest_notice_date(target, 32, on_jour_ouvre=True) == GOOD_FRIDAY
    assert cal.latest_notice_date(target, 32, on_jour_ouvre=True, alsace_moselle=True) == d(
        2026, 4, 2
    )
    # without on_jour_ouvre the flag changes nothing: e-mail is received on any day
    assert cal.latest_notice_date(target, 32, alsace_moselle=True) == GOOD_FRIDAY


@pytest.mark.parametrize(
    ("day", "national", "alsace"),
    [
        (GOOD_FRIDAY, GOOD_FRIDAY, d(2026, 4, 7)),  # Fri, Sat, Sun, Easter Monday skipped
        (SAINT_STEPHEN, SAINT_STEPHEN, d(2025, 12, 29)),
    ],
)
def test_extend_deadline_across_the_alsace_holidays(
    day: dt.date, national: dt.date, alsace: dt.date
) -> None:
    assert cal.extend_deadline(day) == national
    assert cal.extend_deadline(day, alsace_moselle=True) == alsace


def test_the_cure_deadline_counts_good_friday_only_outside_alsace_moselle() -> None:
    # from Monday 30 March 2026: 31, 1, 2, 3, 4, (Easter Monday), 7, 8
    assert cal.cure_deadline(d(2026, 3, 30)) == d(2026, 4, 8)
    # Alsace-Moselle: Good Friday does not count either
    assert cal.cure_deadline(d(2026, 3, 30), alsace_moselle=True) == d(2026, 4, 9)


def test_the_traffic_peak_notice_counts_good_friday_only_outside_alsace_moselle() -> None:
    # back from Monday 13 April 2026: 10, 9, 8, 7, (Easter Monday), 3, 2, 1, 31, 30, 27
    assert cal.traffic_peak_notice_deadline(d(2026, 4, 13)) == d(2026, 3, 27)
    assert cal.traffic_peak_notice_deadline(d(2026, 4, 13), alsace_moselle=True) == d(2026, 3, 26)


def test_the_deploy_freeze_on_the_eve_of_the_alsace_holidays() -> None:
    thursday = d(2026, 4, 2)
    assert cal.is_deploy_freeze(thursday) is False
    assert cal.is_deploy_freeze(thursday, alsace_moselle=True) is True


def test_negative_counts_are_refused_with_the_count() -> None:
    with pytest.raises(cal.CalendarError) as step:
        cal.add_jours_ouvres(GOOD_FRIDAY, -2)
    assert str(step.value) == "a number of days cannot be negative, got -2"
    with pytest.raises(cal.CalendarError) as notice:
        cal.latest_notice_date(GOOD_FRIDAY, -1)
    assert str(notice.value) == "a number of jours francs cannot be negative, got -1"
    with pytest.raises(cal.CalendarError) as after:
        cal.earliest_date_after_notice(GOOD_FRIDAY, -3)
    assert str(after.value) == "a number of jours francs cannot be negative, got -3"
