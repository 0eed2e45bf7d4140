"""French business-day arithmetic: worked examples of the CGV deadlines."""

from __future__ import annotations

import datetime as dt
import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagsync.contract import calendar
from dagsync.contract.calendar import (
    CalendarError,
    add_jours_ouvrables,
    add_jours_ouvres,
    cure_deadline,
    earliest_date_after_notice,
    extend_deadline,
    is_deploy_freeze,
    is_jour_ouvrable,
    is_jour_ouvre,
    is_public_holiday,
    latest_notice_date,
    public_holidays,
    sub_jours_ouvres,
    traffic_peak_notice_deadline,
)
from dagsync.errors import DagsyncError

D = dt.date


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(calendar, raise_on_error=False)
    assert result.attempted >= 20
    assert result.failed == 0


def test_last_notice_for_1_march_2027_anniversary_is_27_january() -> None:
    # 32 jours francs strictly between receipt and anniversary: 28-31 January (4 days) and
    # the whole of February 2027 (28 days). A notice received on 28 January leaves only 31.
    assert latest_notice_date(D(2027, 3, 1), 32) == D(2027, 1, 27)
    whole_days_between = (D(2027, 3, 1) - D(2027, 1, 27)).days - 1
    assert whole_days_between == 32


def test_last_notice_is_not_moved_by_weekends_unless_asked() -> None:
    # 2 February 2028 - 33 days = Friday 31 December 2027, a jour ouvré: unchanged either way.
    assert latest_notice_date(D(2028, 2, 2), 32) == D(2027, 12, 31)
    assert latest_notice_date(D(2028, 2, 2), 32, on_jour_ouvre=True) == D(2027, 12, 31)
    # 3 February 2028 - 33 days = Saturday 1 January 2028 (also New Year's Day): an e-mail can
    # arrive that day, but the cautious date goes back to Friday 31 December 2027.
    assert latest_notice_date(D(2028, 2, 3), 32) == D(2028, 1, 1)
    assert latest_notice_date(D(2028, 2, 3), 32, on_jour_ouvre=True) == D(2027, 12, 31)


@given(st.dates(D(2000, 1, 1), D(2090, 12, 31)), st.integers(0, 400))
def test_earliest_date_after_notice_inverts_latest_notice_date(target: dt.date, n: int) -> None:
    latest = latest_notice_date(target, n)
    assert earliest_date_after_notice(latest, n) == target
    assert (target - latest).days - 1 == n


def test_cure_period_from_thursday_29_april_2027_crosses_may_holidays() -> None:
    # Letter first presented Thursday 29 April 2027; that day does not count. Jours ouvrables:
    #   Fri 30 Apr (1); Sat 1 May is Labour Day, Sun 2 May is a Sunday: skipped;
    #   Mon 3 (2), Tue 4 (3), Wed 5 (4); Thu 6 May is Ascension: skipped; Fri 7 (5);
    #   Sat 8 May is Victory Day, Sun 9 a Sunday: skipped; Mon 10 (6), Tue 11 (7).
    assert cure_deadline(D(2027, 4, 29)) == D(2027, 5, 11)


def test_cure_period_after_whit_monday() -> None:
    # First presented Saturday 15 May 2027: Sun 16 and Whit Monday 17 are skipped;
    # Tue 18 (1), Wed 19 (2), Thu 20 (3), Fri 21 (4), Sat 22 (5), Mon 24 (6), Tue 25 (7).
    assert cure_deadline(D(2027, 5, 15)) == D(2027, 5, 25)


def test_cure_period_can_end_on_a_saturday_and_art_642_extends_it() -> None:
    # First presented Friday 4 June 2027: Sat 5 (1), Mon 7 (2) .. Fri 11 (6), Sat 12 (7).
    assert cure_deadline(D(2027, 6, 4)) == D(2027, 6, 12)
    # Art. 642 CPC: a delay ending on a Saturday runs to the next jour ouvré, Monday 14 June.
    assert extend_deadline(D(2027, 6, 12)) == D(2027, 6, 14)


def test_cure_period_across_new_year() -> None:
    # Tue 28 Dec 2027: Wed 29 (1), Thu 30 (2), Fri 31 (3), Sat 1 Jan 2028 is New Year's Day,
    # Sun 2 skipped, Mon 3 (4), Tue 4 (5), Wed 5 (6), Thu 6 (7).
    assert cure_deadline(D(2027, 12, 28)) == D(2028, 1, 6)


