"""policies/: the CGV terms as versioned data, and DAG's own company settings."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, Field

from dagsync.model.base import (
    HHMM,
    Amount,
    Day,
    Email,
    HostName,
    MailDomain,
    SafePath,
    Slug,
    SshPublicKey,
    Strict,
    UserName,
)
from dagsync.model.client import Channel, PaymentMethod
from dagsync.model.monitoring import Monitoring
from dagsync.model.server import BackupScope, Frequency, Metric, ServerType

T = TypeVar("T")

# passphrase_escrow: a folder (file:/, file:///, /, ~/ then normalised components) or a
# vault://, https:// or s3:// location; `reconcile.escrow` applies it to the environment's too.
_ESCROW_PART = (
    r"/(?:[A-Za-z0-9_+@-][A-Za-z0-9._+@-]*|\.[A-Za-z0-9_+@-][A-Za-z0-9._+@-]*"
    r"|\.\.[A-Za-z0-9._+@-]+)"
)
ESCROW_PATTERN = (
    rf"^(?:(?:file:(?://)?)?(?:{_ESCROW_PART})+|~(?:{_ESCROW_PART})+"
    r"|(?:vault|https|s3)://[A-Za-z0-9._~/@:+-]+)$"
)


class Term(Strict, Generic[T]):
    """One number or promise of the CGV, with the article it comes from and its French text."""

    value: T
    article: str = Field(pattern=r"^[0-9]+(\.[0-9]+)?$", description="CGV article, e.g. 6.1.")
    quote: str = Field(min_length=10, description="The French clause, verbatim.")


class SiteTerm(Term[str]):
    """A term whose value is an OVH site: the 3-letter prefix of datacenter codes."""

    value: str = Field(pattern=r"^[a-z]{3}$", description="An OVH site, e.g. sbg (Strasbourg).")


class CgvPolicy(Strict):
    """Every checkable number of one CGV version; rules read these, never code constants."""

    version: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    title: str
    effective_from: Day
    # Article 7 and 8: contract
    min_initial_term_months: Term[int]
    renewal_same_duration: Term[bool]
    payment_methods: Term[list[PaymentMethod]]
    payment_period_months: Term[int]
    termination_channels: Term[list[Channel]]
    termination_email: Term[Email]
    termination_notice_jours_francs: Term[int]
    termination_earliest_month: Term[int]
    price_increase_notice_months: Term[int]
    price_guaranteed_for_term: Term[bool]
    cure_jours_ouvrables: Term[int]
    unpaid_suspension_days: Term[int]
    service_change_termination_days: Term[int]
    force_majeure_days: Term[int]
    # Article 6: the client's obligations
    root_access_suspends_guarantees: Term[bool]
    # Article 4: supply, security, supervision, backups
    server_type: Term[ServerType]
    default_tls_issuer: Term[str]
    security_features: Term[list[str]]
    blocklist_propagation: Term[bool]
    supervision_metrics: Term[list[Metric]]
    alert_interval_max_minutes: Term[int]
    uptime_interval_max_minutes: Term[int]
    backup_frequency: Term[Frequency]
    backup_window: Term[list[HHMM]]
    backup_retention_days: Term[int]
    backup_scope: Term[list[BackupScope]]
    backup_country: Term[str]
    backup_site: SiteTerm
    # Article 6.1: advice and limits
    separate_production_and_development: Term[bool]
    dev_spaces_per_contract: Term[int]
    dev_space_backed_up: Term[bool]
    mail_quota_included_gb: Term[Amount]
    mail_hard_limit_gb: Term[Amount]
    mail_overage_slice_gb: Term[Amount]
    mail_overage_slice_price_eur: Term[Amount]
    mail_overage_grace_days: Term[int]
    mail_cc_limit: Term[int]
    mail_mass_mailing_allowed: Term[bool]
    mail_smtp_from_sites_allowed: Term[bool]
    mail_external_forward_advised: Term[bool]


class Datacenter(Strict):
    code: str = Field(pattern=r"^[a-z]{3}$", description="Site prefix of OVH datacenter codes.")
    city: str
    country: str = Field(min_length=2, max_length=2, description="ISO 3166 country code.")


class BackupStorage(Strict):
    name: Slug
    host: HostName
    datacenter: str = Field(pattern=r"^[a-z]{3}[0-9]{0,2}$")
    address: IPv4Address | None = Field(
        default=None, description="Where the reconciler reaches it."
    )
    host_key: SshPublicKey | None = None
    repository_root: SafePath = "/srv/borg"


class MailHost(Strict):
    name: Slug
    host: HostName
    address: IPv4Address | None = None
    host_key: SshPublicKey | None = None


class SecurityHost(Strict):
    """A DAG host that runs CrowdSec's local APIs: one per decision scope (docs/security-services.md).

    Every client server's agent sends its alerts to its scope's API here and its firewall
    bouncer pulls the scope's decisions from it (CGV Art. 4, « Blocage Ips sur mesure »).
    """

    name: Slug
    host: HostName
    address: IPv4Address | None = Field(
        default=None, description="Where the reconciler and the client servers reach it."
    )
    host_key: SshPublicKey | None = None
    first_port: int = Field(
        default=8080,
        ge=1024,
        le=65000,
        description="The first scope's local API listens here, the next scopes on the ports after.",
    )


class IpReputation(Strict):
    """CGV Art. 4, « Suivi de la réputation des Ips publiques du client »: every public IP of
    every client server is looked up in these DNS blocklists at this interval."""

    blocklists: list[HostName] = Field(
        min_length=1, description="DNS blocklist zones, e.g. zen.spamhaus.org."
    )
    interval_hours: int = Field(default=24, ge=1, le=168, description="Hours between checks.")
    resolvers: list[IPv4Address] = Field(
        default_factory=list,
        description="The resolvers to ask (none: the machine's own).",
    )


class ObserverAccount(Strict):
    """The observer: a read-only SSH key for `dagsync plan` (pull requests, drift checks).

    dagsync installs it on every client server and on DAG's storage and mail hosts, in
    root's `authorized_keys`, `restrict`ed, with a forced command that runs only the plan's
    reads (see `dagsync.reconcile.observer`).  Only the public key lives here.
    """

    key: SshPublicKey = Field(
        description="The observer's OpenSSH public key (its private key is a CI secret)."
    )


class PrefixBound(Strict):
    """A size limit on networks, per family: a network wider than a /`ipv4` (IPv4) or a
    /`ipv6` (IPv6), i.e. with a shorter prefix, is over it."""

    ipv4: int = Field(ge=1, le=32, description="Shortest IPv4 prefix length within the bound.")
    ipv6: int = Field(ge=1, le=128, description="Shortest IPv6 prefix length within the bound.")

    def prefix(self, version: int) -> int:
        return self.ipv4 if version == 4 else self.ipv6

    def addresses(self, version: int) -> int:
        """How many addresses one network of the bound's prefix holds."""
        return 1 << ((32 if version == 4 else 128) - self.prefix(version))


