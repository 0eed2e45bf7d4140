"""`dagsync contracts`: deadlines of the example clients, computed from their CGV version."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.contract.billing import Reading
from dagsync.contract.deadlines import client_deadlines, upcoming
from dagsync.validate.load import load_clients

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
    assert [(d.date.isoformat(), d.client, d.kind) for d in rows] == [
        ("2027-01-27", "alpine-books", "last day to receive a termination"),
        ("2027-01-31", "velo-savoie", "invoice"),
        ("2027-03-01", "alpine-books", "renewal"),
    ]


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


# --- prices, invoices, price changes; COLUMNS; iCalendar ------------------------------------


def test_renewals_and_invoices_carry_their_amount_at_the_price_in_effect(clients) -> None:  # type: ignore[no-untyped-def]
    rows = {(d.client, d.kind, d.date): d for d in upcoming(clients, dt.date(2026, 12, 7), None)}
    # velo-savoie: 24-month terms from 2024-01-31, invoiced 12 months in advance at 1250.00;
    # the increase to 1310.00 notified 2026-10-20 applies at the renewal of 2028-01-31.
    invoice = rows[("velo-savoie", "invoice", dt.date(2027, 1, 31))]
    assert invoice.amount_eur == Decimal("15000.00") and invoice.article == "8"
    assert "at 1250.00 EUR HT/month" in invoice.detail
    change = rows[("velo-savoie", "price change effective", dt.date(2028, 1, 31))]
    assert change.amount_eur == Decimal("1310.00")
    assert change.detail == "monthly price 1250.00 -> 1310.00 EUR HT (notified 2026-10-20)"
    renewal = rows[("velo-savoie", "renewal", dt.date(2028, 1, 31))]
    assert renewal.amount_eur == Decimal("15720.00")
    alpine = rows[("alpine-books", "renewal", dt.date(2027, 3, 1))]
    assert alpine.amount_eur == Decimal("2268.00")
    # A renewal is its own invoice: no second row on the same day.
    assert ("alpine-books", "invoice", dt.date(2027, 3, 1)) not in rows


def test_the_price_in_effect_changes_on_the_effective_day(clients) -> None:  # type: ignore[no-untyped-def]
    from dagsync.contract.deadlines import price_at

    contract = _by_client(clients, "velo-savoie")[0].contract
    assert price_at(contract, dt.date(2028, 1, 30)) == Decimal("1250.00")
    assert price_at(contract, dt.date(2028, 1, 31)) == Decimal("1310.00")


def test_no_invoice_after_the_contract_ends(clients) -> None:  # type: ignore[no-untyped-def]
    from dagsync.contract.deadlines import next_invoice

    contract = _by_client(clients, "alpine-books")[0].contract  # from 2025-03-01, 12 months
    assert next_invoice(contract, dt.date(2026, 3, 2)) == dt.date(2027, 3, 1)
    assert next_invoice(contract, dt.date(2027, 3, 1)) == dt.date(2027, 3, 1)
    ending = contract.model_copy(update={"tacit_renewal": False})
    assert next_invoice(ending, dt.date(2025, 3, 1)) == dt.date(2025, 3, 1)
    assert next_invoice(ending, dt.date(2025, 3, 2)) is None


def _contracts_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> str:
    monkeypatch.chdir(ROOT)
    assert main(["contracts", "--on", "2026-12-07", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("columns", ["60", "100"])
def test_the_table_honours_columns_and_keeps_dates_and_clients_whole(
    columns: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    out = _contracts_cli(capsys, monkeypatch)
    assert max(len(line) for line in out.splitlines()) <= int(columns)
    assert "2027-01-31" in out and "velo-savoie" in out and "15000.00" in out


def test_off_a_terminal_without_columns_rows_stay_whole_at_160(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = _contracts_cli(capsys, monkeypatch)
    assert max(len(line) for line in out.splitlines()) <= 160
    assert "invoice of 12 month(s) in advance at 1250.00 EUR HT/month" in out


def test_ics_export_parses_back_with_the_same_dates_and_stable_uids(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from icalendar import Calendar

    rows = json.loads(_contracts_cli(capsys, monkeypatch, "--format", "json"))["deadlines"]
    first = _contracts_cli(capsys, monkeypatch, "--format", "ics")
    events = Calendar.from_ical(first).walk("VEVENT")
    assert [(e.decoded("dtstart").isoformat(), str(e["summary"])) for e in events] == [
        (r["date"], f"{r['client']}: {r['kind']}") for r in rows
    ]
    assert all(e.decoded("dtend") - e.decoded("dtstart") == dt.timedelta(days=1) for e in events)
    renewal = next(e for e in events if str(e["summary"]) == "alpine-books: renewal")
    assert "2268.00 EUR HT" in str(renewal["description"])
    second = _contracts_cli(capsys, monkeypatch, "--format", "ics")
    assert [e["uid"] for e in Calendar.from_ical(second).walk("VEVENT")] == [
        e["uid"] for e in events
    ]
    assert len({e["uid"] for e in events}) == len(events)


def test_a_termination_on_a_price_increase_ends_on_the_day_asked_without_penalty(clients) -> None:  # type: ignore[no-untyped-def]
    from dagsync.model.client import Termination, TerminationGround

    client, policy = _by_client(clients, "velo-savoie")
    termination = Termination(
        requested_on=dt.date(2026, 11, 5),
        channel="email",
        to="comptabilite@dagtechnologies.fr",
        effective_on=dt.date(2026, 12, 31),
        request="REQ-2023-010",
        ground=TerminationGround.PRICE_INCREASE,
    )
    contract = client.contract.model_copy(update={"termination": termination})
    changed = client.model_copy(update={"contract": contract})
    rows = list(client_deadlines(changed, policy, dt.date(2026, 11, 6)))
    ends = [d for d in rows if d.kind == "termination effective"]
    assert [(d.date, d.article, d.amount_eur) for d in ends] == [(dt.date(2026, 12, 31), "8", None)]
    assert ends[0].detail == (
        "requested 2026-11-05 for 2026-12-31 on the ground of price increase (Art. 8), "
        "without penalty"
    )
    # Article 7's notice would have held it to the 24-month term's end (2028-01-31).
    assert not any(d.kind == "renewal" for d in rows)
