"""Issue 19, point 4, beyond ports: a reviewer sees, under each account a plan creates or updates
and under each root access it gives, why — who holds it and the client's request that asked
for it (`because: <why> (<REQ-id>: <summary>)`, the summary from requests.yaml), in the
terminal plan and in the pull-request comment, as under a port (tests/test_plan_requests.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.reconcile.core import Change, DiffOptions, Note, Target
from dagsync.reconcile.hosts import accounts, rootaccess
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.render import render_markdown, render_text
from dagsync.reconcile.resource import ServerInputs
from dagsync.reconcile.run import Selection
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)  # a Monday
TUESDAY_10_PARIS = dt.datetime(2026, 12, 8, 9, tzinfo=dt.UTC)  # dev1's window is open
DEPLOY_WHY = (
    "    because: ssh account of Vélo Savoie IT (REQ-2023-010: Two load-balanced web servers "
    "and one database server for the B2B shop.)"
)
ROOT_WHY = (
    "    because: root access window of Julien Favre: tue, thu 09:00-12:00 Paris time, "
    "2026-09-01 to 2027-08-31 (REQ-2026-021: Root access on dev1 on Tuesday and Thursday "
    "mornings for the new build tooling.)"
)


def _inputs(client: str, server: str, now: dt.datetime = NOW) -> ServerInputs:
    (inputs,) = server_inputs(load_repository(REPO), Selection((client,), (server,)), now)
    if (client, server) == ("velo-savoie", "web1"):  # its deploy account cites the request
        deploy = [a.model_copy(update={"request": "REQ-2023-010"}) for a in inputs.server.accounts]
        server_model = inputs.server.model_copy(update={"accounts": deploy})
        inputs = dataclasses.replace(inputs, server=server_model)
    return inputs


def _changes(found: list[Change | Note]) -> list[Change]:
    return [c for c in found if isinstance(c, Change)]


def _account_changes(server: str, *users: accounts.ObservedUser) -> list[Change]:
    specs, _ = accounts.desired(_inputs("velo-savoie", server))
    return _changes(accounts.diff(specs, accounts.AccountsObserved(users), DiffOptions()))


def _user(keys: tuple[str, ...], *, name: str = "deploy") -> accounts.ObservedUser:
    return accounts.ObservedUser(name, 1001, True, "/bin/bash", f"/home/{name}", False, keys)


def _texts(change: Change) -> list[tuple[str, str]]:
    return [(d.sign, d.text) for d in change.details]


def _plan(change: Change, client: str, server: str) -> Plan:
    target = TargetPlan(Target(client, server, production=True), "192.0.2.11", (change,))
    return Plan((target,), "2026-12-07T12:00:00Z")


def test_a_created_account_ends_with_its_holder_and_request() -> None:
    (change,) = _account_changes("web1")
    assert change.summary == "create ssh user deploy (1 key(s))"
    assert _texts(change)[-1] == (" ", DEPLOY_WHY)
    assert _texts(change)[0][0] == "+"  # the key line comes first, as the port's rule does


def test_an_updated_account_carries_the_same_line() -> None:
    (change,) = _account_changes("web1", _user(()))  # its key is missing on the host
    assert change.summary == "update ssh user deploy"
    assert _texts(change)[-1] == (" ", DEPLOY_WHY)


def test_an_account_citing_no_request_says_who_holds_it() -> None:
    (change,) = _account_changes("web2")
    assert _texts(change)[-1] == (" ", "    because: ssh account of Vélo Savoie IT")


def test_an_account_that_already_matches_or_is_locked_carries_no_reason_line() -> None:
    specs, _ = accounts.desired(_inputs("velo-savoie", "web1"))
    (spec,) = specs
    assert _account_changes("web1", _user(spec.keys)) == []
    gone = _account_changes("web1", _user(spec.keys), _user(("k",), name="olduser"))
    (lock,) = gone
    assert lock.summary.startswith("lock user olduser")
    assert all("because:" not in d.text for d in lock.details)


def test_the_reason_never_reaches_the_host() -> None:
    (change,) = _account_changes("web1")
    assert "because" not in repr(change.payload) and "REQ-2023-010" not in repr(change.payload)


def _root_change(now: dt.datetime, lines: tuple[str, ...] = ()) -> list[Change]:
    desired, _ = rootaccess.desired(_inputs("cime-conseil", "dev1", now))
    observed = rootaccess.RootObserved(bool(lines), lines)
    return _changes(rootaccess.diff(desired, observed, DiffOptions()))


def test_an_opened_root_access_window_shows_the_window_and_its_request() -> None:
    (change,) = _root_change(TUESDAY_10_PARIS)
    assert change.summary.startswith("root access for Julien Favre until 12:00 Paris time")
    assert _texts(change)[-1] == (" ", ROOT_WHY)
    assert "because" not in repr(change.payload)


def test_closing_root_access_carries_no_reason_line() -> None:
    (opened,) = _root_change(TUESDAY_10_PARIS)
    (closing,) = _root_change(NOW, tuple(opened.payload["lines"]))
    assert closing.summary == "close root access (no window open)"
    assert all("because:" not in d.text for d in closing.details)


@pytest.mark.parametrize(
    ("change", "client", "server", "why"),
    [
        (lambda: _account_changes("web1")[0], "velo-savoie", "web1", DEPLOY_WHY),
        (lambda: _root_change(TUESDAY_10_PARIS)[0], "cime-conseil", "dev1", ROOT_WHY),
    ],
    ids=["account", "root-access"],
)
def test_the_request_reaches_the_pull_request_comment_and_the_terminal_plan(
    change: object, client: str, server: str, why: str
) -> None:
    plan = _plan(change(), client, server)  # type: ignore[operator]
    markdown = render_markdown(plan)
    assert why.strip() in [line.strip() for line in markdown.splitlines()]
    assert markdown.index("```diff") < markdown.index(why.strip())  # inside the diff block
    text = render_text(plan)
    assert why.strip() in [line.strip() for line in text.splitlines()]


def test_an_account_citing_an_unknown_request_is_refused_where_it_is_cited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    web1 = tmp_path / "clients/velo-savoie/servers/web1.yaml"
    text = web1.read_text()
    web1.write_text(
        text.replace(
            "    owner: Vélo Savoie IT\n", "    owner: Vélo Savoie IT\n    request: REQ-2099-001\n"
        )
    )
    assert main(["validate", "--repo", str(tmp_path), "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "REQ001" in out and "REQ-2099-001 is not a request of velo-savoie" in out
    web1.write_text(
        text.replace(
            "    owner: Vélo Savoie IT\n", "    owner: Vélo Savoie IT\n    request: REQ-2025-007\n"
        )
    )
    assert main(["validate", "--repo", str(tmp_path), "--no-cache"]) == 0, capsys.readouterr().out
