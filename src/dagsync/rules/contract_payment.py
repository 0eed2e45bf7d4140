"""Contract rules on payment and billing (CGV Art. 8 and 10): CTR004, CTR005, CTR011, CTR013."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.client import ContactRole
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.contract_common import CONTRACT, contract_terms


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
            (*CONTRACT, "payment", "method"),
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
    path = (*CONTRACT, "payment")
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
    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dateutil (+2) out of this module's load
    from dagsync.contract.lifecycle import anniversaries

    terms = contract_terms(ctx)
    path = (*CONTRACT, "renewal_unpaid")
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


_NOTICE_CLAUSE = (
    "Toutes les notifications, communications, mises en demeure prévues par les conditions "
    "générales seront réputées avoir été valablement délivrées au Client si elles sont "
    "adressées aux adresses stipulées sur la facture."
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
