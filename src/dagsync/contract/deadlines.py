"""Upcoming contract deadlines of every client, from the model and its CGV policy (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dagsync.contract import billing
from dagsync.contract import lifecycle as contracts
from dagsync.model.client import Client, Contract, TerminationGround
from dagsync.model.policy import CgvPolicy

_GROUND_ARTICLE = {
    TerminationGround.PRICE_INCREASE: "8",
    TerminationGround.SERVICE_CHANGE: "9",
    TerminationGround.FORCE_MAJEURE: "5",
    TerminationGround.BREACH: "7",
}


@dataclass(frozen=True, order=True)
class Deadline:
    """One dated event of a contract; `date` first so that lists sort soonest first."""

    date: dt.date
    client: str
    kind: str
    detail: str
    article: str
    amount_eur: Decimal | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "client": self.client,
            "kind": self.kind,
            "detail": self.detail,
            "article": self.article,
            "amount_eur": None if self.amount_eur is None else str(self.amount_eur),
        }


def terms_of(client: Client, policy: CgvPolicy) -> contracts.ContractTerms:
    """The contract of `client` with every delay taken from its CGV version."""
    c = client.contract
    return contracts.ContractTerms(
        start_date=c.start_date,
        initial_term_months=c.initial_term_months,
        renewal_term_months=c.renewal_term_months,
        tacit_renewal=c.tacit_renewal,
        monthly_price=c.monthly_price_eur,
        notice_jours_francs=policy.termination_notice_jours_francs.value,
        unpaid_grace_days=policy.unpaid_suspension_days.value,
        cure_jours_ouvrables=policy.cure_jours_ouvrables.value,
        price_notice_months=policy.price_increase_notice_months.value,
        change_termination_days=policy.service_change_termination_days.value,
        termination_earliest_months=policy.termination_earliest_month.value,
        force_majeure_days=policy.force_majeure_days.value,
    )


def quota_terms(policy: CgvPolicy) -> billing.MailQuotaTerms:
    return billing.MailQuotaTerms(
        included_gb=policy.mail_quota_included_gb.value,
        hard_limit_gb=policy.mail_hard_limit_gb.value,
        slice_gb=policy.mail_overage_slice_gb.value,
        slice_price=policy.mail_overage_slice_price_eur.value,
        grace_days=policy.mail_overage_grace_days.value,
    )


def price_at(contract: Contract, day: dt.date) -> Decimal:
    """The monthly price (EUR HT) in effect on ``day``: the newest price change effective on
    or before it, else the contract's price."""
    changes = [c for c in contract.price_changes if c.effective_on <= day]
    newest = max(changes, key=lambda c: c.effective_on, default=None)
    return Decimal(str(newest.new_monthly_price_eur if newest else contract.monthly_price_eur))


def next_invoice(contract: Contract, on: dt.date) -> dt.date | None:
    """The first invoice date on or after ``on``: invoices fall every ``payment.period_months``
    from the start date (computed from the start, never chained), payable in advance (Art. 8);
    None once the contract ends (an effective termination, or no tacit renewal after the
    initial term)."""
    period = contract.payment.period_months
    k = 0
    while (day := contracts.add_months(contract.start_date, k * period)) < on:
        k += 1
    end = contract.termination.effective_on if contract.termination else None
    if not contract.tacit_renewal:
        initial_end = contracts.add_months(contract.start_date, contract.initial_term_months)
        end = min(end, initial_end) if end else initial_end
    return None if end is not None and day >= end else day


def client_deadlines(
    client: Client,
    policy: CgvPolicy,
    on: dt.date,
    readings: Sequence[billing.Reading] = (),
) -> Iterator[Deadline]:
    terms = terms_of(client, policy)
    c = client.contract
    yield from _termination(client, terms, policy, on)
    renewal = contracts.next_renewal(terms, on) if c.termination is None else None
    if c.termination is None:
        yield from _renewal(client, terms, policy, on)
    invoice = next_invoice(c, on)
    if invoice is not None and invoice != renewal:
        yield _invoice(client, invoice, "invoice")
    if c.renewal_unpaid is not None:
        unpaid = contracts.unpaid_renewal(terms, c.renewal_unpaid)
        yield Deadline(
            unpaid.service_stop,
            client.id,
            "service stop (unpaid renewal)",
            f"renewal of {c.renewal_unpaid} unpaid",
            "8",
        )
        yield Deadline(
            unpaid.definitive_suspension,
            client.id,
            "definitive suspension",
            f"{policy.unpaid_suspension_days.value} days after the unpaid anniversary",
            "8",
        )
    for change in c.price_changes:
        before = price_at(c, change.effective_on - dt.timedelta(days=1))
        yield Deadline(
            change.effective_on,
            client.id,
            "price change effective",
            f"monthly price {before:.2f} -> {price_at(c, change.effective_on):.2f} EUR HT "
            f"(notified {change.notified_on})",
            "8",
            price_at(c, change.effective_on).quantize(Decimal("0.01")),
        )
        if change.increase:
            window = contracts.price_increase_window(terms, change.notified_on)
            yield Deadline(
                window.termination_deadline,
                client.id,
                "price-increase termination window ends",
                f"new price {change.new_monthly_price_eur} EUR/month notified {change.notified_on}",
                "8",
            )
    if readings:
        yield from _overage(client, policy, readings)


