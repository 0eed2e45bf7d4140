"""Contract rules on prices (CGV Art. 8): notice of an increase, the guaranteed price, and a
termination answering an increase, CTR009, CTR010, CTR014."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.client import TerminationGround
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.contract_common import (
    CONTRACT,
    TERMINATION,
    add_months,
    contract_terms,
    on_ground,
    price_increase_exemption,
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
                (*CONTRACT, "price_changes", index, "notified_on"),
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
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
    from dagsync.contract.lifecycle import anniversaries, next_renewal

    terms = contract_terms(ctx)
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
            (*CONTRACT, "price_changes", index, "effective_on"),
            f"the price is guaranteed for the contract's period: an increase applies at a renewal, "
            f"not on {change.effective_on}; {then}",
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
    termination = on_ground(ctx, TerminationGround.PRICE_INCREASE)
    if termination is None or price_increase_exemption(ctx) is not None:
        return
    months = ctx.policy.price_increase_notice_months.value
    notices = [c.notified_on for c in ctx.client.contract.price_changes if c.increase]
    known = ", ".join(str(d) for d in notices) or "none is recorded in `price_changes`"
    yield Violation(
        ctx.client_doc,
        (*TERMINATION, "requested_on"),
        f"a termination for a price increase must be received within {months} month(s) of "
        f"the increase's notice (notices: {known}); received on {termination.requested_on}, "
        "it needs Article 7's notice: set `ground: notice`",
    )
