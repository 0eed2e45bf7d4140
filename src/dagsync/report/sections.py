"""The report's sections from their sources' data (pure: no I/O).

Each builder takes what its source gave (readings, archive times, audit entries, the
contract) and returns the section; the numbers are computed by the module that owns them
(`contract.billing`, `contract.lifecycle`, `contract.calendar`), never again here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from dagsync.contract import billing, calendar
from dagsync.contract import lifecycle as contracts
from dagsync.contract.deadlines import price_at, terms_of
from dagsync.gitops.trail import Audit, AuditCommit
from dagsync.model.client import Client
from dagsync.model.policy import CgvPolicy
from dagsync.report.model import (
    Advice,
    Change,
    Changes,
    ContractDates,
    FreezeDay,
    MailUsage,
    Mark,
    Month,
    PriceNotice,
)

# A daily backup is on time when its archive is made within this delay of its start time
# (`backup verify` calls an archive fresh up to 26 hours; a day's mark is stricter).
LATE_AFTER = dt.timedelta(hours=3)
CENTS = Decimal("0.01")


def mail_usage(
    readings: Sequence[billing.Reading], terms: billing.MailQuotaTerms, month: Month
) -> MailUsage | None:
    """The month's readings and what `contract.billing` bills for it (the whole history up to
    the month's end decides the grace period); None without a reading in the month."""
    upto = [r for r in readings if r.on <= month.last]
    inside = tuple((r.on, r.used_gb) for r in sorted(upto) if r.on >= month.first)
    if not inside:
        return None
    overage = billing.mail_overage(upto, terms)
    bill = next((m for m in overage.billable_months if m.month == str(month)), None)
    return MailUsage(
        readings=inside,
        included_gb=terms.included_gb,
        hard_limit_gb=terms.hard_limit_gb,
        warned_on=tuple(d for d in overage.warnings if month.first <= d <= month.last),
        billed_excess_gb=bill.max_excess_gb if bill else None,
        billed_slices=bill.slices if bill else 0,
        billed_amount_eur=bill.amount if bill else Decimal("0.00"),
        hard_limit_reached=any(month.first <= r.on for r in overage.hard_limit_readings),
    )


def contract_dates(client: Client, policy: CgvPolicy, month: Month) -> ContractDates:
    """As of the month's last day: the next anniversary, the last day a termination for it
    can be received (Art. 7), and the price changes notified or taking effect since the
    month began (Art. 8)."""
    terms = terms_of(client, policy)
    on = month.last
    c = client.contract
    notices = []
    for change in sorted(c.price_changes, key=lambda p: p.notified_on):
        if change.notified_on > on or change.effective_on < month.first:
            continue
        window = (
            contracts.price_increase_window(terms, change.notified_on).termination_deadline
            if change.increase
            else None
        )
        notices.append(
            PriceNotice(
                change.notified_on,
                change.effective_on,
                price_at(c, change.effective_on - dt.timedelta(days=1)).quantize(CENTS),
                price_at(c, change.effective_on).quantize(CENTS),
                window,
            )
        )
    return ContractDates(
        monthly_price_eur=price_at(c, on).quantize(CENTS),
        next_anniversary=contracts.next_renewal(terms, on) if c.termination is None else None,
        last_notice_day=contracts.last_termination_notice(terms, on)
        if c.termination is None
        else None,
        price_notices=tuple(notices),
    )


def advice(month: Month) -> Advice:
    """The coming month's eves of weekends and public holidays (Art. 6.1: no production
    release on those days)."""
    coming = month.next
    days = []
    for day in coming.days():
        if calendar.is_deploy_freeze(day):
            following = day + dt.timedelta(days=1)
            names = calendar.public_holidays(following.year)
            days.append(FreezeDay(day, following, names.get(following)))
    return Advice(coming, tuple(days))


def _applied_on(entry: AuditCommit, by_short: Mapping[str, AuditCommit]) -> AuditCommit:
    """The entry holding the apply records of `entry` (itself, or the newer commit that the
    same apply covered)."""
    return by_short.get(entry.applied_with, entry) if entry.applied_with else entry


def changes(trail: Audit, month: Month) -> Changes:
    """Every commit of the client applied during the month (the apply records' end time),
    oldest first, with its requests, reviewer (who merged it) and result."""
    by_short = {c.commit.short: c for c in trail.commits}
    out = []
    for entry in trail.commits:
        holder = _applied_on(entry, by_short)
        done = [r.finished_at for r in holder.applies]
        in_month = [t for t in done if month.first <= t.date() <= month.last]
        if not in_month:
            continue
        results = sorted({s.result for r in holder.applies for s in r.servers})
        out.append(
            Change(
                applied_on=min(in_month).date(),
                commit=entry.commit.short,
                subject=entry.commit.subject,
                requests=tuple((r.id, r.summary) for r in entry.requests),
                internal=entry.cited.internal,
                reviewer=entry.merge.merged_by if entry.merge else None,
                result=", ".join(results) or "unknown",
            )
        )
    return Changes(tuple(sorted(out, key=lambda c: (c.applied_on, c.commit))))


def backup_marks(
    archives: Iterable[dt.datetime],
    month: Month,
    *,
    frequency: str,
    schedule: str,
    retention_days: int,
    today: dt.date,
) -> tuple[tuple[dt.date, Mark], ...]:
    """One mark per day of the month up to ``today`` (archive times in the server's time).

    Daily: on time when the day's first archive is made within ``LATE_AFTER`` of the
    schedule, late when later that day, missing without one. Weekly: on time on a day with
    an archive, missing on a day ending seven days without one, not due otherwise. Days older
    than the retention are unknown: pruning may have removed their archives.
    """
    hour, minute = (int(x) for x in schedule.split(":"))
    by_day: dict[dt.date, list[dt.datetime]] = {}
    for t in archives:
        by_day.setdefault(t.date(), []).append(t)
    oldest_provable = today - dt.timedelta(days=retention_days - 1)
    marks = []
    for day in month.days():
        if day > today:
            break
        made = sorted(by_day.get(day, []))
        if day < oldest_provable:
            mark = Mark.UNKNOWN
        elif frequency == "weekly":
            week = [day - dt.timedelta(days=i) for i in range(7)]
            mark = (
                Mark.ON_TIME
                if made
                else (Mark.NOT_DUE if any(by_day.get(d) for d in week) else Mark.MISSING)
            )
        elif not made:
            mark = Mark.MISSING
        else:
            due = dt.datetime.combine(day, dt.time(hour, minute), made[0].tzinfo)
            mark = Mark.ON_TIME if made[0] - due <= LATE_AFTER else Mark.LATE
        marks.append((day, mark))
    return tuple(marks)