def _renewal(
    client: Client, terms: contracts.ContractTerms, policy: CgvPolicy, on: dt.date
) -> Iterator[Deadline]:
    chance = contracts.next_termination_opportunity(terms, on)
    renewal = contracts.next_renewal(terms, on)
    if renewal is not None:
        yield _invoice(
            client, renewal, "renewal", f"tacit renewal for {terms.renewal_term_months} months; "
        )
    if chance is not None:
        yield Deadline(
            chance.last_notice,
            client.id,
            "last day to receive a termination",
            f"for the anniversary of {chance.anniversary} "
            f"({policy.termination_notice_jours_francs.value} jours francs)",
            "7",
        )


def _invoice(client: Client, day: dt.date, kind: str, prefix: str = "") -> Deadline:
    """A dated invoice (or the renewal it comes with): the months paid in advance at the price
    in effect that day."""
    c = client.contract
    months = c.payment.period_months
    price = price_at(c, day)
    return Deadline(
        day,
        client.id,
        kind,
        f"{prefix}invoice of {months} month(s) in advance at {price:.2f} EUR HT/month",
        "7" if kind == "renewal" else "8",
        (price * months).quantize(Decimal("0.01")),
    )


def _termination(
    client: Client, terms: contracts.ContractTerms, policy: CgvPolicy, on: dt.date
) -> Iterator[Deadline]:
    t = client.contract.termination
    if t is None:
        return
    if t.ground != TerminationGround.NOTICE:
        # A right that overrides Article 7's notice (CTR014-CTR017 check its window): the
        # contract ends on the day asked for, without the notice period's months or penalty.
        article = _GROUND_ARTICLE[t.ground]
        yield Deadline(
            t.effective_on,
            client.id,
            "termination effective",
            f"requested {t.requested_on} for {t.effective_on} on the ground of "
            f"{t.ground.value.replace('_', ' ')} (Art. {article}), without penalty",
            article,
        )
        return
    result = contracts.early_termination(terms, t.requested_on, t.effective_on)
    yield Deadline(
        result.effective_date,
        client.id,
        "termination effective",
        f"requested {t.requested_on} for {t.effective_on} ({result.binding}); "
        f"{result.months_due} month(s) due",
        "7",
        Decimal(result.amount_due).quantize(Decimal("0.01")),
    )


def _overage(
    client: Client, policy: CgvPolicy, readings: Sequence[billing.Reading]
) -> Iterator[Deadline]:
    report = billing.mail_overage(readings, quota_terms(policy))
    for episode in report.episodes:
        yield Deadline(
            episode.warned_on,
            client.id,
            "mail quota warning",
            f"{episode.warned_used_gb} GB used, over {policy.mail_quota_included_gb.value} GB",
            "6.1",
        )
    for month in report.billable_months:
        first = dt.date.fromisoformat(month.month + "-01")
        yield Deadline(
            first,
            client.id,
            "mail overage billed",
            f"{month.slices} slice(s) of {policy.mail_overage_slice_gb.value} GB in {month.month}",
            "6.1",
            month.amount,
        )


def upcoming(
    clients: Iterable[tuple[Client, CgvPolicy]],
    on: dt.date,
    within: int | None,
    usage: Mapping[str, Sequence[billing.Reading]] | None = None,
) -> list[Deadline]:
    """Every client's deadlines from `on` (inclusive) to `on + within` days, soonest first."""
    horizon = on + dt.timedelta(days=within) if within is not None else None
    out = []
    for client, policy in clients:
        for d in client_deadlines(client, policy, on, (usage or {}).get(client.id, ())):
            recent = d.kind.startswith("mail") and d.date >= on - dt.timedelta(days=31)
            if (d.date >= on or recent) and (horizon is None or d.date <= horizon):
                out.append(d)
    return sorted(out, key=lambda d: (d.date, d.client, d.kind))
