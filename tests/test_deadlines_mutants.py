"""Whole deadlines as literals (date, client, kind, detail, article, amount, and their JSON), and
the limits of the window `upcoming` keeps: written to kill the mutants that survived in
`bench/mutation.py deadlines`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from dagsync.contract.billing import MailQuotaTerms, Reading
from dagsync.contract.deadlines import (
    Deadline,
    client_deadlines,
    next_invoice,
    price_at,
    quota_terms,
    terms_of,
    upcoming,
)
from dagsync.model.client import Client, TerminationGround
from dagsync.model.policy import CgvPolicy
from dagsync.validate.load import load_clients

ROOT = Path(__file__).resolve().parents[1]
READINGS = [
    Reading(dt.date(2026, 9, 1), Decimal("27")),
    Reading(dt.date(2026, 10, 5), Decimal("31")),
]
ALPINE = "alpine-books"
WARNING = Deadline(
    dt.date(2026, 9, 1), ALPINE, "mail quota warning", "27 GB used, over 25 GB", "6.1"
)
BILLED = Deadline(
    dt.date(2026, 10, 1),
    ALPINE,
    "mail overage billed",
    "2 slice(s) of 5 GB in 2026-10",
    "6.1",
    Decimal("20.00"),
)
LAST_NOTICE = Deadline(
    dt.date(2027, 1, 27),
    ALPINE,
    "last day to receive a termination",
    "for the anniversary of 2027-03-01 (32 jours francs)",
    "7",
)
RENEWAL = Deadline(
    dt.date(2027, 3, 1),
    ALPINE,
    "renewal",
    "tacit renewal for 12 months; invoice of 12 month(s) in advance at 189.00 EUR HT/month",
    "7",
    Decimal("2268.00"),
)


@pytest.fixture(scope="module")
def clients() -> list[tuple[Client, CgvPolicy]]:
    return load_clients(ROOT)


@pytest.fixture(scope="module")
def alpine(clients: list[tuple[Client, CgvPolicy]]) -> tuple[Client, CgvPolicy]:
    return next(pair for pair in clients if pair[0].id == ALPINE)


def test_every_deadline_of_a_client_whole(alpine: tuple[Client, CgvPolicy]) -> None:
    client, policy = alpine
    assert list(client_deadlines(client, policy, dt.date(2026, 10, 6), READINGS)) == [
        RENEWAL,
        LAST_NOTICE,
        WARNING,
        BILLED,
    ]


def test_upcoming_keeps_the_window_sorted_and_recent_mail_rows(
    alpine: tuple[Client, CgvPolicy],
) -> None:
    usage = {ALPINE: READINGS}
    on = dt.date(2026, 10, 6)
    assert upcoming([alpine], on, 146, usage) == [BILLED, LAST_NOTICE, RENEWAL]  # 1 March: in
    assert upcoming([alpine], on, 145, usage) == [BILLED, LAST_NOTICE]  # one day short
    assert upcoming([alpine], on, None, usage)[-1] == RENEWAL
    # a mail row stays 31 days after its date, not 32
    assert upcoming([alpine], dt.date(2026, 10, 2), 30, usage) == [WARNING, BILLED]
    assert upcoming([alpine], dt.date(2026, 10, 3), 30, usage) == [BILLED]
    # other rows do not: the day after the last notice day it is gone
    assert upcoming([alpine], dt.date(2027, 1, 27), 0, usage) == [LAST_NOTICE]
    assert upcoming([alpine], dt.date(2027, 1, 28), 0, usage) == []


def test_rows_of_the_same_day_sort_by_client_then_kind(
    clients: list[tuple[Client, CgvPolicy]],
) -> None:
    rows = upcoming(clients, dt.date(2026, 12, 7), None)
    keys = [(d.date, d.client, d.kind) for d in rows]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))


def test_a_deadline_in_json_names_every_field() -> None:
    assert RENEWAL.as_json() == {
        "date": "2027-03-01",
        "client": ALPINE,
        "kind": "renewal",
        "detail": "tacit renewal for 12 months; invoice of 12 month(s) in advance at 189.00 "
        "EUR HT/month",
        "article": "7",
        "amount_eur": "2268.00",
    }
    assert LAST_NOTICE.as_json()["amount_eur"] is None


def test_an_invoice_between_renewals_is_article_8_without_the_renewal_prefix(
    clients: list[tuple[Client, CgvPolicy]],
) -> None:
    rows = [d for d in upcoming(clients, dt.date(2027, 1, 1), 30) if d.kind == "invoice"]
    assert rows == [
        Deadline(
            dt.date(2027, 1, 31),
            "velo-savoie",
            "invoice",
            "invoice of 12 month(s) in advance at 1250.00 EUR HT/month",
            "8",
            Decimal("15000.00"),
        )
    ]


def test_the_mail_quota_terms_come_from_the_policy(alpine: tuple[Client, CgvPolicy]) -> None:
    assert quota_terms(alpine[1]) == MailQuotaTerms(
        included_gb=Decimal("25"),
        hard_limit_gb=Decimal("35"),
        slice_gb=Decimal("5"),
        slice_price=Decimal("10.00"),
        grace_days=30,
    )


def test_a_price_increase_gives_its_effective_row_and_the_end_of_the_termination_window(
    clients: list[tuple[Client, CgvPolicy]],
) -> None:
    client, policy = next(pair for pair in clients if pair[0].id == "velo-savoie")
    rows = list(client_deadlines(client, policy, dt.date(2026, 10, 21)))
    assert rows[3] == Deadline(
        dt.date(2028, 1, 31),
        "velo-savoie",
        "price change effective",
        "monthly price 1250.00 -> 1310.00 EUR HT (notified 2026-10-20)",
        "8",
        Decimal("1310.00"),
    )
    window = rows[4]
    assert (window.date, window.client, window.kind, window.article, window.amount_eur) == (
        dt.date(2026, 11, 20),
        "velo-savoie",
        "price-increase termination window ends",
        "8",
        None,
    )
    assert window.detail.startswith("new price 1310")
    assert window.detail.endswith(" EUR/month notified 2026-10-20")
    assert len(rows) == 5


def test_an_unpaid_renewal_stops_the_service_then_suspends_it(
    alpine: tuple[Client, CgvPolicy],
) -> None:
    client, policy = alpine
    unpaid = client.contract.model_copy(update={"renewal_unpaid": dt.date(2027, 3, 1)})
    rows = list(
        client_deadlines(
            client.model_copy(update={"contract": unpaid}), policy, dt.date(2027, 2, 1)
        )
    )
    assert rows[2:] == [
        Deadline(
            dt.date(2027, 3, 1),
            ALPINE,
            "service stop (unpaid renewal)",
            "renewal of 2027-03-01 unpaid",
            "8",
        ),
        Deadline(
            dt.date(2027, 3, 16),
            ALPINE,
            "definitive suspension",
            "15 days after the unpaid anniversary",
            "8",
        ),
    ]


def _terminated(
    client: Client, requested: dt.date, effective: dt.date, **contract: object
) -> Client:
    kind = type(client.contract).model_fields["termination"].annotation.__args__[0]  # type: ignore[union-attr]
    termination = kind(
        requested_on=requested,
        channel="email",
        to="comptabilite@dagtechnologies.fr",
        effective_on=effective,
        request="REQ-2025-001",
    )
    changed = client.contract.model_copy(update={"termination": termination, **contract})
    return client.model_copy(update={"contract": changed})


def test_a_termination_is_one_whole_row_and_stops_the_invoices(
    alpine: tuple[Client, CgvPolicy],
) -> None:
    client, policy = alpine
    ending = _terminated(client, dt.date(2026, 6, 1), dt.date(2026, 7, 15))
    assert list(client_deadlines(ending, policy, dt.date(2026, 6, 2))) == [
        Deadline(
            dt.date(2026, 7, 15),
            ALPINE,
            "termination effective",
            "requested 2026-06-01 for 2026-07-15 (wanted); 5 month(s) due",
            "7",
            Decimal("945.00"),
        )
    ]  # no renewal, no invoice: the next one (1 March 2027) is after the end
    assert next_invoice(ending.contract, dt.date(2026, 6, 2)) is None


def test_a_contract_without_renewal_ends_at_its_termination_if_that_comes_first(
    alpine: tuple[Client, CgvPolicy],
) -> None:
    client, _ = alpine  # from 2025-03-01, invoiced every 12 months
    fixed = _terminated(
        client,
        dt.date(2025, 12, 1),
        dt.date(2026, 2, 15),
        tacit_renewal=False,
        initial_term_months=24,
    )
    assert next_invoice(fixed.contract, dt.date(2026, 1, 1)) is None  # 1 March is after
    assert next_invoice(fixed.contract, dt.date(2025, 3, 1)) == dt.date(2025, 3, 1)


def test_the_newest_of_several_price_changes_is_in_effect(
    clients: list[tuple[Client, CgvPolicy]],
) -> None:
    client, policy = next(pair for pair in clients if pair[0].id == "velo-savoie")
    first = client.contract.price_changes[0]  # 1250 -> 1310 on 2028-01-31
    second = first.model_copy(
        update={"effective_on": dt.date(2028, 2, 1), "new_monthly_price_eur": Decimal("1400")}
    )
    contract = client.contract.model_copy(update={"price_changes": [first, second]})
    assert price_at(contract, dt.date(2028, 2, 1)) == Decimal("1400")
    assert price_at(contract, dt.date(2028, 1, 31)) == Decimal("1310.0")
    assert price_at(contract, dt.date(2028, 1, 30)) == Decimal("1250")
    changed = client.model_copy(update={"contract": contract})
    rows = [
        d.detail
        for d in client_deadlines(changed, policy, dt.date(2026, 12, 7))
        if d.kind == "price change effective"
    ]
    assert rows == [
        "monthly price 1250.00 -> 1310.00 EUR HT (notified 2026-10-20)",
        "monthly price 1310.00 -> 1400.00 EUR HT (notified 2026-10-20)",
    ]


CONTRACT_TERMS = {
    "notice_jours_francs": "termination_notice_jours_francs",
    "unpaid_grace_days": "unpaid_suspension_days",
    "cure_jours_ouvrables": "cure_jours_ouvrables",
    "price_notice_months": "price_increase_notice_months",
    "change_termination_days": "service_change_termination_days",
    "termination_earliest_months": "termination_earliest_month",
    "force_majeure_days": "force_majeure_days",
}
QUOTA_TERMS = {
    "included_gb": "mail_quota_included_gb",
    "hard_limit_gb": "mail_hard_limit_gb",
    "slice_gb": "mail_overage_slice_gb",
    "slice_price": "mail_overage_slice_price_eur",
    "grace_days": "mail_overage_grace_days",
}


def _bumped(policy: CgvPolicy) -> CgvPolicy:
    """Every number the deadlines read, moved off the defaults of ContractTerms and
    MailQuotaTerms (which are the CGV's): each must come from the policy."""
    updates = {}
    for name in (*CONTRACT_TERMS.values(), *QUOTA_TERMS.values()):
        term = getattr(policy, name)
        step = 3 if isinstance(term.value, int) else Decimal(1)
        updates[name] = term.model_copy(update={"value": term.value + step})
    return policy.model_copy(update=updates)


def test_every_delay_and_quota_number_comes_from_the_policy(
    alpine: tuple[Client, CgvPolicy],
) -> None:
    client, policy = alpine
    bumped = _bumped(policy)
    terms = terms_of(client, bumped)
    assert {k: getattr(terms, k) for k in CONTRACT_TERMS} == {
        k: getattr(bumped, v).value for k, v in CONTRACT_TERMS.items()
    }
    quota = quota_terms(bumped)
    assert {k: getattr(quota, k) for k in QUOTA_TERMS} == {
        k: getattr(bumped, v).value for k, v in QUOTA_TERMS.items()
    }
    rows = [
        d
        for d in client_deadlines(client, bumped, dt.date(2026, 10, 6), READINGS)
        if d.kind.startswith("mail")
    ]
    assert rows == [
        Deadline(
            dt.date(2026, 9, 1), ALPINE, "mail quota warning", "27 GB used, over 26 GB", "6.1"
        ),
        Deadline(
            dt.date(2026, 10, 1),
            ALPINE,
            "mail overage billed",
            "1 slice(s) of 6 GB in 2026-10",
            "6.1",
            Decimal("11.00"),
        ),
    ]


def test_an_invoice_on_the_anniversary_after_a_later_termination_is_kept(
    alpine: tuple[Client, CgvPolicy],
) -> None:
    client, policy = alpine  # anniversary 1 March 2027
    ending = _terminated(client, dt.date(2027, 1, 2), dt.date(2027, 4, 15))
    rows = list(client_deadlines(ending, policy, dt.date(2027, 1, 3)))
    assert [(d.date, d.kind) for d in rows] == [
        (dt.date(2027, 4, 15), "termination effective"),
        (dt.date(2027, 3, 1), "invoice"),  # no renewal row: the contract ends after it
    ]


def test_a_termination_on_another_ground_is_one_whole_row_without_penalty(
    clients: list[tuple[Client, CgvPolicy]],
) -> None:
    client, policy = next(pair for pair in clients if pair[0].id == "velo-savoie")
    ending = _terminated(
        client,
        dt.date(2026, 11, 5),
        dt.date(2026, 12, 31),
    )
    grounded = ending.contract.termination.model_copy(  # type: ignore[union-attr]
        update={"ground": TerminationGround.FORCE_MAJEURE}
    )
    changed = client.model_copy(
        update={"contract": ending.contract.model_copy(update={"termination": grounded})}
    )
    rows = list(client_deadlines(changed, policy, dt.date(2026, 11, 6)))
    assert rows[0] == Deadline(
        dt.date(2026, 12, 31),
        "velo-savoie",
        "termination effective",
        "requested 2026-11-05 for 2026-12-31 on the ground of force majeure (Art. 5), "
        "without penalty",
        "5",
    )
