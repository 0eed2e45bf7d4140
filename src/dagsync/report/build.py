"""One client's monthly report from dagsync's sources.

The sources that need a host (Prometheus on a monitoring host, the borg archives on the
backup storage) are functions passed in `Readers`, so that a test can give recorded data and
the command gives the SSH readers of `live_readers`. A source that cannot be read makes its
section *not monitored*, with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from dagsync.contract.billing import Reading
from dagsync.contract.deadlines import quota_terms
from dagsync.errors import DagsyncError
from dagsync.gitops.trail import UnknownClientError, audit
from dagsync.model.client import Client, MailHosting
from dagsync.model.policy import CgvPolicy
from dagsync.model.server import Server
from dagsync.report import sections
from dagsync.report.model import (
    Availability,
    Backups,
    Changes,
    MailUsage,
    Month,
    NotMonitored,
    Report,
    ServerAvailability,
    ServerBackups,
    Why,
)
from dagsync.validate.load import load_clients
from dagsync.validate.repository import load_repository

MAIL_HISTORY = ".dagsync-cache/mail-usage.json"  # as `dagsync mail usage` keeps it

# A server's archive times, or why they could not be listed.
ArchiveTimes = Mapping[str, tuple[dt.datetime, ...] | str]
AvailabilityReader = Callable[[str, Month], tuple[ServerAvailability, ...] | NotMonitored]
ArchiveReader = Callable[[str], ArchiveTimes | NotMonitored]


@dataclass(frozen=True)
class Readers:
    availability: AvailabilityReader
    archives: ArchiveReader


def not_monitored_readers(reason: str, why: Why = Why.NOT_READ) -> Readers:
    """Readers for a run without hosts: both sections not monitored, for ``reason``."""
    return Readers(lambda _c, _m: NotMonitored(reason, why), lambda _c: NotMonitored(reason, why))


def read_mail_history(path: Path) -> dict[str, list[Reading]] | NotMonitored:
    """The readings `dagsync mail usage` recorded, per client."""
    if not path.exists():
        return NotMonitored(
            f"no mail usage history ({path.name}): run `dagsync mail usage`", Why.NO_SOURCE
        )
    try:
        raw = json.loads(path.read_text())
        return {
            client: [
                Reading(dt.date.fromisoformat(r["on"]), Decimal(str(r["used_gb"]))) for r in rs
            ]
            for client, rs in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as exc:
        return NotMonitored(f"the mail usage history cannot be read ({exc})")


def find_client(root: Path, client_id: str) -> tuple[Client, CgvPolicy]:
    for client, policy in load_clients(root):
        if client.id == client_id:
            return client, policy
    raise UnknownClientError(f"unknown client `{client_id}` (no clients/{client_id}/client.yaml)")


def _mail(
    client: Client,
    policy: CgvPolicy,
    month: Month,
    history: Mapping[str, list[Reading]] | NotMonitored,
) -> MailUsage | NotMonitored:
    if client.mail.hosting is not MailHosting.SHARED:
        return NotMonitored("no shared mail hosting in the contract", Why.NOT_SUBSCRIBED)
    if isinstance(history, NotMonitored):
        return history
    found = sections.mail_usage(history.get(client.id, []), quota_terms(policy), month)
    return found or NotMonitored(f"no mail usage reading in {month}", Why.NO_SOURCE)


def _backups(
    servers: tuple[Server, ...], month: Month, archives: ArchiveTimes | NotMonitored, today: dt.date
) -> Backups | NotMonitored:
    if not servers:
        return NotMonitored("no server", Why.NOT_SUBSCRIBED)
    if isinstance(archives, NotMonitored):
        return archives
    errors = [
        times for s in servers if isinstance(times := archives.get(s.name, "not listed"), str)
    ]
    if len(errors) == len(servers):  # no server's archives could be listed
        return NotMonitored("; ".join(dict.fromkeys(errors)), Why.UNREACHABLE)
    rows = []
    for name, backup in ((s.name, s.backup) for s in servers):
        times = archives.get(name, "not listed")
        frequency, schedule = backup.frequency.value, str(backup.schedule)
        marks = (
            sections.backup_marks(
                times,
                month,
                frequency=frequency,
                schedule=schedule,
                retention_days=backup.retention_days,
                today=today,
            )
            if not isinstance(times, str)
            else ()
        )
        error = times if isinstance(times, str) else None
        rows.append(ServerBackups(name, frequency, schedule, backup.retention_days, marks, error))
    return Backups(tuple(rows))


def _availability(
    uptime: tuple[ServerAvailability, ...] | NotMonitored,
) -> Availability | NotMonitored:
    if isinstance(uptime, NotMonitored):
        return uptime
    return (
        Availability(uptime)
        if uptime
        else NotMonitored("no uptime probe of this client", Why.NO_SOURCE)
    )


def _changes(root: Path, client: Client, month: Month) -> Changes | NotMonitored:
    try:
        trail = audit(root, client.id, since=month.first - dt.timedelta(days=366))
    except DagsyncError as exc:
        return NotMonitored(f"the audit trail cannot be read ({exc})")
    return sections.changes(trail, month)


def build_report(
    root: Path,
    client_id: str,
    month: Month,
    readers: Readers,
    *,
    today: dt.date,
    mail_history: Path | None = None,
) -> Report:
    client, policy = find_client(root, client_id)
    servers = load_repository(root).client(client_id).servers
    history = read_mail_history(mail_history or root / MAIL_HISTORY)
    uptime = readers.availability(client.id, month)
    return Report(
        client=client.id,
        client_name=client.name,
        month=month,
        generated_on=today,
        availability=_availability(uptime),
        backups=_backups(servers, month, readers.archives(client.id), today),
        mail=_mail(client, policy, month, history),
        changes=_changes(root, client, month),
        contract=sections.contract_dates(client, policy, month),
        advice=sections.advice(month),
    )
