"""Without the master secret, the security services are not planned, and the plan says so
where a reviewer sees it: one note on the security host, never a silent empty plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.security import driver
from dagsync.reconcile.security.credentials import SECRET_ENV
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.validate.repository import load_repository

PROJECT = Path(__file__).parents[1]


def _never_confirm(plan: object) -> bool:
    raise AssertionError("nothing may be confirmed without the secret")


def test_a_plan_without_the_secret_is_one_note_on_the_security_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    repo = load_repository(PROJECT, validate=False)
    plan = driver.plan(repo, Selection(), Overrides(), RunOptions())
    (target,) = plan.targets
    assert target.target.key == "dag/sec1" and not target.changes
    assert [n.text for n in target.notes] == [
        f"security services not planned: set {SECRET_ENV} (at least 32 bytes)"
    ]
