"""Contract rules (CGV Art. 4, 7, 8, 10): start, term, renewal, payment, termination, prices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dagsync.model.client import Channel, ContactRole, Termination, TerminationGround
from dagsync.rules.base import ERROR, ClientContext, Violation, rule

if TYPE_CHECKING:
    from dagsync.contract.lifecycle import ContractTerms

_CONTRACT = ("contract",)
_TERMINATION = ("contract", "termination")


def add_months(day: dt.date, months: int) -> dt.date:
    """`dagsync.contract.lifecycle.add_months`, imported on first use: it loads `holidays` (slow), which
    only contracts with a termination or a price change need."""
    from dagsync.contract.lifecycle import add_months as add

    return add(day, months)


def _terms(ctx: ClientContext) -> ContractTerms:
    """The contract's dates and delays from its CGV version (imports `holidays`: on use only)."""
    from dagsync.contract.deadlines import terms_of

    return terms_of(ctx.client, ctx.policy)


def price_increase_exemption(ctx: ClientContext) -> dt.date | None:
    """The notice day of the price increase a termination answers, if it does.

    Article 8: after a less favourable price is notified, "par dérogation à l'article 7, le
    Client disposera à compter de cette information d'un délai d'un mois pour résilier le
    présent contrat sans pénalité". A termination received from the notice day to the end of
    that month is exempt from Article 7's notice and first-year minimum.
    """
    termination = ctx.client.contract.termination
    if termination is None:
        return None
    months = ctx.policy.price_increase_notice_months.value
    for change in ctx.client.contract.price_changes:
        deadline = add_months(change.notified_on, months)
        if change.increase and change.notified_on <= termination.requested_on <= deadline:
            return change.notified_on
    return None


def _on_notice(ctx: ClientContext) -> Termination | None:
    """The recorded termination if it ends the contract by Article 7's notice (its default
    `ground`); terminations on another ground have their own rules (CTR014 to CTR017)."""
    termination = ctx.client.contract.termination
    if termination is None or termination.ground is not TerminationGround.NOTICE:
        return None
    return termination


def _on_ground(ctx: ClientContext, ground: TerminationGround) -> Termination | None:
    termination = ctx.client.contract.termination
    if termination is None or termination.ground is not ground:
        return None
    return termination