def test_eve_of_ascension_2027_is_a_deploy_freeze_day() -> None:
    assert is_public_holiday(D(2027, 5, 6))  # Ascension Thursday
    assert is_deploy_freeze(D(2027, 5, 5))  # Wednesday, its eve
    assert not is_deploy_freeze(D(2027, 5, 4))
    # The holiday itself is followed by an ordinary Friday: not an eve.
    assert not is_deploy_freeze(D(2027, 5, 6))


def test_fridays_and_saturdays_are_freeze_days_sundays_only_before_a_holiday() -> None:
    week = [D(2027, 6, 7) + dt.timedelta(days=i) for i in range(7)]  # Mon 7 .. Sun 13 June
    assert [is_deploy_freeze(d) for d in week] == [False] * 4 + [True, True, False]
    # Sunday 16 May 2027 is the eve of Whit Monday.
    assert is_deploy_freeze(D(2027, 5, 16))


def test_year_end_holidays_make_freezes_and_skip_business_days() -> None:
    assert is_deploy_freeze(D(2026, 12, 24))  # Thursday, eve of Christmas (a Friday)
    assert is_deploy_freeze(D(2026, 12, 31))  # Thursday, eve of New Year's Day
    assert not is_deploy_freeze(D(2026, 12, 29))
    # Wed 23 Dec 2026: Thu 24 (1), Fri 25 Christmas, Sat, Sun, Mon 28 (2), Tue 29 (3).
    assert add_jours_ouvres(D(2026, 12, 23), 3) == D(2026, 12, 29)
    # Counting back over the year end: Mon 4 Jan 2027 -> Fri 1 Jan is a holiday -> Thu 31 Dec.
    assert sub_jours_ouvres(D(2027, 1, 4), 1) == D(2026, 12, 31)


def test_whit_monday_is_a_public_holiday() -> None:
    assert is_public_holiday(D(2027, 5, 17))
    assert not is_jour_ouvre(D(2027, 5, 17))
    assert not is_jour_ouvrable(D(2027, 5, 17))
    assert add_jours_ouvres(D(2027, 5, 14), 1) == D(2027, 5, 18)  # Fri -> Tue


def test_saturday_is_ouvrable_but_not_ouvre() -> None:
    saturday = D(2027, 6, 12)
    assert is_jour_ouvrable(saturday)
    assert not is_jour_ouvre(saturday)
    assert add_jours_ouvrables(D(2027, 6, 11), 1) == saturday
    assert add_jours_ouvres(D(2027, 6, 11), 1) == D(2027, 6, 14)


def test_alsace_moselle_adds_good_friday_and_26_december() -> None:
    good_friday = D(2027, 3, 26)
    assert not is_public_holiday(good_friday)
    assert is_public_holiday(good_friday, alsace_moselle=True)
    assert not is_deploy_freeze(D(2027, 3, 25))
    assert is_deploy_freeze(D(2027, 3, 25), alsace_moselle=True)
    # Christmas 2028 is a Monday; 26 December is a Tuesday.
    assert add_jours_ouvres(D(2028, 12, 22), 1) == D(2028, 12, 26)
    assert add_jours_ouvres(D(2028, 12, 22), 1, alsace_moselle=True) == D(2028, 12, 27)


@pytest.mark.parametrize("year", range(2024, 2032))
def test_metropolitan_france_has_eleven_public_holidays(year: int) -> None:
    assert len(public_holidays(year)) == 11
    assert len(public_holidays(year, alsace_moselle=True)) == 13


def test_public_holidays_cannot_be_altered_by_callers() -> None:
    with pytest.raises(TypeError):
        public_holidays(2027)[D(2027, 6, 1)] = "Not a holiday"  # type: ignore[index]
    assert not is_public_holiday(D(2027, 6, 1))


def test_traffic_peak_notice_is_ten_jours_ouvres_before_the_event() -> None:
    assert traffic_peak_notice_deadline(D(2027, 3, 15)) == D(2027, 3, 1)
    # Event Tuesday 18 May 2027, counting back: Mon 17 (Whit Monday) skipped, Fri 14 (1) ..
    # Mon 10 (5), Fri 7 (6), Thu 6 (Ascension) skipped, Wed 5 (7) .. Mon 3 (9), Fri 30 Apr (10).
    assert traffic_peak_notice_deadline(D(2027, 5, 18)) == D(2027, 4, 30)


def test_zero_days_is_the_same_day_and_negative_counts_are_refused() -> None:
    assert add_jours_ouvrables(D(2027, 5, 8), 0) == D(2027, 5, 8)
    with pytest.raises(CalendarError):
        add_jours_ouvres(D(2027, 5, 8), -1)
    with pytest.raises(DagsyncError):
        latest_notice_date(D(2027, 5, 8), -1)
