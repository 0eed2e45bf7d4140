"""A root-access window's rendering never grows with a window longer than ACC001 allows."""

from __future__ import annotations

import datetime as dt

import pytest

from dagsync.errors import DagsyncError
from dagsync.reconcile.monitoring.windows import Shape, slots

EVERY_DAY = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})


def _shape(start: str, end: str) -> Shape:
    return Shape(
        dt.date.fromisoformat(start), dt.date.fromisoformat(end), EVERY_DAY, ("09:00", "10:00")
    )


def test_a_window_of_366_days_renders_one_slot_a_day() -> None:
    assert len(slots(_shape("2027-09-01", "2028-08-31"))) == 366  # 2028 is a leap year


def test_the_proofs_window_shifted_to_the_unix_epoch_renders() -> None:
    assert len(slots(_shape("1970-01-01", "1970-01-07"))) == 7  # promtool's tests start there


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-09-01", "2027-09-02"),  # 367 days
        ("2026-09-01", "2126-08-31"),  # a century: 130 KB of rules, 42 s per evaluation
        ("9999-12-30", "9999-12-31"),  # two days, but the next day overflows the calendar
        ("0001-01-01", "0001-01-02"),  # before the UTC conversion can work
        ("1969-12-31", "1970-01-01"),  # before the epoch the proofs use
    ],
)
def test_a_window_acc001_refuses_is_refused_by_the_renderer_too(start: str, end: str) -> None:
    with pytest.raises(DagsyncError, match=rf"root access window {start} to {end}: .*\(ACC001\)"):
        slots(_shape(start, end))
