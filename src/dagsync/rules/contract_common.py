"""What the contract rules share: the contract's dates and delays, the months arithmetic, and
which recorded termination a rule looks at (by notice, on a ground, or answering a price increase).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from dagsync.model.client import Termination, TerminationGround
from dagsync.rules.base import ClientContext

if TYPE_CHECKING:
    from dagsync.contract.lifecycle import ContractTerms


CONTRACT = ("contract",)
TERMINATION = ("contract", "termination")


def add_months(day: dt.date, months: int) -> dt.date:
    """`dagsync.contract.lifecycle.add_months`, imported on first use: it loads `holidays` (slow), which
    only contracts with a termination or a price change need."""
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
    from dagsync.contract.lifecycle import add_months as add

    return add(day, months)


def contract_terms(ctx: ClientContext) -> ContractTerms:
    """The contract's dates and delays from its CGV version (imports `holidays`: on use only)."""
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
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


def on_ground(ctx: ClientContext, ground: TerminationGround) -> Termination | None:
    termination = ctx.client.contract.termination
    if termination is None or termination.ground is not ground:
        return None
    return termination
