"""Contract rules on a termination on another ground than notice (CGV Art. 5, 7 and 9): a service
change, force majeure, a breach not cured, CTR015 to CTR017."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.client import Termination, TerminationGround
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.contract_common import TERMINATION, contract_terms, on_ground


def _event_missing(ctx: ClientContext, termination: Termination, what: str) -> Violation:
    """The finding for a termination whose ground needs the date of its event."""
    return Violation(
        ctx.client_doc,
        (*TERMINATION, "ground"),
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
    termination = on_ground(ctx, TerminationGround.SERVICE_CHANGE)
    if termination is None:
        return
    if termination.event_on is None:
        yield _event_missing(ctx, termination, "the day the change of the service took effect")
        return
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
    from dagsync.contract.lifecycle import service_change_window

    last = service_change_window(contract_terms(ctx), termination.event_on)
    if not termination.event_on < termination.requested_on <= last:
        days = ctx.policy.service_change_termination_days.value
        yield Violation(
            ctx.client_doc,
            (*TERMINATION, "requested_on"),
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
    termination = on_ground(ctx, TerminationGround.FORCE_MAJEURE)
    if termination is None:
        return
    if termination.event_on is None:
        yield _event_missing(ctx, termination, "the day the force majeure was notified")
        return
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
    from dagsync.contract.lifecycle import force_majeure_termination_from

    first = force_majeure_termination_from(contract_terms(ctx), termination.event_on)
    if termination.requested_on < first:
        days = ctx.policy.force_majeure_days.value
        yield Violation(
            ctx.client_doc,
            (*TERMINATION, "requested_on"),
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
    termination = on_ground(ctx, TerminationGround.BREACH)
    if termination is None:
        return
    if termination.event_on is None:
        yield _event_missing(
            ctx, termination, "the first presentation of the registered letter notifying the breach"
        )
        return
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
    from dagsync.contract.calendar import cure_deadline, extend_deadline

    days = ctx.policy.cure_jours_ouvrables.value
    last = extend_deadline(cure_deadline(termination.event_on, days))
    if termination.effective_on <= last:
        yield Violation(
            ctx.client_doc,
            (*TERMINATION, "effective_on"),
            f"a breach notified on {termination.event_on} may still be remedied until {last} "
            f"({days} jours ouvrables): the termination takes effect after that day, not on "
            f"{termination.effective_on}",
        )