@rule(id="CTR001", severity=ERROR, article="7", terms=("min_initial_term_months",))
def initial_term(ctx: ClientContext) -> Iterator[Violation]:
    """The initial term lasts at least the CGV minimum.

    What it checks:
        `contract.initial_term_months` is at least `min_initial_term_months` of the CGV
        version the contract names.

        Accepted: any longer initial term (24 or 36 months), renewed for as long (CTR003).

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

    Also passing example (clients/alpine-books/client.yaml):
        contract:
          initial_term_months: 36
          renewal_term_months: 36

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

        Accepted: a contract whose client leaves records a `termination` and keeps
        `tacit_renewal: true`.

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

        Accepted: any duration, as long as both terms are equal.

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

        Accepted: each of `payment_methods` (`bank_transfer`, `direct_debit`).

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

        Accepted: exactly the CGV period, invoiced in advance.

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

        Accepted: an email to the accounting address, or a registered letter (no `to`),
        whose cited request came through the same channel.

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

        Accepted: any `effective_on` when the termination was received within
        `price_increase_notice_months` month(s) of the notice of a price increase recorded in
        `contract.price_changes` (Article 8 lets the client leave then "sans pénalité", by
        derogation to Article 7); a termination on another `ground` (`price_increase`,
        `service_change`, `force_majeure`, `breach`), which CTR014 to CTR017 check instead.

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

    Also passing example (clients/velo-savoie/client.yaml):
        contract:
          termination:
            requested_on: 2026-11-02
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-12-01
            request: REQ-2023-010

    Fix:
        Move `effective_on` to a date the notice allows (the next anniversary, or a later
        termination date).
    """
    termination = _on_notice(ctx)
    if termination is None or price_increase_exemption(ctx) is not None:
        return
    from dagsync.contract.calendar import (
        latest_notice_date,  # loads `holidays` (slow): only when needed
    )

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

        Accepted: an earlier `effective_on` when the termination was received within
        `price_increase_notice_months` month(s) of the notice of a price increase recorded in
        `contract.price_changes` (Article 8, "par dérogation à l'article 7"); a termination on
        another `ground`, which CTR014 to CTR017 check instead.

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

    Also passing example (clients/alpine-books/client.yaml):
        contract:
          price_changes:
            - notified_on: 2025-06-02
              effective_on: 2026-03-01
              new_monthly_price_eur: 199.00
              increase: true
          termination:
            requested_on: 2025-06-10
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2025-07-01
            request: REQ-2025-001

    Fix:
        Set `effective_on` no earlier than the date the finding gives.
    """
    termination = _on_notice(ctx)
    if termination is None or price_increase_exemption(ctx) is not None:
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

        Accepted: a decrease (`increase: false`) at any date, without notice: the notice
        protects the client from less favourable prices only.

    Why:
        Article 8: DAG may change its prices "sous réserve d'en informer le Client un mois à
        l'avance si les nouveaux tarifs hors taxes sont moins favorables au Client".

    Failing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2028-01-15
              effective_on: 2028-01-31
              new_monthly_price_eur: 1310.00
              increase: true

    Passing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2027-12-31
              effective_on: 2028-01-31
              new_monthly_price_eur: 1310.00
              increase: true

    Also passing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2027-01-15
              effective_on: 2027-01-31
              new_monthly_price_eur: 1190.00
              increase: false

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


@rule(id="CTR010", severity=ERROR, article="8", terms=("price_guaranteed_for_term",))
def price_guaranteed(ctx: ClientContext) -> Iterator[Violation]:
    """A price increase applies at a renewal, never during a contract period.

    What it checks:
        When the CGV version guarantees the price for the contract's duration, each
        `contract.price_changes` entry with `increase: true` has an `effective_on` that is an
        anniversary of the contract (the end of the initial term or of a renewal, computed
        from `start_date`, `initial_term_months` and `renewal_term_months`). The finding is on
        `effective_on` and names the first renewal the new price can apply from.

        Accepted: a decrease (`increase: false`) at any date; an increase on any anniversary,
        whichever anniversary follows the notice.

    Why:
        Article 8: "Le tarif de l'infogérance est garanti pour toute la durée du contrat" and
        "Les modifications de tarifs seront applicables à tous les contrats au moment de leur
        renouvellement". An increase in the middle of a 24-month term breaks the guarantee.
        (Regulation invoices for supplier costs and new taxes are invoices, not price
        changes: they are not recorded here.)

    Failing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2026-10-20
              effective_on: 2027-01-31
              new_monthly_price_eur: 1310.00
              increase: true

    Passing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2026-10-20
              effective_on: 2028-01-31
              new_monthly_price_eur: 1310.00
              increase: true

    Also passing example (clients/velo-savoie/client.yaml):
        contract:
          price_changes:
            - notified_on: 2026-10-20
              effective_on: 2027-01-31
              new_monthly_price_eur: 1190.00
              increase: false

    Fix:
        Set `effective_on` to the renewal the finding names.
    """
    if not ctx.policy.price_guaranteed_for_term.value:
        return
    increases = [(i, c) for i, c in enumerate(ctx.client.contract.price_changes) if c.increase]
    if not increases:
        return
    from dagsync.contract.lifecycle import anniversaries, next_renewal

    terms = _terms(ctx)
    for index, change in increases:
        if change.effective_on in anniversaries(terms, change.effective_on):
            continue
        renewal = next_renewal(terms, change.effective_on)
        then = (
            f"the next renewal is {renewal}: set `effective_on: {renewal}`"
            if renewal is not None
            else "the contract does not renew, so its price cannot increase"
        )
        yield Violation(
            ctx.client_doc,
            (*_CONTRACT, "price_changes", index, "effective_on"),
            f"the price is guaranteed for the contract's period: an increase applies at a renewal, "
            f"not on {change.effective_on}; {then}",
        )


@rule(id="CTR011", severity=ERROR, article="8", terms=("unpaid_suspension_days",))
def unpaid_renewal_date(ctx: ClientContext) -> Iterator[Violation]:
    """An unpaid renewal names a renewal date of the contract that has come.

    What it checks:
        `contract.renewal_unpaid`, when set, is an anniversary of the contract (the end of the
        initial term or of a renewal) that is not after today, and the contract renews.

        Accepted: no `renewal_unpaid` (the usual case); any past anniversary, however old.

    Why:
        Article 8: when a renewal is not paid, "DAG Technologies ne pourra effectuer le
        renouvellement du service", the service stops "à la date anniversaire du contrat" and
        the infogérance is suspended 15 days later. `dagsync contracts` computes the stop
        and the definitive suspension (`unpaid_suspension_days` later) from that anniversary:
        any other date computes nothing.

    Failing example (clients/alpine-books/client.yaml):
        contract:
          renewal_unpaid: 2026-03-15

    Passing example (clients/alpine-books/client.yaml):
        contract:
          renewal_unpaid: 2026-03-01

    Fix:
        Record the anniversary whose renewal is unpaid (the finding names the nearest one), or
        remove `renewal_unpaid` once it is paid.
    """
    unpaid = ctx.client.contract.renewal_unpaid
    if unpaid is None:
        return
    from dagsync.contract.lifecycle import anniversaries

    terms = _terms(ctx)
    path = (*_CONTRACT, "renewal_unpaid")
    dates = anniversaries(terms, max(unpaid, ctx.today))
    if unpaid > ctx.today:
        yield Violation(
            ctx.client_doc,
            path,
            f"the renewal of {unpaid} is not due yet (today is {ctx.today}): a renewal is unpaid "
            "only once its anniversary has come",
        )
    elif unpaid not in dates or not terms.tacit_renewal:
        past = [d for d in dates if d <= ctx.today]
        near = f": the last one was {past[-1]}" if past else ""
        yield Violation(
            ctx.client_doc,
            path,
            f"{unpaid} is not a renewal date of this contract{near}",
        )


_START_CLAUSE = (
    "DAG Technologies procède à l'infogérance du ou des serveurs du Client suite à "
    "l'acceptation de la proposition commerciale, du contrat signé par le Client et du "
    "paiement correspondant de celui-ci."
)
_NOTICE_CLAUSE = (
    "Toutes les notifications, communications, mises en demeure prévues par les conditions "
    "générales seront réputées avoir été valablement délivrées au Client si elles sont "
    "adressées aux adresses stipulées sur la facture."
)


@rule(id="CTR012", severity=ERROR, article="4", clause=_START_CLAUSE)
def signed_before_start(ctx: ClientContext) -> Iterator[Violation]:
    """The service starts once the contract is signed.

    What it checks:
        `contract.start_date` is on or after `contract.signed_on`.

        Accepted: a start on the day of signature or any day after it.

    Why:
        Article 4: DAG manages the servers "suite à l'acceptation de la proposition
        commerciale, du contrat signé par le Client et du paiement correspondant". A start
        before the signature dates renewals and notices from a day no contract covered. (The
        acceptance of the proposal and the payment are not recorded in this repository.)

    Failing example (clients/alpine-books/client.yaml):
        contract:
          signed_on: 2025-03-05

    Passing example (clients/alpine-books/client.yaml):
        contract:
          signed_on: 2025-03-01

    Fix:
        Record the signature date of the contract, and a start date on or after it.
    """
    contract = ctx.client.contract
    if contract.start_date < contract.signed_on:
        yield Violation(
            ctx.client_doc,
            (*_CONTRACT, "start_date"),
            f"the service starts on {contract.start_date}, before the contract was signed on "
            f"{contract.signed_on}: the infogérance begins once the contract is signed",
        )


@rule(id="CTR013", severity=ERROR, article="10", clause=_NOTICE_CLAUSE)
def billing_contact(ctx: ClientContext) -> Iterator[Violation]:
    """The client has a billing contact to receive notices.

    What it checks:
        At least one of `contacts` has the `billing` role.

        Accepted: one contact holding every role; several billing contacts.

    Why:
        Article 10: notices and formal demands are validly delivered to the addresses on the
        invoice; Article 8 sends payment reminders "par courriers et/ou E-mails successifs".
        Without a billing contact, renewal, price-change and unpaid-renewal notices have no
        recorded address.

    Failing example (clients/alpine-books/client.yaml):
        contacts:
          - name: Claire Martin
            email: claire.martin@alpine-books.example
            roles: [admin, technical]

    Passing example (clients/alpine-books/client.yaml):
        contacts:
          - name: Claire Martin
            email: claire.martin@alpine-books.example
            roles: [admin, billing, technical]

    Fix:
        Give the `billing` role to the contact whose address is on the invoice.
    """
    if not any(ContactRole.BILLING in c.roles for c in ctx.client.contacts):
        yield Violation(
            ctx.client_doc,
            ("contacts",),
            "no contact has the `billing` role: add it to the contact whose address is on the "
            "invoice (notices are delivered there)",
            key=True,
        )


@rule(id="CTR014", severity=ERROR, article="8", terms=("price_increase_notice_months",))
def termination_price_increase(ctx: ClientContext) -> Iterator[Violation]:
    """A termination for a price increase comes within the month after its notice.

    What it checks:
        A `contract.termination` with `ground: price_increase` was received (`requested_on`)
        on or after the `notified_on` of an increase recorded in `contract.price_changes`,
        and at most `price_increase_notice_months` month(s) later.

        Accepted: any `effective_on` and no Article 7 notice (the client leaves "sans
        pénalité"); a termination on the Article 7 notice (`ground: notice`, the default)
        received in that month, which CTR007 and CTR008 accept too.

    Why:
        Article 8: "par dérogation à l'article 7, le Client disposera à compter de cette
        information d'un délai d'un mois pour résilier le présent contrat sans pénalité".
        After that month the new price is accepted and Article 7 applies again.

    Failing example (clients/velo-savoie/client.yaml):
        contract:
          termination:
            ground: price_increase
            requested_on: 2026-12-15
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2027-01-01
            request: REQ-2023-010

    Passing example (clients/velo-savoie/client.yaml):
        contract:
          termination:
            ground: price_increase
            requested_on: 2026-11-02
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-12-01
            request: REQ-2023-010

    Fix:
        Record the price increase the client answers, or terminate on the Article 7 notice
        (`ground: notice`).
    """
    termination = _on_ground(ctx, TerminationGround.PRICE_INCREASE)
    if termination is None or price_increase_exemption(ctx) is not None:
        return
    months = ctx.policy.price_increase_notice_months.value
    notices = [c.notified_on for c in ctx.client.contract.price_changes if c.increase]
    known = ", ".join(str(d) for d in notices) or "none is recorded in `price_changes`"
    yield Violation(
        ctx.client_doc,
        (*_TERMINATION, "requested_on"),
        f"a termination for a price increase must be received within {months} month(s) of "
        f"the increase's notice (notices: {known}); received on {termination.requested_on}, "
        "it needs Article 7's notice: set `ground: notice`",
    )


def _event_missing(ctx: ClientContext, termination: Termination, what: str) -> Violation:
    """The finding for a termination whose ground needs the date of its event."""
    return Violation(
        ctx.client_doc,
        (*_TERMINATION, "ground"),
        f"a `{termination.ground}` termination needs `event_on`: {what}",
    )


@rule(id="CTR015", severity=ERROR, article="9", terms=("service_change_termination_days",))
def termination_service_change(ctx: ClientContext) -> Iterator[Violation]:
    """A termination for a change of the service comes within the days after the change.

    What it checks:
        A `contract.termination` with `ground: service_change` records in `event_on` the day
        the change of the service or of the CGV took effect, and was received
        (`requested_on`) after it and at most `service_change_termination_days` days later.

        Accepted: any `effective_on`, without Article 7's notice or first months.

    Why:
        Article 9: "le Client peut, en dérogation à l'article 7 des conditions générales,
        résilier le contrat dans un délai de trente jours à compter de l'entrée en vigueur
        de ces modifications".

    Failing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            ground: service_change
            event_on: 2026-10-01
            requested_on: 2026-11-15
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-11-30
            request: REQ-2025-001

    Passing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            ground: service_change
            event_on: 2026-10-01
            requested_on: 2026-10-20
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-11-30
            request: REQ-2025-001

    Fix:
        Record the day the change took effect; a request received later than the window
        terminates on the Article 7 notice (`ground: notice`).
    """
    termination = _on_ground(ctx, TerminationGround.SERVICE_CHANGE)
    if termination is None:
        return
    if termination.event_on is None:
        yield _event_missing(ctx, termination, "the day the change of the service took effect")
        return
    from dagsync.contract.lifecycle import service_change_window

    last = service_change_window(_terms(ctx), termination.event_on)
    if not termination.event_on < termination.requested_on <= last:
        days = ctx.policy.service_change_termination_days.value
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, "requested_on"),
            f"a termination for a change of the service that took effect on "
            f"{termination.event_on} must be received after it and by {last} ({days} days); "
            f"received on {termination.requested_on}, it needs Article 7's notice",
        )


@rule(id="CTR016", severity=ERROR, article="5", terms=("force_majeure_days",))
def termination_force_majeure(ctx: ClientContext) -> Iterator[Violation]:
    """A termination for force majeure comes once it has lasted the CGV's days.

    What it checks:
        A `contract.termination` with `ground: force_majeure` records in `event_on` the day
        the force majeure was notified, and was requested more than `force_majeure_days`
        days after it (`requested_on` on or after the day `dagsync.contract.lifecycle` computes).

        Accepted: a request from either party, any `effective_on`, without Article 7's
        notice or first months.

    Why:
        Article 5: "Dans l'hypothèse où les effets d'un Cas de Force Majeure devaient avoir
        une durée supérieure à 30 jours, à compter de sa notification [...] le contrat pourra
        être résilié de plein droit à la demande de l'une ou l'autre partie".

    Failing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            ground: force_majeure
            event_on: 2026-06-01
            requested_on: 2026-06-20
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-07-31
            request: REQ-2025-001

    Passing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            ground: force_majeure
            event_on: 2026-06-01
            requested_on: 2026-07-10
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-07-31
            request: REQ-2025-001

    Fix:
        Record the notification day; before the days are over, the contract goes on
        (suspended obligations) or ends on the Article 7 notice.
    """
    termination = _on_ground(ctx, TerminationGround.FORCE_MAJEURE)
    if termination is None:
        return
    if termination.event_on is None:
        yield _event_missing(ctx, termination, "the day the force majeure was notified")
        return
    from dagsync.contract.lifecycle import force_majeure_termination_from

    first = force_majeure_termination_from(_terms(ctx), termination.event_on)
    if termination.requested_on < first:
        days = ctx.policy.force_majeure_days.value
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, "requested_on"),
            f"force majeure notified on {termination.event_on} allows a termination only once "
            f"it has lasted over {days} days, from {first}; requested on "
            f"{termination.requested_on}",
        )


@rule(id="CTR017", severity=ERROR, article="7", terms=("cure_jours_ouvrables",))
def termination_breach(ctx: ClientContext) -> Iterator[Violation]:
    """A termination for breach takes effect once the time to remedy is over.

    What it checks:
        A `contract.termination` with `ground: breach` records in `event_on` the first
        presentation of the registered letter notifying the breach, and its `effective_on`
        is after the `cure_jours_ouvrables`-th jour ouvrable that follows (moved to the next
        working day when it falls on a Sunday or public holiday, art. 642 CPC).

        Accepted: a termination initiated by either party, without Article 7's notice or
        first months.

    Why:
        Article 7: a breach "non réparé dans un délai de 7 jours ouvrables à compter de la
        première présentation de la lettre recommandée [...] le contrat sera résilié de plein
        droit". Before the delay is over the other party may still remedy it.

    Failing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            ground: breach
            event_on: 2026-09-01
            requested_on: 2026-09-01
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-09-05
            request: REQ-2025-001

    Passing example (clients/alpine-books/client.yaml):
        contract:
          termination:
            ground: breach
            event_on: 2026-09-01
            requested_on: 2026-09-01
            channel: email
            to: comptabilite@dagtechnologies.fr
            effective_on: 2026-10-01
            request: REQ-2025-001

    Fix:
        Record the first presentation of the registered letter, and an `effective_on` after
        the day the finding gives.
    """
    termination = _on_ground(ctx, TerminationGround.BREACH)
    if termination is None:
        return
    if termination.event_on is None:
        yield _event_missing(
            ctx, termination, "the first presentation of the registered letter notifying the breach"
        )
        return
    from dagsync.contract.calendar import cure_deadline, extend_deadline

    days = ctx.policy.cure_jours_ouvrables.value
    last = extend_deadline(cure_deadline(termination.event_on, days))
    if termination.effective_on <= last:
        yield Violation(
            ctx.client_doc,
            (*_TERMINATION, "effective_on"),
            f"a breach notified on {termination.event_on} may still be remedied until {last} "
            f"({days} jours ouvrables): the termination takes effect after that day, not on "
            f"{termination.effective_on}",
        )
