"""The contract rules' whole findings (CTR001-CTR017: rule, file, line, column, server,
message, as literals) on velo-savoie's contract (a 24-month term from 2024-01-31, an increase
notified on 2026-10-20 for 2028-01-31, today 2026-12-01): each bound on both sides, each
termination ground with and without its event, the price-increase exemption at both ends of
its month, a later price change after a valid one, each policy switch. Written to kill the
mutants of `bench/mutation.py rules/contract_*`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

CLIENT = "clients/velo-savoie/client.yaml"
POLICY = "policies/cgv/2024-01.yaml"
DAG_MAIL = "comptabilite@dagtechnologies.fr"
PRICES = (
    "  price_changes:\n    - notified_on: 2026-10-20\n      effective_on: 2028-01-31\n"
    "      new_monthly_price_eur: 1310.00\n      increase: true\n"
)
# A termination by email to DAG's address, citing the client's request received by email.
NOTICE = {
    "requested_on": "2026-11-05",
    "channel": "email",
    "to": DAG_MAIL,
    "effective_on": "2027-01-31",
    "request": "REQ-2023-010",
}

Seen = tuple[str, str, int, int, str | None, str]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("contract-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def ctr(root: Path) -> list[Seen]:
    return findings(root, "velo-savoie", "CTR")


def at(line: int, column: int, rule: str, message: str) -> Seen:
    return (rule, CLIENT, line, column, None, message)


def terminate(root: Path, **fields: str) -> None:
    """`contract.termination` after `price_changes` (line 32; its fields from line 33 in the
    order given: requested_on 33, channel 34, to 35, effective_on 36, request 37...)."""
    body = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    edit(root, CLIENT, "mail:\n  hosting:", "  termination:\n" + body + "mail:\n  hosting:")


def prices(root: Path, *rows: tuple[str, str, str, str]) -> None:
    """`price_changes` rows (notified_on, effective_on, new price, increase): row i's
    notified_on on line 28 + 4 i, its effective_on on line 29 + 4 i."""
    text = "  price_changes:\n" + "".join(
        f"    - notified_on: {n}\n      effective_on: {e}\n      new_monthly_price_eur: {p}\n"
        f"      increase: {i}\n"
        for n, e, p, i in rows
    )
    edit(root, CLIENT, PRICES, text)


def unpaid(root: Path, day: str) -> None:
    """`renewal_unpaid` on line 27."""
    edit(
        root,
        CLIENT,
        "  monthly_price_eur: 1250.00\n",
        f"  monthly_price_eur: 1250.00\n  renewal_unpaid: {day}\n",
    )


def guaranteed(renewal: str) -> str:
    return (
        "the price is guaranteed for the contract's period: an increase applies at a renewal, "
        f"not on 2028-01-31; the next renewal is {renewal}: set `effective_on: {renewal}`"
    )


def test_the_example_contract_is_clean(repo: Path) -> None:
    assert ctr(repo) == []


# CTR001, CTR003, CTR002, CTR012: term, renewal, start


def test_an_initial_term_under_the_minimum_and_its_renewal_left_to_ctr001(repo: Path) -> None:
    edit(repo, CLIENT, "initial_term_months: 24", "initial_term_months: 11")
    assert ctr(repo) == [
        at(
            19,
            24,
            "CTR001",
            "the initial term is 11 months; CGV 2024-01 concludes contracts for 12 months "
            "minimum: set `initial_term_months: 12` or more",
        ),
        at(29, 21, "CTR010", guaranteed("2028-12-31")),
    ]


def test_an_initial_term_at_the_minimum_renewed_for_longer(repo: Path) -> None:
    edit(repo, CLIENT, "initial_term_months: 24", "initial_term_months: 12")
    assert ctr(repo) == [
        at(
            21,
            24,
            "CTR003",
            "the contract renews for 24 months but its initial term is 12: renewals last the "
            "same duration, set `renewal_term_months: 12`",
        ),
        at(29, 21, "CTR010", guaranteed("2029-01-31")),
    ]


def test_a_contract_that_does_not_renew(repo: Path) -> None:
    edit(repo, CLIENT, "tacit_renewal: true", "tacit_renewal: false")
    edit(repo, CLIENT, "renewal_term_months: 24", "renewal_term_months: 12")
    assert ctr(repo) == [
        at(
            20,
            18,
            "CTR002",
            "the contract must renew by tacit agreement at its anniversary: set "
            "`tacit_renewal: true` (a client who leaves records a `termination`)",
        ),
        at(
            29,
            21,
            "CTR010",
            "the price is guaranteed for the contract's period: an increase applies at a "
            "renewal, not on 2028-01-31; the contract does not renew, so its price cannot "
            "increase",
        ),
    ]


def test_renewal_rules_are_off_when_the_cgv_does_not_renew_the_same(repo: Path) -> None:
    edit(repo, POLICY, "renewal_same_duration:\n  value: true\n", "renewal_same_duration:\n  value: false\n")  # fmt: skip
    edit(repo, CLIENT, "tacit_renewal: true", "tacit_renewal: false")
    edit(repo, CLIENT, "renewal_term_months: 24", "renewal_term_months: 12")
    assert [f[0] for f in ctr(repo)] == ["CTR010"]


def test_a_renewal_of_another_length_on_a_contract_that_does_not_renew_is_free(
    repo: Path,
) -> None:
    edit(repo, CLIENT, "tacit_renewal: true", "tacit_renewal: false")
    edit(repo, CLIENT, "renewal_term_months: 24", "renewal_term_months: 12")
    assert [f[0] for f in ctr(repo)] == ["CTR002", "CTR010"]


@pytest.mark.parametrize(("start", "found"), [("2023-12-14", True), ("2023-12-15", False)])
def test_a_service_that_starts_before_the_signature(repo: Path, start: str, found: bool) -> None:
    edit(repo, CLIENT, "start_date: 2024-01-31", f"start_date: {start}")
    edit(repo, CLIENT, "effective_on: 2028-01-31", "effective_on: 2029-12-14")  # a renewal
    expected = [
        at(
            18,
            15,
            "CTR012",
            "the service starts on 2023-12-14, before the contract was signed on 2023-12-15: "
            "the infogérance begins once the contract is signed",
        )
    ]
    renewal = [] if found else [at(29, 21, "CTR010", guaranteed_on("2029-12-14", "2029-12-15"))]
    assert ctr(repo) == (expected if found else renewal)


def guaranteed_on(day: str, renewal: str) -> str:
    return (
        "the price is guaranteed for the contract's period: an increase applies at a renewal, "
        f"not on {day}; the next renewal is {renewal}: set `effective_on: {renewal}`"
    )


# CTR004, CTR005, CTR011, CTR013: payment


@pytest.mark.parametrize("method", ["card", "cheque"])
def test_a_payment_method_the_cgv_does_not_accept(repo: Path, method: str) -> None:
    edit(repo, CLIENT, "method: bank_transfer", f"method: {method}")
    assert ctr(repo) == [
        at(
            23,
            13,
            "CTR004",
            f"payment by `{method}` is not accepted: use one of `bank_transfer`, `direct_debit`",
        )
    ]


def test_monthly_invoices_after_the_service(repo: Path) -> None:
    edit(repo, CLIENT, "period_months: 12", "period_months: 1")
    edit(repo, CLIENT, "in_advance: true", "in_advance: false")
    assert ctr(repo) == [
        at(
            24,
            20,
            "CTR005",
            "invoices cover 1 month(s); the CGV bills 12 months at once: set `period_months: 12`",
        ),
        at(25, 17, "CTR005", "the CGV bills in advance, at the order: set `in_advance: true`"),
    ]


def test_invoices_after_the_service_alone(repo: Path) -> None:
    edit(repo, CLIENT, "in_advance: true", "in_advance: false")
    assert ctr(repo) == [
        at(25, 17, "CTR005", "the CGV bills in advance, at the order: set `in_advance: true`")
    ]


def test_no_billing_contact(repo: Path) -> None:
    edit(repo, CLIENT, "roles: [billing]", "roles: [technical]")
    assert ctr(repo) == [
        at(
            4,
            1,
            "CTR013",
            "no contact has the `billing` role: add it to the contact whose address is on the "
            "invoice (notices are delivered there)",
        )
    ]


def test_a_billing_role_on_a_later_contact_among_others(repo: Path) -> None:
    edit(repo, CLIENT, "roles: [billing]", "roles: [technical, billing]")
    assert ctr(repo) == []


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2026-01-31", None),
        (
            "2027-01-31",
            "the renewal of 2027-01-31 is not due yet (today is 2026-12-01): a renewal is "
            "unpaid only once its anniversary has come",
        ),
        ("2026-11-30", "2026-11-30 is not a renewal date of this contract: the last one was 2026-01-31"),
        ("2026-12-01", "2026-12-01 is not a renewal date of this contract: the last one was 2026-01-31"),
        ("2024-01-31", "2024-01-31 is not a renewal date of this contract: the last one was 2026-01-31"),
    ],
)  # fmt: skip
def test_an_unpaid_renewal_is_a_past_anniversary(repo: Path, day: str, message: str | None) -> None:
    unpaid(repo, day)
    assert ctr(repo) == ([at(27, 19, "CTR011", message)] if message else [])


def test_an_unpaid_renewal_due_today(repo: Path) -> None:
    edit(repo, CLIENT, "start_date: 2024-01-31", "start_date: 2024-12-01")
    edit(repo, CLIENT, "effective_on: 2028-01-31", "effective_on: 2028-12-01")
    unpaid(repo, "2026-12-01")
    assert ctr(repo) == []


def test_an_unpaid_renewal_before_any_anniversary(repo: Path) -> None:
    edit(repo, CLIENT, "signed_on: 2023-12-15", "signed_on: 2026-01-01")
    edit(repo, CLIENT, "start_date: 2024-01-31", "start_date: 2026-01-15")
    edit(repo, CLIENT, "effective_on: 2028-01-31", "effective_on: 2028-01-15")
    unpaid(repo, "2026-06-01")
    assert ctr(repo) == [at(27, 19, "CTR011", "2026-06-01 is not a renewal date of this contract")]


def test_an_unpaid_renewal_of_a_contract_that_does_not_renew(repo: Path) -> None:
    edit(repo, CLIENT, "tacit_renewal: true", "tacit_renewal: false")
    edit(repo, CLIENT, "renewal_term_months: 24", "renewal_term_months: 12")
    edit(repo, CLIENT, PRICES, "")
    unpaid(repo, "2026-01-31")
    assert [f for f in ctr(repo) if f[0] != "CTR002"] == [
        at(
            27,
            19,
            "CTR011",
            "2026-01-31 is not a renewal date of this contract: the last one was 2026-01-31",
        )
    ]


# CTR009, CTR010: price changes


@pytest.mark.parametrize(
    ("notified", "found"),
    [
        ("2027-12-31", None),
        (
            "2028-01-01",
            "an increase notified on 2028-01-01 applies on 2028-02-01 at the earliest (1 "
            "month(s) of notice), not 2028-01-31",
        ),
    ],
)
def test_a_later_increase_needs_a_month_of_notice(
    repo: Path, notified: str, found: str | None
) -> None:
    prices(
        repo,
        ("2026-10-20", "2028-01-31", "1310.00", "true"),
        (notified, "2028-01-31", "1320.00", "true"),
    )
    assert ctr(repo) == ([at(32, 20, "CTR009", found)] if found else [])


def test_a_decrease_needs_no_notice_nor_a_renewal(repo: Path) -> None:
    prices(
        repo,
        ("2026-10-20", "2028-01-31", "1310.00", "true"),
        ("2027-06-01", "2027-06-01", "1200.00", "false"),
    )
    assert ctr(repo) == []


def test_a_later_increase_off_its_anniversary(repo: Path) -> None:
    prices(
        repo,
        ("2026-10-20", "2028-01-31", "1310.00", "true"),
        ("2027-06-01", "2027-07-31", "1320.00", "true"),
    )
    assert ctr(repo) == [at(33, 21, "CTR010", guaranteed_on("2027-07-31", "2028-01-31"))]


def test_an_increase_off_its_anniversary_is_free_when_the_cgv_does_not_guarantee(
    repo: Path,
) -> None:
    edit(repo, POLICY, "price_guaranteed_for_term:\n  value: true\n", "price_guaranteed_for_term:\n  value: false\n")  # fmt: skip
    prices(repo, ("2027-06-01", "2027-07-31", "1320.00", "true"))
    assert ctr(repo) == []


# CTR006: the channel


@pytest.mark.parametrize(
    ("fields", "line", "column", "message"),
    [
        (
            {"channel": "phone"},
            34,
            14,
            "a termination by `phone` is not valid: the client must send it by `email` or "
            "`registered_letter`",
        ),
        (
            {"to": None},
            34,
            14,
            f"a termination by email must be sent to {DAG_MAIL}: add `to: {DAG_MAIL}`",
        ),
        (
            {"to": "ceo@dagtechnologies.fr"},
            35,
            9,
            f"a termination by email must be sent to {DAG_MAIL}: ceo@dagtechnologies.fr does "
            "not count",
        ),
        (
            {"channel": "registered_letter", "to": None},
            34,
            14,
            "REQ-2023-010 was received by `email`, not `registered_letter`: record the channel "
            "the termination actually came through",
        ),
    ],
)
def test_a_termination_by_a_channel_the_cgv_does_not_name_or_not_the_requests(
    repo: Path, fields: dict[str, str | None], line: int, column: int, message: str
) -> None:
    merged = {k: v for k, v in {**NOTICE, **fields}.items() if v is not None}
    terminate(repo, **merged)
    assert ctr(repo) == [at(line, column, "CTR006", message)]


def test_a_termination_by_registered_letter_citing_a_request_by_letter(repo: Path) -> None:
    edit(
        repo,
        "clients/velo-savoie/requests.yaml",
        "    date: 2023-12-15\n    channel: email\n",
        "    date: 2023-12-15\n    channel: registered_letter\n",
    )
    terminate(repo, **{**{k: v for k, v in NOTICE.items() if k != "to"}, "channel": "registered_letter"})  # fmt: skip
    assert ctr(repo) == []


# CTR007, CTR008: the notice, and the price-increase exemption


@pytest.mark.parametrize(("requested", "late"), [("2026-12-29", False), ("2026-12-30", True)])
def test_a_notice_received_after_the_jours_francs(repo: Path, requested: str, late: bool) -> None:
    terminate(repo, **{**NOTICE, "requested_on": requested})
    assert ctr(repo) == (
        [
            at(
                33,
                19,
                "CTR007",
                "a termination effective on 2027-01-31 had to be received by 2026-12-29 (32 "
                "jours francs before); received on 2026-12-30, it needs a later `effective_on`",
            )
        ]
        if late
        else []
    )


@pytest.mark.parametrize(("effective", "early"), [("2025-01-30", True), ("2025-01-31", False)])
def test_a_termination_before_the_twelfth_month_is_over(
    repo: Path, effective: str, early: bool
) -> None:
    terminate(repo, **{**NOTICE, "requested_on": "2024-11-01", "effective_on": effective})
    assert ctr(repo) == (
        [
            at(
                36,
                19,
                "CTR008",
                "the contract can end only once its 12th month is over, on 2025-01-31 at the "
                "earliest (it started on 2024-01-31)",
            )
        ]
        if early
        else []
    )


def late_notice(requested: str, effective: str, latest: str) -> Seen:
    return at(
        33,
        19,
        "CTR007",
        f"a termination effective on {effective} had to be received by {latest} (32 jours "
        f"francs before); received on {requested}, it needs a later `effective_on`",
    )


@pytest.mark.parametrize(
    ("requested", "effective", "exempt", "latest"),
    [
        ("2026-10-19", "2026-11-15", False, "2026-10-13"),  # before the increase's notice
        ("2026-10-20", "2026-11-15", True, ""),  # on the notice day
        ("2026-11-20", "2026-11-30", True, ""),  # the last day of its month
        ("2026-11-21", "2026-11-30", False, "2026-10-28"),  # the day after
    ],
)
def test_a_termination_within_a_month_of_an_increase_needs_no_notice(
    repo: Path, requested: str, effective: str, exempt: bool, latest: str
) -> None:
    terminate(repo, **{**NOTICE, "requested_on": requested, "effective_on": effective})
    assert ctr(repo) == ([] if exempt else [late_notice(requested, effective, latest)])


def test_a_decrease_exempts_no_termination(repo: Path) -> None:
    prices(repo, ("2026-10-20", "2028-01-31", "1200.00", "false"))
    terminate(repo, **{**NOTICE, "requested_on": "2026-10-20", "effective_on": "2026-11-15"})
    assert ctr(repo) == [late_notice("2026-10-20", "2026-11-15", "2026-10-13")]


def test_a_later_increase_exempts_a_termination_in_its_month(repo: Path) -> None:
    prices(
        repo,
        ("2026-06-01", "2026-07-31", "1200.00", "false"),
        ("2026-10-20", "2028-01-31", "1310.00", "true"),
    )
    terminate(repo, **{**NOTICE, "requested_on": "2026-11-20", "effective_on": "2026-11-30"})
    assert [f for f in ctr(repo) if f[0] != "CTR010"] == []


def test_the_exemption_lifts_the_first_year_minimum_too(repo: Path) -> None:
    edit(repo, CLIENT, "signed_on: 2023-12-15", "signed_on: 2026-01-01")
    edit(repo, CLIENT, "start_date: 2024-01-31", "start_date: 2026-01-31")
    terminate(repo, **{**NOTICE, "requested_on": "2026-11-20", "effective_on": "2026-12-31"})
    assert ctr(repo) == []


# CTR014: a termination for a price increase


PRICE_LATE = (
    "a termination for a price increase must be received within 1 month(s) of the increase's "
    "notice (notices: {known}); received on {requested}, it needs Article 7's notice: set "
    "`ground: notice`"
)


@pytest.mark.parametrize(("requested", "late"), [("2026-11-20", False), ("2026-11-21", True)])
def test_a_termination_for_a_price_increase_within_its_month(
    repo: Path, requested: str, late: bool
) -> None:
    terminate(repo, **{**NOTICE, "requested_on": requested, "effective_on": "2026-12-31", "ground": "price_increase"})  # fmt: skip
    assert ctr(repo) == (
        [at(33, 19, "CTR014", PRICE_LATE.format(known="2026-10-20", requested=requested))]
        if late
        else []
    )


def test_a_termination_for_a_price_increase_lists_every_increase_notice(repo: Path) -> None:
    prices(
        repo,
        ("2026-06-01", "2026-07-31", "1200.00", "false"),
        ("2026-08-01", "2028-01-31", "1300.00", "true"),
        ("2026-10-20", "2028-01-31", "1310.00", "true"),
    )
    terminate(repo, **{**NOTICE, "requested_on": "2026-11-21", "effective_on": "2026-12-31", "ground": "price_increase"})  # fmt: skip
    assert ctr(repo) == [
        (
            "CTR014",
            CLIENT,
            41,
            19,
            None,
            PRICE_LATE.format(known="2026-08-01, 2026-10-20", requested="2026-11-21"),
        )
    ]


def test_a_termination_for_a_price_increase_without_any(repo: Path) -> None:
    prices(repo, ("2026-10-20", "2028-01-31", "1200.00", "false"))
    terminate(repo, **{**NOTICE, "ground": "price_increase"})
    assert ctr(repo) == [
        at(
            33,
            19,
            "CTR014",
            PRICE_LATE.format(known="none is recorded in `price_changes`", requested="2026-11-05"),
        )
    ]


# CTR015, CTR016, CTR017: the other grounds


@pytest.mark.parametrize(
    ("ground", "what"),
    [
        ("service_change", "the day the change of the service took effect"),
        ("force_majeure", "the day the force majeure was notified"),
        ("breach", "the first presentation of the registered letter notifying the breach"),
    ],
)
def test_a_ground_without_its_event(repo: Path, ground: str, what: str) -> None:
    terminate(repo, **{**NOTICE, "ground": ground})
    assert ctr(repo) == [
        at(38, 13, "CTR0" + {"service_change": "15", "force_majeure": "16", "breach": "17"}[ground],
           f"a `{ground}` termination needs `event_on`: {what}")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "last"),
    [("2026-11-05", "2026-12-05"), ("2026-11-04", None), ("2026-10-06", None), ("2026-10-05", "2026-11-04")],
)  # fmt: skip
def test_a_termination_for_a_change_of_the_service_within_its_days(
    repo: Path, event: str, last: str | None
) -> None:
    terminate(repo, **{**NOTICE, "ground": "service_change", "event_on": event})
    assert ctr(repo) == (
        [
            at(
                33,
                19,
                "CTR015",
                f"a termination for a change of the service that took effect on {event} must "
                f"be received after it and by {last} (30 days); received on 2026-11-05, it "
                "needs Article 7's notice",
            )
        ]
        if last
        else []
    )


@pytest.mark.parametrize(("event", "first"), [("2026-10-05", None), ("2026-10-06", "2026-11-06")])
def test_a_termination_for_force_majeure_once_it_lasted(
    repo: Path, event: str, first: str | None
) -> None:
    terminate(repo, **{**NOTICE, "ground": "force_majeure", "event_on": event})
    assert ctr(repo) == (
        [
            at(
                33,
                19,
                "CTR016",
                f"force majeure notified on {event} allows a termination only once it has "
                f"lasted over 30 days, from {first}; requested on 2026-11-05",
            )
        ]
        if first
        else []
    )


@pytest.mark.parametrize("effective", ["2026-11-09", "2026-11-10", "2026-11-11"])
def test_a_termination_for_breach_after_the_cure_period(repo: Path, effective: str) -> None:
    """Notified on Monday 2 November 2026: 7 jours ouvrables (Monday to Saturday) end on
    Tuesday 10 November."""
    terminate(repo, **{**NOTICE, "ground": "breach", "event_on": "2026-11-02", "effective_on": effective})  # fmt: skip
    assert ctr(repo) == (
        []
        if effective == "2026-11-11"
        else [
            at(
                36,
                19,
                "CTR017",
                "a breach notified on 2026-11-02 may still be remedied until 2026-11-10 (7 "
                f"jours ouvrables): the termination takes effect after that day, not on "
                f"{effective}",
            )
        ]
    )


def test_other_grounds_need_no_notice(repo: Path) -> None:
    """A force-majeure termination received 3 days before its effect: no CTR007 nor CTR008."""
    terminate(repo, **{**NOTICE, "requested_on": "2024-11-01", "effective_on": "2024-11-04", "ground": "force_majeure", "event_on": "2024-09-01"})  # fmt: skip
    assert ctr(repo) == []


def test_an_unpaid_renewal_off_its_date_names_todays_anniversary_as_the_last(repo: Path) -> None:
    edit(repo, CLIENT, "start_date: 2024-01-31", "start_date: 2024-12-01")
    edit(repo, CLIENT, "effective_on: 2028-01-31", "effective_on: 2028-12-01")
    unpaid(repo, "2026-11-30")
    assert ctr(repo) == [
        at(
            27,
            19,
            "CTR011",
            "2026-11-30 is not a renewal date of this contract: the last one was 2026-12-01",
        )
    ]


def test_the_cure_period_is_the_policys(repo: Path) -> None:
    """With 5 jours ouvrables, a breach notified on Monday 2 November 2026 may be remedied
    until Saturday 7 November, a deadline carried to Monday 9 November."""
    edit(repo, POLICY, "cure_jours_ouvrables:\n  value: 7\n", "cure_jours_ouvrables:\n  value: 5\n")
    terminate(repo, **{**NOTICE, "ground": "breach", "event_on": "2026-11-02", "effective_on": "2026-11-09"})  # fmt: skip
    assert ctr(repo) == [
        at(
            36,
            19,
            "CTR017",
            "a breach notified on 2026-11-02 may still be remedied until 2026-11-09 (5 jours "
            "ouvrables): the termination takes effect after that day, not on 2026-11-09",
        )
    ]
