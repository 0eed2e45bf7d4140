"""French calendar arithmetic for the deadlines of the CGV (Articles 6.1, 7, 8).

The French terms, as used throughout dagsync:

*jour férié* (public holiday)
    One of the eleven national public holidays of metropolitan France (Code du travail,
    L3133-1): 1 January, Easter Monday, 1 May, 8 May, Ascension Thursday, Whit Monday
    (*lundi de Pentecôte*, still a public holiday even where it is worked as the *journée de
    solidarité*), 14 July, 15 August, 1 November, 11 November and 25 December. Alsace-Moselle
    (départements 57, 67 and 68) adds Good Friday and 26 December: pass
    ``alsace_moselle=True`` (the ``holidays`` package's subdivision ``"57"``, identical to
    ``"6AE"``). The dates come from the ``holidays`` package, cached per year.
*jour ouvrable* (working day, legal sense)
    Monday to Saturday, unless a public holiday.
*jour ouvré* (business day)
    Monday to Friday, unless a public holiday: the days DAG Technologies actually works.
*jour franc* (clear day)
    A whole calendar day, midnight to midnight. A delay of *n* jours francs counts neither the
    day of the triggering event (receipt of a notice) nor the day the delay ends on; weekends
    and holidays do count.
*veille* (eve)
    The day before. CGV 6.1 advises no production release on the *veille* of a weekend or a
    public holiday; see :func:`is_deploy_freeze`.

Counting convention (Code de procédure civile, art. 641): the day of the act or the event
that starts a delay is never counted. So ``add_jours_ouvrables(d, n)`` is the n-th jour
ouvrable *after* ``d``, and ``sub_jours_ouvres(d, n)`` the n-th jour ouvré *before* ``d``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType

from dagsync.errors import DagsyncError

_ONE_DAY = dt.timedelta(days=1)
_SATURDAY = 5
_SUNDAY = 6
_ALSACE_MOSELLE = "57"


class CalendarError(DagsyncError):
    """A date computation was asked with impossible arguments (e.g. a negative count)."""


@cache
def _holidays(year: int, alsace_moselle: bool) -> Mapping[dt.date, str]:
    # A check seldom computes a holiday, and the package takes longer to import than a check.
    # lazy: importing it here keeps holidays out of this module's load
    import holidays

    subdiv = _ALSACE_MOSELLE if alsace_moselle else None
    found = holidays.country_holidays("FR", subdiv=subdiv, years=year, language="en_US")
    return MappingProxyType(dict(found.items()))


def public_holidays(year: int, *, alsace_moselle: bool = False) -> Mapping[dt.date, str]:
    """The public holidays (*jours fériés*) of ``year``, date -> English name.

    >>> sorted(public_holidays(2027))[:2]
    [datetime.date(2027, 1, 1), datetime.date(2027, 3, 29)]
    >>> len(public_holidays(2027)), len(public_holidays(2027, alsace_moselle=True))
    (11, 13)
    """
    return _holidays(year, alsace_moselle)


def is_public_holiday(d: dt.date, *, alsace_moselle: bool = False) -> bool:
    """Whether ``d`` is a *jour férié*.

    >>> is_public_holiday(dt.date(2027, 5, 17))  # Whit Monday
    True
    >>> is_public_holiday(dt.date(2027, 12, 26)), is_public_holiday(
    ...     dt.date(2027, 12, 26), alsace_moselle=True)
    (False, True)
    """
    return d in _holidays(d.year, alsace_moselle)


def is_jour_ouvrable(d: dt.date, *, alsace_moselle: bool = False) -> bool:
    """Monday to Saturday, not a public holiday.

    >>> is_jour_ouvrable(dt.date(2027, 5, 8))  # a Saturday, but Victory Day
    False
    >>> is_jour_ouvrable(dt.date(2027, 5, 15))  # an ordinary Saturday
    True
    """
    return d.weekday() != _SUNDAY and not is_public_holiday(d, alsace_moselle=alsace_moselle)


def is_jour_ouvre(d: dt.date, *, alsace_moselle: bool = False) -> bool:
    """Monday to Friday, not a public holiday.

    >>> is_jour_ouvre(dt.date(2027, 5, 14)), is_jour_ouvre(dt.date(2027, 5, 15))
    (True, False)
    """
    return d.weekday() < _SATURDAY and not is_public_holiday(d, alsace_moselle=alsace_moselle)


def _step(d: dt.date, n: int, counts: Callable[[dt.date], bool], direction: int) -> dt.date:
    if n < 0:
        raise CalendarError(f"a number of days cannot be negative, got {n}")
    current, remaining = d, n
    while remaining:
        current += direction * _ONE_DAY
        remaining -= counts(current)
    return current


def add_jours_ouvrables(d: dt.date, n: int, *, alsace_moselle: bool = False) -> dt.date:
    """The n-th jour ouvrable after ``d`` (``d`` itself never counts; ``n == 0`` gives ``d``).

    >>> add_jours_ouvrables(dt.date(2027, 5, 7), 1)  # Fri -> Sat 8 May is a holiday -> Mon
    datetime.date(2027, 5, 10)
    """
    return _step(d, n, lambda x: is_jour_ouvrable(x, alsace_moselle=alsace_moselle), 1)


def add_jours_ouvres(d: dt.date, n: int, *, alsace_moselle: bool = False) -> dt.date:
    """The n-th jour ouvré after ``d`` (``d`` itself never counts; ``n == 0`` gives ``d``).

    >>> add_jours_ouvres(dt.date(2027, 12, 24), 1)  # Fri 24 Dec -> Mon 27 Dec
    datetime.date(2027, 12, 27)
    """
    return _step(d, n, lambda x: is_jour_ouvre(x, alsace_moselle=alsace_moselle), 1)


def sub_jours_ouvrables(d: dt.date, n: int, *, alsace_moselle: bool = False) -> dt.date:
    """The n-th jour ouvrable before ``d`` (``d`` itself never counts).

    >>> sub_jours_ouvrables(dt.date(2027, 5, 10), 1)  # Mon -> back over Sun and Sat 8 May
    datetime.date(2027, 5, 7)
    """
    return _step(d, n, lambda x: is_jour_ouvrable(x, alsace_moselle=alsace_moselle), -1)


def sub_jours_ouvres(d: dt.date, n: int, *, alsace_moselle: bool = False) -> dt.date:
    """The n-th jour ouvré before ``d`` (``d`` itself never counts).

    >>> sub_jours_ouvres(dt.date(2028, 1, 3), 1)  # Mon 3 Jan 2028 -> Fri 31 Dec 2027
    datetime.date(2027, 12, 31)
    """
    return _step(d, n, lambda x: is_jour_ouvre(x, alsace_moselle=alsace_moselle), -1)


def latest_notice_date(
    target: dt.date,
    jours_francs: int,
    *,
    on_jour_ouvre: bool = False,
    alsace_moselle: bool = False,
) -> dt.date:
    """The last day a notice can be received so that ``jours_francs`` whole days lie strictly
    between that day and ``target`` (CGV Art. 7: "32 jours francs précédant la date
    anniversaire"), i.e. ``target - (jours_francs + 1)`` days.

    No extension under art. 642 CPC (a delay ending on a Saturday, Sunday or holiday is
    prorogued to the next working day): that rule lengthens delays that run *forward* from an
    act; applied to a delay counted *backward* from a fixed date it would accept a notice later
    than the clause allows, leaving fewer than 32 clear days. Nor is the date moved earlier by
    default: Art. 7 names e-mail as the first channel, and an e-mail is received on any day,
    weekends and holidays included. Pass ``on_jour_ouvre=True`` for the cautious date to give
    a client (e.g. for a registered letter, or a reminder): the result is then moved *earlier*
    to the nearest jour ouvré, never later.

    >>> latest_notice_date(dt.date(2027, 3, 1), 32)
    datetime.date(2027, 1, 27)
    >>> latest_notice_date(dt.date(2027, 2, 6), 32)  # a Monday: 4 January 2027...
    datetime.date(2027, 1, 4)
    >>> latest_notice_date(dt.date(2027, 2, 5), 32)  # ...a Sunday: 3 January 2027
    datetime.date(2027, 1, 3)
    >>> latest_notice_date(dt.date(2027, 2, 5), 32, on_jour_ouvre=True)  # before 1 January
    datetime.date(2026, 12, 31)
    """
    if jours_francs < 0:
        raise CalendarError(f"a number of jours francs cannot be negative, got {jours_francs}")
    latest = target - (jours_francs + 1) * _ONE_DAY
    while on_jour_ouvre and not is_jour_ouvre(latest, alsace_moselle=alsace_moselle):
        latest -= _ONE_DAY
    return latest


def earliest_date_after_notice(received_on: dt.date, jours_francs: int) -> dt.date:
    """The first date a notice received on ``received_on`` can take effect, leaving
    ``jours_francs`` whole days strictly between the two: the inverse of
    :func:`latest_notice_date`.

    >>> earliest_date_after_notice(dt.date(2027, 1, 27), 32)
    datetime.date(2027, 3, 1)
    """
    if jours_francs < 0:
        raise CalendarError(f"a number of jours francs cannot be negative, got {jours_francs}")
    return received_on + (jours_francs + 1) * _ONE_DAY


def extend_deadline(d: dt.date, *, alsace_moselle: bool = False) -> dt.date:
    """Art. 642 CPC: a delay that would end on a Saturday, a Sunday or a public holiday is
    prorogued to the next day that is none of these (the next jour ouvré); otherwise ``d``.

    Not applied by the functions of this module, which give the contractual count; apply it
    when you must not act before a delay has surely expired (e.g. before terminating a contract
    for an uncured breach).

    >>> extend_deadline(dt.date(2027, 5, 8))  # Sat 8 May (holiday) -> Mon 10 May
    datetime.date(2027, 5, 10)
    >>> extend_deadline(dt.date(2027, 5, 10))
    datetime.date(2027, 5, 10)
    """
    while not is_jour_ouvre(d, alsace_moselle=alsace_moselle):
        d += _ONE_DAY
    return d


def is_deploy_freeze(d: dt.date, *, alsace_moselle: bool = False) -> bool:
    """Whether ``d`` is the *veille* (eve) of a weekend day or of a public holiday, a day on
    which CGV 6.1 advises against any production release ("De ne procéder à aucune mise en
    production les veilles de weekend et jours fériés").

    A day is a freeze day exactly when the *next* day is a Saturday, a Sunday or a public
    holiday, because the advice is about the day after a release having no staff to fix it:

    - every Friday (eve of Saturday);
    - every Saturday (eve of Sunday, and itself in the weekend);
    - a Sunday only before a holiday Monday (Easter, Whit Monday...);
    - any day before a public holiday (5 May 2027, eve of Ascension Thursday).

    A day is *not* a freeze day merely because it is itself a holiday: Thursday 6 May 2027
    (Ascension) is followed by a Friday, so it is not flagged. The CGV text names only the
    eves; combine with :func:`is_jour_ouvre` to also refuse releases on days off.

    >>> is_deploy_freeze(dt.date(2027, 5, 5)), is_deploy_freeze(dt.date(2027, 5, 6))
    (True, False)
    >>> [is_deploy_freeze(dt.date(2027, 6, day)) for day in range(7, 14)]  # Mon..Sun
    [False, False, False, False, True, True, False]
    """
    following = d + _ONE_DAY
    return following.weekday() >= _SATURDAY or is_public_holiday(
        following, alsace_moselle=alsace_moselle
    )


def cure_deadline(
    first_presentation: dt.date, n: int = 7, *, alsace_moselle: bool = False
) -> dt.date:
    """The last day to remedy a breach (CGV Art. 7: "non réparé dans un délai de 7 jours
    ouvrables à compter de la première présentation de la lettre recommandée"): the n-th
    jour ouvrable after the first presentation of the registered letter.

    The contract is terminated de plein droit if the breach is still not remedied at the end
    of that day. The result may be a Saturday; before terminating on DAG's side, apply
    :func:`extend_deadline` (art. 642 CPC) to wait until the delay has expired beyond doubt.

    >>> cure_deadline(dt.date(2027, 4, 29))  # see tests/test_calendar.py for the count
    datetime.date(2027, 5, 11)
    """
    return add_jours_ouvrables(first_presentation, n, alsace_moselle=alsace_moselle)


def traffic_peak_notice_deadline(
    event_date: dt.date, n: int = 10, *, alsace_moselle: bool = False
) -> dt.date:
    """The last day to warn DAG of a traffic peak (CGV 6.1: "prévenir DAG Technologies à minima
    10 jours ouvrés à l'avance"): the n-th jour ouvré before the event.

    The notice day counts as the first of the n jours ouvrés and the event day does not:
    from the notice day included to the event day excluded there are n jours ouvrés, so
    "10 jours ouvrés à l'avance" of a Monday is the Monday two weeks before, holidays aside.

    >>> traffic_peak_notice_deadline(dt.date(2027, 3, 15))  # Mon -> Mon two weeks before
    datetime.date(2027, 3, 1)
    >>> traffic_peak_notice_deadline(dt.date(2027, 5, 18))  # Whit Mon and Ascension skipped
    datetime.date(2027, 4, 30)
    """
    return sub_jours_ouvres(event_date, n, alsace_moselle=alsace_moselle)