# DAG's office and bastion ranges grant access to every server's SSH port: a range wider than
# a /24 (IPv4) or a /48 (IPv6, one site) is a typo or a hostile edit, never an office.
MANAGEMENT_WIDEST = PrefixBound(ipv4=24, ipv6=48)


def _management_range(net: IPv4Network | IPv6Network) -> IPv4Network | IPv6Network:
    widest = MANAGEMENT_WIDEST.prefix(net.version)
    if net.prefixlen < widest:
        raise ValueError(
            f"management range {net} is wider than a /{widest}: it would open SSH on every "
            "server to far more than DAG's office and bastion; list the exact ranges"
        )
    return net


ManagementRange = Annotated[IPv4Network | IPv6Network, AfterValidator(_management_range)]
# A public mail provider's domain, e.g. gmail.com; `yahoo.*` stands for yahoo.<any suffix>.
MailDomainPattern = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9](-*[a-z0-9])*\.)+([a-z0-9](-*[a-z0-9])*|\*)$",
        max_length=253,
        description="A domain; a final `*` label stands for any public suffix (yahoo.*).",
    ),
]


class DagSettings(Strict):
    """policies/dag.yaml: company settings every client is checked against."""

    company: str
    accounting_email: Email
    ovh_account: str
    management_ranges: list[ManagementRange] = Field(
        min_length=1,
        description="DAG's office and bastion ranges (each at most a /24 in IPv4, a /48 in "
        "IPv6): they always keep SSH access to every server.",
    )
    public_services: list[Slug] = Field(
        description="Services that may be opened to the whole Internet when declared public."
    )
    tls_issuers: list[str] = Field(min_length=1, description="Accepted TLS certificate issuers.")
    datacenters: list[Datacenter] = Field(min_length=1)
    backup_storages: list[BackupStorage] = Field(min_length=1)
    mail_hosts: list[MailHost] = Field(default_factory=list)
    security_hosts: list[SecurityHost] = Field(
        default_factory=list,
        description="DAG's CrowdSec hosts; the first runs the local APIs of every decision scope.",
    )
    ip_reputation: IpReputation | None = Field(
        default=None, description="The DNS blocklists the clients' public IPs are checked in."
    )
    passphrase_escrow: str = Field(
        pattern=ESCROW_PATTERN,
        max_length=1024,
        description="Where borg passphrase recovery copies go: file:/folder, file:///folder, "
        "/folder or ~/folder (path components of letters, digits, `.`, `_`, `+`, `@`, `-`, "
        "never `.` or `..`), or a vault://, https:// or s3:// location (a store this "
        "version cannot write).",
    )
    ssh_user: UserName = "root"
    own_domains: list[MailDomain] = Field(
        default_factory=list,
        description="DAG's own domains, besides the registrable domains of its mail and "
        "storage hosts: no client may claim them or their subdomains as mail domains.",
    )
    public_mail_domains: list[MailDomainPattern] = Field(
        default_factory=list,
        description="Domains of public mail providers (gmail.com, yahoo.*): no client may "
        "claim them or their subdomains as mail domains.",
    )
    public_sources: PrefixBound = Field(
        default=PrefixBound(ipv4=8, ipv6=16),
        description="Open-port sources that together cover more addresses than one network "
        "of this size count as the whole Internet.",
    )
    blocklist_widest: PrefixBound = Field(
        default=PrefixBound(ipv4=16, ipv6=32),
        description="The widest network a blocklist entry may block.",
    )
    observer: ObserverAccount | None = Field(
        default=None,
        description="The read-only observer key that plans run with; none: no observer.",
    )
    monitoring: Monitoring | None = Field(
        default=None,
        description="DAG's supervision (CGV Art. 4): the monitoring hosts, alert thresholds "
        "and timings that dagsync renders into Prometheus and Alertmanager.",
    )
