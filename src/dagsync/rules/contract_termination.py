"""Contract rules on a termination by notice (CGV Art. 7): its channel, its notice and its earliest
date, CTR006 to CTR008."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.client import Channel, Termination, TerminationGround
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.contract_common import TERMINATION, add_months, price_increase_exemption


def _on_notice(ctx: ClientContext) -> Termination | None:
    """The recorded termination if it ends the contract by Article 7's notice (its default
    `ground`); terminations on another ground have their own rules (CTR014 to CTR017)."""
    termination = ctx.client.contract.termination
    if termination is None or termination.ground is not TerminationGround.NOTICE:
        return None
    return termination


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
            (*TERMINATION, "channel"),
            f"a termination by `{termination.channel}` is not valid: the client must send it "
            "by " + " or ".join(f"`{c}`" for c in accepted),
        )
    elif termination.channel is Channel.EMAIL and termination.to != address:
        where = "to" if termination.to is not None else "channel"
        yield Violation(
            ctx.client_doc,
            (*TERMINATION, where),
            f"a termination by email must be sent to {address}: "
            + (f"{termination.to} does not count" if termination.to else f"add `to: {address}`"),
        )
    elif request is not None and request.channel != termination.channel:
        yield Violation(
            ctx.client_doc,
            (*TERMINATION, "channel"),
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
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
    from dagsync.contract.calendar import (
        latest_notice_date,  # loads `holidays` (slow): only when needed
    )

    days = ctx.policy.termination_notice_jours_francs.value
    latest = latest_notice_date(termination.effective_on, days)
    if termination.requested_on > latest:
        yield Violation(
            ctx.client_doc,
            (*TERMINATION, "requested_on"),
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
            (*TERMINATION, "effective_on"),
            f"the contract can end only once its {months}th month is over, on {earliest} at the "
            f"earliest (it started on {ctx.client.contract.start_date})",
        )
