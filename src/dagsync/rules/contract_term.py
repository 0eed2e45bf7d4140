"""Contract rules on the start, the term and the renewal (CGV Art. 4 and 7): CTR001 to CTR003,
and CTR012."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.contract_common import CONTRACT


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
            (*CONTRACT, "initial_term_months"),
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
            (*CONTRACT, "tacit_renewal"),
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
            (*CONTRACT, "renewal_term_months"),
            f"the contract renews for {contract.renewal_term_months} months but its initial term "
            f"is {contract.initial_term_months}: renewals last the same duration, set "
            f"`renewal_term_months: {contract.initial_term_months}`",
        )


_START_CLAUSE = (
    "DAG Technologies procède à l'infogérance du ou des serveurs du Client suite à "
    "l'acceptation de la proposition commerciale, du contrat signé par le Client et du "
    "paiement correspondant de celui-ci."
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
            (*CONTRACT, "start_date"),
            f"the service starts on {contract.start_date}, before the contract was signed on "
            f"{contract.signed_on}: the infogérance begins once the contract is signed",
        )
