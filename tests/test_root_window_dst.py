"""On the spring-forward night, the monitoring's root-access windows open exactly when the
root access itself is open (attacker review F2: hours inside 02:00-03:00 were read an hour
late and merged into every summer Sunday)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from dagsync.model.client import RootAccessWindow
from dagsync.reconcile.hosts.rootaccess import open_until
from dagsync.reconcile.monitoring.windows import Run, runs

HOURS = [f"{h:02d}:{m:02d}" for h in range(5) for m in (0, 30)]  # 00:00 ... 04:30
PAIRS = [(a, b) for a, b in itertools.combinations(HOURS, 2)]
SPRING = dt.datetime(2026, 3, 28, 12, tzinfo=dt.UTC)  # the night of 28-29 March 2026


def _window(begin: str, finish: str) -> RootAccessWindow:
    return RootAccessWindow.model_validate(
        {
            "server": "dev1",
            "granted_to": "Julien Favre",
            "start": "2026-03-01",
            "end": "2026-05-31",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "hours": [begin, finish],
            "guarantees_suspended": True,
            "request": "REQ-2026-021",
        }
    )


def _covers(run: Run, moment: dt.datetime) -> bool:
    if not run.start <= moment < run.end:
        return False
    minute = ((moment.weekday() + 1) % 7) * 1440 + moment.hour * 60 + moment.minute
    return not run.weekly or any(a <= minute < b for a, b in run.weekly)


@pytest.mark.parametrize(("begin", "finish"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_the_promql_window_is_open_exactly_when_root_is_open_around_the_spring_change(
    begin: str, finish: str
) -> None:
    window = _window(begin, finish)
    found = runs(window)
    wrong = []
    for step in range(0, 36 * 60, 5):  # every 5 minutes of 36 hours across the change
        moment = SPRING + dt.timedelta(minutes=step)
        promql = any(_covers(run, moment) for run in found)
        root = open_until(window, moment) is not None
        if promql != root:
            wrong.append(f"{moment:%m-%d %H:%M} UTC promql={promql} root={root}")
    assert wrong == []


def test_every_summer_sunday_keeps_its_own_hours() -> None:
    """The gap night's slot never widens the weekly ranges of the summer run."""
    window = _window("02:00", "02:30")
    found = runs(window)
    sunday = dt.datetime(2026, 4, 5, 1, 10, tzinfo=dt.UTC)  # 03:10 Paris summer time
    assert not any(_covers(run, sunday) for run in found)
    assert open_until(window, sunday) is None
