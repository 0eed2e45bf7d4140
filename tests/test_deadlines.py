"""`dagsync contracts`: deadlines of the example clients, computed from their CGV version."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from dagsync.billing import Reading
from dagsync.cli import main
from dagsync.deadlines import client_deadlines, upcoming
from dagsync.load import load_clients

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clients() -> list:  # type: ignore[type-arg]
    return load_clients(ROOT)


def _by_client(clients: list, client_id: str):  # type: ignore[no-untyped-def, type-arg]
    return next(pair for pair in clients if pair[0].id == client_id)


def test_alpine_books_last_notice_day_is_32_jours_francs_before_the_anniversary(clients) -> None:  # type: ignore[no-untyped-def]
    client, policy = _by_client(clients, "alpine-books")
    rows = {d.kind: d for d in client_deadlines(client, policy, dt.date(2027, 1, 15))}
    # Anniversary 1 March 2027: 32 whole days strictly between receipt and 1 March
    # (28 in February + 4 in January: 28-31 January) -> received on 27 January at the latest.
    assert rows["renewal"].date == dt.date(2027, 3, 1)
    assert rows["last day to receive a termination"].date == dt.date(2027, 1, 27)


def test_deadlines_are_sorted_soonest_first_and_limited_by_within(clients) -> None:  # type: ignore[no-untyped-def]
    rows = upcoming(clients, dt.date(2027, 1, 15), within=60)
    assert [d.date for d in rows] == sorted(d.date for d in rows)
    assert all(dt.date(2027, 1, 15) <= d.date <= dt.date(2027, 3, 16) for d in rows)
    assert {d.client for d in rows} == {"alpine-books"}


def test_termination_request_gives_effective_date_and_amount_due(clients) -> None:  # type: ignore[no-untyped-def]
    client, policy = _by_client(clients, "alpine-books")
    termination = {
        "requested_on": dt.date(2026, 6, 1),
        "channel": "email",
        "to": "comptabilite@dagtechnologies.fr",
        "effective_on": dt.date(2026, 7, 15),
        "request": "REQ-2025-001",
    }
    contract = client.contract.model_copy(
        update={
            "termination": type(client.contract)
            .model_fields["termination"]
            .annotation.__args__[0](**termination)
        }
    )  # type: ignore[union-attr]
    changed = client.model_copy(update={"contract": contract})
    rows = [
        d
        for d in client_deadlines(changed, policy, dt.date(2026, 6, 2))
        if d.kind == "termination effective"
    ]
    assert len(rows) == 1
    # Period started 1 March 2026; service ends 14 July -> March..July = 5 started months.
    assert rows[0].date == dt.date(2026, 7, 15)
    assert rows[0].amount_eur == Decimal("189.00") * 5


def test_mail_overage_rows_come_from_readings_and_policy_numbers(clients) -> None:  # type: ignore[no-untyped-def]
    client, policy = _by_client(clients, "alpine-books")
    readings = [
        Reading(dt.date(2026, 9, 1), Decimal("27")),
        Reading(dt.date(2026, 10, 5), Decimal("31")),
    ]
    rows = [
        d
        for d in client_deadlines(client, policy, dt.date(2026, 10, 6), readings)
        if d.kind.startswith("mail")
    ]
    assert rows[0].kind == "mail quota warning" and rows[0].date == dt.date(2026, 9, 1)
    billed = [d for d in rows if d.kind == "mail overage billed"]
    assert billed and billed[0].amount_eur == Decimal("20.00")  # 6 GB over: 2 started slices


def test_contracts_command_text_and_json_give_the_same_deadlines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["contracts", "--repo", str(ROOT), "--on", "2027-01-15", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["on"] == "2027-01-15"
    assert main(["contracts", "--repo", str(ROOT), "--on", "2027-01-15"]) == 0
    text = capsys.readouterr().out
    for row in data["deadlines"]:
        assert row["date"] in text and row["client"] in text


def test_contracts_command_rejects_a_bad_usage_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "usage.json"
    bad.write_text("[1, 2]")
    assert main(["contracts", "--repo", str(ROOT), "--mail-usage", str(bad)]) == 2
    assert "not a mail usage file" in capsys.readouterr().err
