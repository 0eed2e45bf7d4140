"""client.yaml: identity, contacts, contract, mail, dev space and network-wide settings."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network

from pydantic import Field

from dagsync.model.base import (
    HHMM,
    Amount,
    Day,
    Derogable,
    Email,
    MailAddress,
    MailDomain,
    Moment,
    OneLine,
    RequestId,
    Slug,
    Strict,
)


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    DIRECT_DEBIT = "direct_debit"
    CARD = "card"
    CHEQUE = "cheque"
    CASH = "cash"


class Channel(StrEnum):
    EMAIL = "email"
    REGISTERED_LETTER = "registered_letter"
    TICKET = "ticket"
    PHONE = "phone"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class ContactRole(StrEnum):
    ADMIN = "admin"
    BILLING = "billing"
    TECHNICAL = "technical"


class Contact(Strict):
    name: str = Field(min_length=1)
    email: Email
    phone: str | None = None
    roles: list[ContactRole] = Field(min_length=1)


class Payment(Strict):
    method: PaymentMethod = Field(description="CGV Art. 8: bank transfer or direct debit only.")
    period_months: int = Field(ge=1, le=36, description="Months paid in advance per invoice.")
    in_advance: bool = True


class PriceChange(Strict):
    notified_on: Day
    effective_on: Day
    new_monthly_price_eur: Amount = Field(gt=0)
    increase: bool = Field(default=True, description="True when the new price is less favourable.")


class TerminationGround(StrEnum):
    """Why the contract ends: Article 7's notice, or a right to terminate that overrides it."""

    NOTICE = "notice"  # Art. 7: notice in jours francs, after the first months
    PRICE_INCREASE = "price_increase"  # Art. 8: within a month of a price-increase notice
    SERVICE_CHANGE = "service_change"  # Art. 9: within 30 days of a change of the service
    FORCE_MAJEURE = "force_majeure"  # Art. 5: force majeure lasting over 30 days
    BREACH = "breach"  # Art. 7: a breach not remedied within 7 jours ouvrables


class Termination(Strict):
    requested_on: Day = Field(description="Day the request was received by DAG.")
    channel: Channel
    to: Email | None = Field(default=None, description="Address the email was sent to.")
    effective_on: Day = Field(description="The termination date the client asked for.")
    request: RequestId
    ground: TerminationGround = Field(
        default=TerminationGround.NOTICE,
        description="notice (Art. 7), price_increase (Art. 8), service_change (Art. 9), "
        "force_majeure (Art. 5) or breach (Art. 7).",
    )
    event_on: Day | None = Field(
        default=None,
        description="For service_change: the day the change took effect; force_majeure: the "
        "day it was notified; breach: the first presentation of the registered letter.",
    )


# Root access is exceptional (CGV Art. 6): one announced window lasts a year at most, within
# dates that a calendar computation can span (ACC001; the monitoring renderer refuses too).
ROOT_WINDOW_MAX_DAYS = 366
ROOT_WINDOW_YEARS = (2000, 2100)


class RootAccessWindow(Strict):
    """CGV Art. 6: root access given to the client, with its days and hours."""

    server: Slug
    granted_to: str = Field(min_length=1)
    start: Day
    end: Day
    days: list[Weekday] = Field(min_length=1)
    hours: list[HHMM] = Field(
        min_length=2, max_length=2, description="[from, to], e.g. [09:00, 18:00]."
    )
    guarantees_suspended: bool = Field(
        description="CGV Art. 6: intervention guarantees are suspended while root is given."
    )
    request: RequestId


class Maintenance(Strict):
    """CGV Art. 5: an intervention DAG plans on the client's servers. The client is warned of
    its nature and probable duration (the notice dagsync renders); the monitoring is silenced
    for its duration."""

    start: Moment = Field(
        description="When it starts: Europe/Paris time unless an offset is given "
        "(2026-12-08T22:00, 2026-12-08T21:00+00:00)."
    )
    duration_minutes: int = Field(ge=1, le=2880, description="Its probable duration.")
    nature: OneLine = Field(description="What DAG does, as the client is told.")
    request: RequestId = Field(description="The request recording the intervention.")
    servers: list[Slug] = Field(
        default_factory=list, description="The servers concerned; empty: every server."
    )


class Contract(Strict):
    cgv_version: str = Field(description="The CGV version the contract was signed under.")
    signed_on: Day
    start_date: Day
    initial_term_months: int = Field(ge=1, le=120)
    tacit_renewal: bool
    renewal_term_months: int = Field(ge=1, le=120)
    payment: Payment
    monthly_price_eur: Amount = Field(gt=0)
    price_changes: list[PriceChange] = Field(default_factory=list)
    termination: Termination | None = None
    renewal_unpaid: Day | None = Field(
        default=None,
        description="CGV Art. 8: the anniversary whose renewal is still unpaid, if any.",
    )
    root_access: list[RootAccessWindow] = Field(default_factory=list)


class MailHosting(StrEnum):
    SHARED = "shared"
    DEDICATED = "dedicated"


class ExternalForward(Strict):
    source: MailAddress = Field(
        description="The DAG-hosted mailbox: an address of one of this client's mail domains."
    )
    target: MailAddress = Field(description="The external address mail is copied to.")
    request: RequestId | None = None


class Mail(Derogable):
    hosting: MailHosting
    domains: list[MailDomain] = Field(
        default_factory=list, description="The client's mail domains (each belongs to one client)."
    )
    quota_gb: Amount = Field(default=Decimal(25), gt=0)
    cc_limit: int = Field(default=9, ge=1)
    mass_mailing: bool = False
    smtp_from_sites: bool = Field(
        default=False, description="Sites or scripts send through the shared SMTP (forbidden)."
    )
    external_forwards: list[ExternalForward] = Field(default_factory=list)


class DevSpace(Derogable):
    enabled: bool = True
    location: str = Field(description="Where the dev space lives: a server name or 'external'.")
    size_gb: int = Field(ge=1)
    production_size_gb: int = Field(ge=1, description="Size of the production site to version.")
    archive_gb: int = Field(ge=0, description="Room to archive it.")
    backed_up: bool = False


class BlockedAddress(Strict):
    address: IPv4Network | IPv6Network
    reason: str = Field(min_length=3)
    added_on: Day
    request: RequestId | None = None


class Network(Derogable):
    blocklist: list[BlockedAddress] = Field(default_factory=list)
    blocklist_propagation: bool = Field(
        default=True,
        description="CGV Art. 4: a block on one server is propagated to all the client's servers.",
    )
    share_blocklist_network_wide: bool = Field(
        default=True, description="Also push this client's blocklist to every DAG server."
    )


class Client(Strict):
    id: Slug
    name: str = Field(min_length=1)
    contacts: list[Contact] = Field(min_length=1)
    contract: Contract
    mail: Mail
    dev_space: DevSpace | None = None
    network: Network = Field(default_factory=Network)
    maintenance: list[Maintenance] = Field(
        default_factory=list, description="DAG's planned interventions (CGV Art. 5)."
    )
    notes: str | None = None
