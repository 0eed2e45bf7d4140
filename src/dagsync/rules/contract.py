"""Contract rules (CGV Art. 7 and 8): term, renewal, payment, termination, price changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from ..model.client import Channel
from .base import ERROR, ClientContext, Violation, rule

_CONTRACT = ("contract",)
_TERMINATION = ("contract", "termination")


def add_months(day: dt.date, months: int) -> dt.date:
    """`dagsync.contracts.add_months`, imported on first use: it loads `holidays` (slow), which
    only contracts with a termination or a price change need."""
    from ..contracts import add_months as add

    return add(day, months)


@rule(id="CTR001", severity=ERROR, article="7", terms=("min_initial_term_months",))
def initial_term(ctx: ClientContext) -> Iterator[Violation]:
    """The initial term lasts at least the CGV minimum.

    What it checks:
        `contract.initial_term_months` is at least `min_initial_term_months` of the CGV
        version the contract names.

    Why:
        Article 7 concludes every contract for a minimum initial period. A shorter term in the
        configuration would compute wrong renewal and termination dates.

    Failing example (clients/alpine-books/client.yaml):
        contract:
          initial_term_months: 6
          renewal_term_months: 6

    Passing example (clients/alpine-books/client.yaml):
        contract:
          initial_term_months: 12
          renewal_term_months: 12

    Fix:
        Record the term of the signed contract, at least the CGV minimum.
    """
    minimum = ctx.policy.min_initial_term_months.value
    months = ctx.client.contract.initial_term_months
    if months < minimum:
        yield Violation(
            ctx.client_doc,
            (*_CONTRACT, "initial_term_months"),
            f"the initial term is {months} months; CGV {ctx.policy.version} concludes contracts "
            f"for {minimum} months minimum: set `initial_term_months: {minimum}` or more",
        )


@rule(id="CTR002", severity=ERROR, article="7", terms=("renewal_same_duration",))
def tacit_renewal(ctx: ClientContext) -> Iterator[Violation]:
    """The contract renews tacitly on its anniversary.

    What it checks:
        `contract.tacit_renewal` is true when the CGV version provides tacit renewal.

    Why:
        Article 7 renews the contract by tacit agreement at each anniversary; a contract that
        does not renew would stop the service at the end of its term without any notice.

    Failing example (clients/alpine-books/client.yaml):
        contract:
          tacit_renewal: false

    Passing example (clients/alpine-books/client.yaml):
        contract:
          tacit_renewal: true

    Fix:
        Set `tacit_renewal: true`; a client who wants to leave sends a termination request.
    """
    if ctx.policy.renewal_same_duration.value and not ctx.client.contract.tacit_renewal:
        yield Violation(
            ctx.client_doc,
            (*_CONTRACT, "tacit_renewal"),
            "the contract must renew by tacit agreement at its anniversary: set "
            "`tacit_renewal: true` (a client who leaves records a `termination`)",
        )


@rule(id="CTR003", severity=ERROR, article="7", terms=("renewal_same_duration",))
def renewal_duration(ctx: ClientContext) -> Iterator[Violation]:
    """Each renewal lasts as long as the initial term.

    What it checks:
        `contract.renewal_term_months` equals `contract.initial_term_months`. When the
        initial term is itself below the minimum (CTR001) or the contract does not renew
        (CTR002), only that rule reports.

    Why:
        Article 7 renews the contract "pour une durée identique".

    Failing example (clients/alpine-books/client.yaml):
        contract:
          initial_term_months: 12
          renewal_term_months: 24

    Passing example (clients/alpine-books/client.yaml):
        contract:
          initial_term_months: 24
          renewal_term_months: 24

    Fix:
        Make `renewal_term_months` equal to `initial_term_months`.
    """
    contract = ctx.client.contract
    if not (ctx.policy.renewal_same_duration.value and contract.tacit_renewal):
        return
    if contract.initial_term_months < ctx.policy.min_initial_term_months.value:
        return
    if contract.renewal_term_months != contract.initial_term_months:
        yield Violation(
            ctx.client_doc,
            (*_CONTRACT, "renewal_term_months"),
            f"the contract renews for {contract.renewal_term_months} months but its initial term "
            f"is {contract.initial_term_months}: renewals last the same duration, set "
            f"`renewal_term_months: {contract.initial_term_months}`",
        )


@rule(id="CTR004", severity=ERROR, article="8", terms=("payment_methods",))
def payment_method(ctx: ClientContext) -> Iterator[Violation]:
    """Payment is by bank transfer or direct debit only.

    What it checks:
        `contract.payment.method` is one of the `payment_methods` of the CGV version.

    Why:
        Article 8 accepts no other means of payment; an invoice paid otherwise is void.

    Failing example (clients/alpine-books/client.yaml):
        contract:
          payment:
            method: card

    Passing example (clients/alpine-books/client.yaml):
        contract:
          payment:
            method: direct_debit

    Fix:
        Use `bank_transfer` or `direct_debit`.
    """
    accepted = ctx.policy.payment_methods.value
    method = ctx.client.contract.payment.method
    if method not in accepted:
        yield Violation(
            ctx.client_doc,
            (*_CONTRACT, "payment", "method"),
            f"payment by `{method}` is not accepted: use one of "
            + ", ".join(f"`{m}`" for m in accepted),
        )


@rule(id="CTR005", severity=ERROR, article="8", terms=("payment_period_months",))
def payment_in_advance(ctx: ClientContext) -> Iterator[Violation]:
    """The contract is paid in advance for the CGV period.

    What it checks:
        `contract.payment.period_months` equals `payment_period_months` of the CGV version and
        `contract.payment.in_advance` is true.

    Why:
        Article 8: prices are "payables en euros d'avance, à la commande, pour une période de
        12 mois".

    Failing example (clients/alpine-books/client.yaml):
        contract:
          payment:
            period_months: 1
            in_advance: false

    Passing example (clients/alpine-books/client.yaml):
        contract:
          payment:
            period_months: 12
            in_advance: true

    Fix:
        Invoice the CGV period in advance.
    """
    period = ctx.policy.payment_period_months.value
    payment = ctx.client.contract.payment
    path = (*_CONTRACT, "payment")
    if payment.period_months != period:
        yield Violation(
            ctx.client_doc,
            (*path, "period_months"),
            f"invoices cover {payment.period_months} month(s); the CGV bills {period} months at "
            f"once: set `period_months: {period}`",
        )
    if not payment.in_advance:
        yield Violation(
            ctx.client_doc,
            (*path, "in_advance"),
            "the CGV bills in advance, at the order: set `in_advance: true`",
        )


@rule(id="CTR006", severity=ERROR, article="7", terms=("termination_channels", "termination_email"))
def termination_channel(ctx: ClientContext) -> Iterator[Violation]:
    """A termination request came through an accepted channel.

    What it checks:
        A recorded `contract.termination` uses a channel of `termination_channels`; an email
        was sent to `termination_email`; the cited request was received through the same
        channel as the one recorded.

    Why:
        Article 7: the request "doit obligatoirement être formulée" by email to the accounting
        address or, failing that, by registered letter. A phone call or a ticket does not
        terminate the contract.

    Failing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            requested_on: 2025-06-02
            channel: phone
            effective_on: 2026-03-01
            request: REQ-2025-001

    Passing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            requested_on: 2025-06-02
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-03-01
            request: REQ-2025-001

    Fix:
        Ask the client to send the termination by email to the accounting address or by
        registered letter, and record that one.
    """
    termination = ctx.client.contract.termination
    if termination is None:
        return
    accepted = ctx.policy.termination_channels.value
    address = ctx.policy.termination_email.value
    request = ctx.requests.get(termination.request)
    if termination.channel not in accepted:
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, "channel"),
            f"a termination by `{termination.channel}` is not valid: the client must send it "
            "by " + " or ".join(f"`{c}`" for c in accepted),
        )
    elif termination.channel is Channel.EMAIL and termination.to != address:
        where = "to" if termination.to is not None else "channel"
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, where),
            f"a termination by email must be sent to {address}: "
            + (f"{termination.to} does not count" if termination.to else f"add `to: {address}`"),
        )
    elif request is not None and request.channel != termination.channel:
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, "channel"),
            f"{request.id} was received by `{request.channel}`, not `{termination.channel}`: "
            "record the channel the termination actually came through",
        )


@rule(id="CTR007", severity=ERROR, article="7", terms=("termination_notice_jours_francs",))
def termination_notice(ctx: ClientContext) -> Iterator[Violation]:
    """A termination respects the notice in jours francs.

    What it checks:
        `contract.termination.requested_on` leaves at least `termination_notice_jours_francs`
        whole days (jours francs: neither the day of receipt nor the effective day counts)
        before `effective_on`. The finding is on `requested_on`.

    Why:
        Article 7: the request "devra être faite en tenant compte d'un délai de préavis de 32
        jours francs" before the anniversary or the termination date asked for.

    Failing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            requested_on: 2026-02-10
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-03-01
            request: REQ-2025-001

    Passing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            requested_on: 2026-01-27
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-03-01
            request: REQ-2025-001

    Fix:
        Move `effective_on` to a date the notice allows (the next anniversary, or a later
        termination date).
    """
    termination = ctx.client.contract.termination
    if termination is None:
        return
    from ..calendar import latest_notice_date  # loads `holidays` (slow): only when needed

    days = ctx.policy.termination_notice_jours_francs.value
    latest = latest_notice_date(termination.effective_on, days)
    if termination.requested_on > latest:
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, "requested_on"),
            f"a termination effective on {termination.effective_on} had to be received by "
            f"{latest} ({days} jours francs before); received on {termination.requested_on}, "
            "it needs a later `effective_on`",
        )


@rule(id="CTR008", severity=ERROR, article="7", terms=("termination_earliest_month",))
def termination_earliest(ctx: ClientContext) -> Iterator[Violation]:
    """A termination is not effective before the CGV's first months are over.

    What it checks:
        `contract.termination.effective_on` is on or after `contract.start_date` plus
        `termination_earliest_month` months.

    Why:
        Article 7: "A partir du 12ème mois de contrat échu, le Client pourra résilier le
        contrat".

    Failing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            requested_on: 2025-06-02
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-02-27
            request: REQ-2025-001

    Passing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            requested_on: 2025-06-02
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-03-01
            request: REQ-2025-001

    Fix:
        Set `effective_on` no earlier than the date the finding gives.
    """
    termination = ctx.client.contract.termination
    if termination is None:
        return
    months = ctx.policy.termination_earliest_month.value
    earliest = add_months(ctx.client.contract.start_date, months)
    if termination.effective_on < earliest:
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, "effective_on"),
            f"the contract can end only once its {months}th month is over, on {earliest} at the "
            f"earliest (it started on {ctx.client.contract.start_date})",
        )


@rule(id="CTR009", severity=ERROR, article="8", terms=("price_increase_notice_months",))
def price_increase_notice(ctx: ClientContext) -> Iterator[Violation]:
    """A price increase is notified ahead of time.

    What it checks:
        Each `contract.price_changes` entry with `increase: true` has `notified_on` at least
        `price_increase_notice_months` months before `effective_on`.

    Why:
        Article 8: DAG may change its prices "sous réserve d'en informer le Client un mois à
        l'avance si les nouveaux tarifs hors taxes sont moins favorables au Client".

    Failing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2027-01-15
              effective_on: 2027-01-31
              new_monthly_price_eur: 1310.00
              increase: true

    Passing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2026-12-31
              effective_on: 2027-01-31
              new_monthly_price_eur: 1310.00
              increase: true

    Fix:
        Postpone `effective_on` so that the notice period is respected.
    """
    months = ctx.policy.price_increase_notice_months.value
    for index, change in enumerate(ctx.client.contract.price_changes):
        earliest = add_months(change.notified_on, months)
        if change.increase and change.effective_on < earliest:
            yield Violation(
                ctx.client_doc,
                (*_CONTRACT, "price_changes", index, "notified_on"),
                f"an increase notified on {change.notified_on} applies on {earliest} at the "
                f"earliest ({months} month(s) of notice), not {change.effective_on}",
            )
