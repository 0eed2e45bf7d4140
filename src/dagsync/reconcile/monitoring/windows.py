"""A root-access window (CGV Art. 6) as a PromQL condition that is true exactly while it is open.

A window is a range of dates, days of the week and hours, in Europe/Paris time (the same
reading as `reconcile.resources.rootaccess.open_until`: dates inclusive, hours [from, to)).
PromQL only knows UTC, so the window is cut into runs of slots that share one UTC offset; each
run is `time()` between its first slot's start and its last slot's end, and the UTC minute of
the week within the run's weekly ranges.  A slot that straddles a change of offset (a window
over 02:00-03:00 on the night of a change) is a run of its own, bounded by time only.  The
condition is exact to the minute, whatever the window's length, with two runs a year.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dagsync.errors import DagsyncError
from dagsync.model.client import ROOT_WINDOW_MAX_DAYS, ROOT_WINDOW_YEARS, RootAccessWindow

PARIS = ZoneInfo("Europe/Paris")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MINUTES = 7 * 24 * 60
# The UTC minute of the week, Sunday 00:00 = 0 (PromQL's day_of_week() counts from Sunday).
MINUTE_OF_WEEK = "(day_of_week() * 1440 + hour() * 60 + minute())"


@dataclass(frozen=True)
class Shape:
    """When a window opens: its dates (inclusive), days and hours [from, to), Paris time."""

    start: dt.date
    end: dt.date
    days: frozenset[str]
    hours: tuple[str, str]

    @classmethod
    def of(cls, window: RootAccessWindow) -> Shape:
        begin, finish = window.hours[0], window.hours[1]
        return cls(
            window.start, window.end, frozenset(str(d) for d in window.days), (begin, finish)
        )


@dataclass(frozen=True)
class Slot:
    start: dt.datetime  # aware, UTC
    end: dt.datetime


@dataclass(frozen=True)
class Run:
    """Slots between `start` and `end`; `weekly` their UTC minute-of-week ranges, or () when
    the run is one slot bounded by time alone."""

    start: dt.datetime
    end: dt.datetime
    weekly: tuple[tuple[int, int], ...]


PROOF_EPOCH_YEAR = 1970  # promtool's tests start at the Unix epoch: the proofs shift windows there


def slots(shape: Shape) -> list[Slot]:
    """Every open period of the window, in time order."""
    begin, finish = (dt.time.fromisoformat(h) for h in shape.hours)
    if begin >= finish:
        return []
    first, last = PROOF_EPOCH_YEAR, ROOT_WINDOW_YEARS[1]
    if not (first <= shape.start.year and shape.end.year <= last) or (
        (shape.end - shape.start).days + 1 > ROOT_WINDOW_MAX_DAYS
    ):  # ACC001 refuses it; never render rules that grow with a window's length
        raise DagsyncError(
            f"root access window {shape.start} to {shape.end}: longer than "
            f"{ROOT_WINDOW_MAX_DAYS} days or outside {first}-{last} (ACC001)"
        )
    found: list[Slot] = []
    day = shape.start
    while day <= shape.end:
        if _DAYS[day.weekday()] in shape.days:
            start, end = _instant(day, begin), _instant(day, finish)
            if start < end:  # empty when both ends fall in the spring-forward gap
                found.append(Slot(start, end))
        day += dt.timedelta(days=1)
    return found


def _instant(day: dt.date, at: dt.time) -> dt.datetime:
    """The first UTC instant at which Paris' clock reads `at` or later on `day` — the moment a
    slot opens or closes as `hosts.rootaccess.open_until` sees it. A time that does not exist
    that day (02:xx on the spring-forward night) is the end of the gap, not a time an hour
    later (zoneinfo's reading, which would open the window at 03:xx summer time)."""
    local = dt.datetime.combine(day, at, tzinfo=PARIS)
    moment = local.astimezone(dt.UTC)
    if moment.astimezone(PARIS).replace(tzinfo=None) == local.replace(tzinfo=None):
        return moment
    probe = min(moment, local.replace(fold=1).astimezone(dt.UTC))
    while probe.astimezone(PARIS).replace(tzinfo=None) < local.replace(tzinfo=None):
        probe += dt.timedelta(minutes=1)
    return probe


def _offset(moment: dt.datetime) -> dt.timedelta | None:
    return moment.astimezone(PARIS).utcoffset()


def _weekly(slot: Slot) -> list[tuple[int, int]]:
    first = ((slot.start.weekday() + 1) % 7) * 1440 + slot.start.hour * 60 + slot.start.minute
    last = first + int((slot.end - slot.start).total_seconds()) // 60
    if last <= WEEK_MINUTES:
        return [(first, last)]
    return [(first, WEEK_MINUTES), (0, last - WEEK_MINUTES)]


def runs(window: RootAccessWindow | Shape) -> list[Run]:
    """The window's slots grouped into runs of one UTC offset."""
    shape = window if isinstance(window, Shape) else Shape.of(window)
    result: list[Run] = []
    current: list[Slot] = []
    for slot in slots(shape):
        straddles = _offset(slot.start) != _offset(slot.end)
        if current and (straddles or _offset(current[0].start) != _offset(slot.start)):
            result.append(_run(current))
            current = []
        if straddles:
            result.append(Run(slot.start, slot.end, ()))
        else:
            current.append(slot)
    if current:
        result.append(_run(current))
    return result


def _run(slots_: list[Slot]) -> Run:
    weekly = sorted({r for slot in slots_ for r in _weekly(slot)})
    return Run(slots_[0].start, slots_[-1].end, tuple(weekly))


def condition(window: RootAccessWindow) -> str | None:
    """A PromQL expression with one label-less element while the window is open, none
    otherwise; None when the window never opens."""
    return _condition(Shape.of(window))


@functools.lru_cache(maxsize=4096)
def _condition(shape: Shape) -> str | None:
    """Windows of the same shape (office hours over a year) recur across clients."""
    parts = [_run_condition(run) for run in runs(shape)]
    if not parts:
        return None
    return " or ".join(f"({part})" for part in parts)


def _run_condition(run: Run) -> str:
    bounds = f"vector(time()) >= {int(run.start.timestamp())} < {int(run.end.timestamp())}"
    if not run.weekly:
        return bounds
    weekly = " or ".join(f"({MINUTE_OF_WEEK} >= {a} < {b})" for a, b in run.weekly)
    return f"({bounds}) and on() ({weekly})"
