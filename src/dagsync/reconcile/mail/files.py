"""Shared mail hosts (CGV Art. 6.1): the Dovecot and Postfix files dagsync owns, rendered
whole, and parsers of what the hosts print.  Pure: values in, text out.

What each CGV limit becomes:

- *Quota* (25 GB included, 35 GB maximum): each client's contract has one quota shared by
  all its domains.  A Dovecot userdb keyed by the domain (`username_format=%d`) gives every
  mailbox of a domain the fields `quota=dict:contract:<client>:file:<QUOTA_DIR>/<client>`
  (one usage counter per contract) and `quota_rule=*:storage=<N>M`, with N the declared
  `quota_gb`, never above the CGV hard limit; Dovecot then refuses mail over it.
- *At most 9 recipients in copy*: a header check on the mail the clients send.  Mail
  submitted by users goes through the `submission` service, whose own cleanup service
  `dagsync-cleanup` runs `header_checks` rejecting a `Cc:` header with more than 9
  addresses (counted by their `@`, folded lines included).  Incoming mail from the
  Internet is not concerned.  (`smtpd_recipient_limit` is not used: over the limit Postfix
  answers 452 and clients send the rest in another transaction, so it limits nothing.)
- *No use of the shared SMTP by sites or scripts*: `mynetworks` is the loopback only, relay
  needs SASL authentication, and the addresses of every client server are refused by a
  `check_client_access` table on every smtpd service, unless the client's `mail` section
  allows sending from its sites (by request).
- *No external auto-forward unless declared*: the declared forwards are the only entries
  of the virtual alias map dagsync writes, and Sieve redirects are disabled
  (`sieve_max_redirects = 0`), so users cannot add their own.

Every value is checked again here, whatever the validator said (defence in depth): a domain,
an address or a client id that could split a Postfix or Dovecot line into more fields or
more lines is refused (`UnsafeValue`), and so is anything that crosses clients (`CrossTenant`):
one domain for two clients, or a forward of an address of a domain that is not the
declaring client's own; and so is a domain no client may have (`ReservedDomain`): DAG's own
domains or a public mail provider's (policies/dag.yaml, see `dagsync.model.reserved`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from dagsync.model.base import DOMAIN_PATTERN, MAIL_ADDRESS_PATTERN
from dagsync.reconcile.shell import UnsafeValue, one_line

DOVECOT_CONF = "/etc/dovecot/conf.d/95-dagsync.conf"
DOMAINS_FILE = "/etc/dovecot/dagsync-domains"
POSTFIX_DIR = "/etc/postfix/dagsync"
CLIENT_ACCESS = f"{POSTFIX_DIR}/client_servers.cidr"
CC_CHECKS = f"{POSTFIX_DIR}/cc_limit.regexp"
FORWARDS = f"{POSTFIX_DIR}/forwards"
VIRTUAL_DOMAINS = f"{POSTFIX_DIR}/domains"
MAIL_ROOT = "/var/vmail"
QUOTA_DIR = f"{MAIL_ROOT}/.dagsync-quota"
CLEANUP = "dagsync-cleanup"
HEADER = "managed by dagsync from the clients' YAML (CGV Art. 6.1): do not edit"
MIB_PER_GB = 1024  # Dovecot's G is GiB; quotas are written in MiB to keep decimals


@dataclass(frozen=True)
class DomainQuota:
    domain: str
    client: str
    quota_mb: int


@dataclass(frozen=True)
class Forward:
    source: str
    target: str
    client: str  # the client that declares it


class CrossTenant(UnsafeValue):
    """A mail table entry that would reach another client's domain or address."""


class ReservedDomain(CrossTenant):
    """A client's mail domain that is DAG's own or a public mail provider's."""


_DOMAIN = re.compile(DOMAIN_PATTERN)
_ADDRESS = re.compile(MAIL_ADDRESS_PATTERN)
_CLIENT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def _domain(value: str) -> str:
    if _DOMAIN.fullmatch(value) is None:
        raise UnsafeValue(f"mail domain {value!r} cannot be written in a mail table")
    return value


def _address(value: str) -> str:
    if _ADDRESS.fullmatch(value) is None:
        raise UnsafeValue(f"mail address {value!r} cannot be written in a Postfix table")
    return value


def _client(value: str) -> str:
    if _CLIENT.fullmatch(value) is None:
        raise UnsafeValue(f"client id {value!r} cannot be written in a Dovecot field")
    return value


def domain_owners(quotas: Iterable[DomainQuota]) -> dict[str, str]:
    """Each hosted domain's client; CrossTenant when a domain is declared twice."""
    owners: dict[str, str] = {}
    for q in quotas:
        owner = owners.setdefault(_domain(q.domain), _client(q.client))
        if owner != q.client:
            raise CrossTenant(
                f"mail domain {q.domain} is declared by clients {owner} and {q.client}: "
                "a domain belongs to one client"
            )
    return owners


def refuse_reserved(quotas: Iterable[DomainQuota], reserved: Callable[[str], str | None]) -> None:
    """ReservedDomain when a client's domain is one no client may have: `reserved(domain)`
    says why (e.g. `dagsync.model.reserved.reserved_domain` with policies/dag.yaml), or None."""
    for q in quotas:
        why = reserved(q.domain)
        if why is not None:
            raise ReservedDomain(
                f"client {q.client} declares the mail domain {q.domain}: {why}, never a "
                "client's (policies/dag.yaml)"
            )


def check_forward(forward: Forward, owners: Mapping[str, str]) -> None:
    """CrossTenant unless the forward's source is an address of its own client's domain."""
    domain = _address(forward.source).rpartition("@")[2]
    _address(forward.target)
    owner = owners.get(domain)
    if owner != forward.client:
        whose = "no client's hosted domain" if owner is None else f"a domain of client {owner}"
        raise CrossTenant(
            f"client {forward.client} forwards {forward.source}, an address of {whose}: "
            "a client forwards only the mail of its own domains"
        )


@dataclass(frozen=True)
class RefusedClient:
    network: str  # an address or CIDR block
    server: str  # client/server


def quota_mb(declared_gb: Decimal, hard_limit_gb: Decimal) -> int:
    """The enforced quota in MiB: the declared quota, never above the hard limit."""
    gb = min(declared_gb, hard_limit_gb)
    return int((gb * MIB_PER_GB).to_integral_value(rounding=ROUND_FLOOR))


def describe_mb(mb: int) -> str:
    gb = Decimal(mb) / MIB_PER_GB
    return f"{gb.normalize():f} GB"


# --- Dovecot -------------------------------------------------------------------------------


def render_dovecot() -> str:
    """The Dovecot settings dagsync owns (the domains and their quotas are in DOMAINS_FILE)."""
    return f"""# {HEADER}
mail_home = {MAIL_ROOT}/%d/%n
mail_location = maildir:~/Maildir
mail_plugins = $mail_plugins quota
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
userdb {{
  driver = passwd-file
  args = username_format=%d {DOMAINS_FILE}
  skip = never
}}
plugin {{
  quota_exceeded_message = Quota exceeded (CGV 6.1): delete mail or contact DAG Technologies
  quota_grace = 0
  sieve_max_redirects = 0
}}
"""


def render_domains(quotas: Iterable[DomainQuota]) -> str:
    """The passwd-file keyed by domain: per-contract quota root and rule (one line per domain:
    CrossTenant when two clients declare the same domain)."""
    quotas = list(quotas)
    if len(domain_owners(quotas)) != len(quotas):
        raise UnsafeValue("a mail domain is listed twice: it would get two quota lines")
    lines = [f"# {HEADER}"]
    for q in sorted(quotas, key=lambda q: q.domain):
        fields = (
            f"userdb_quota=dict:contract:{q.client}:file:{QUOTA_DIR}/{q.client} "
            f"userdb_quota_rule=*:storage={q.quota_mb}M userdb_dagsync_client={q.client}"
        )
        lines.append(f"{q.domain}:::::::{fields}")
    return "\n".join(lines) + "\n"


def parse_domains(text: str) -> dict[str, DomainQuota]:
    """The domains of a DOMAINS_FILE with their client and quota (unreadable lines skipped)."""
    out: dict[str, DomainQuota] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":", 7)
        if len(parts) < 8:
            continue
        fields = dict(f.removeprefix("userdb_").split("=", 1) for f in parts[7].split() if "=" in f)
        size = fields.get("quota_rule", "").removeprefix("*:storage=")
        if size.endswith("M") and size[:-1].isdigit():
            out[parts[0]] = DomainQuota(parts[0], fields.get("dagsync_client", "?"), int(size[:-1]))
    return out


# --- Postfix -------------------------------------------------------------------------------


def render_client_access(refused: Iterable[RefusedClient]) -> str:
    lines = [f"# {HEADER}", "# Client servers may not send through the shared SMTP."]
    for item in sorted(refused, key=lambda r: (r.network, r.server)):
        try:
            ipaddress.ip_network(item.network, strict=False)
        except ValueError:
            raise UnsafeValue(f"{item.network!r} is not an address or a network") from None
        if any(c.isspace() for c in one_line(item.server, "server")):
            raise UnsafeValue(f"server {item.server!r} cannot be written in a Postfix table")
        lines.append(
            f"{item.network}\tREJECT 5.7.1 {item.server}: sites and scripts may not "
            "use DAG's shared SMTP (CGV 6.1)"
        )
    return "\n".join(lines) + "\n"


def cc_pattern(limit: int) -> str:
    """A POSIX regular expression matching a Cc header with more than `limit` addresses."""
    return rf"^Cc:([^@]*@){{{limit + 1}}}"


def render_cc_checks(limit: int) -> str:
    return (
        f"# {HEADER}\n"
        f"/{cc_pattern(limit)}/ REJECT 5.7.1 more than {limit} recipients in copy (CGV 6.1)\n"
    )


def render_forwards(forwards: Iterable[Forward], owners: Mapping[str, str]) -> str:
    """The virtual alias map: each declared forward keeps its local copy.  `owners` maps each
    hosted domain to its client (`domain_owners`): a forward of an address of another
    client's domain (or of no hosted domain) is refused (CrossTenant), and every address
    must be one token (no comma or white space that would add recipients)."""
    targets: dict[str, list[str]] = {}
    for f in forwards:
        check_forward(f, owners)
        targets.setdefault(f.source, []).append(f.target)
    lines = [f"# {HEADER}"]
    for source in sorted(targets):
        lines.append(f"{source}\t{', '.join([source, *sorted(set(targets[source]))])}")
    return "\n".join(lines) + "\n"


def render_virtual_domains(domains: Iterable[str]) -> str:
    return "\n".join([f"# {HEADER}", *sorted({_domain(d) for d in domains})]) + "\n"


MAIN_PARAMS: Mapping[str, str] = {
    "mynetworks": "127.0.0.0/8 [::1]/128",
    "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, "
    "reject_unauth_destination",
    "smtpd_client_restrictions": f"check_client_access cidr:{CLIENT_ACCESS}",
    "virtual_mailbox_domains": VIRTUAL_DOMAINS,
    "virtual_alias_maps": f"texthash:{FORWARDS}",
    # master.cf `-o` values cannot hold spaces: the submission service refers to this one.
    "dagsync_submission_client_restrictions": f"check_client_access cidr:{CLIENT_ACCESS}, "
    "permit_sasl_authenticated, reject",
}

MASTER_ENTRIES: Mapping[str, str] = {
    f"{CLEANUP}/unix": f"{CLEANUP} unix n - y - 0 cleanup",
    "submission/inet": "submission inet n - y - - smtpd",
}

MASTER_PARAMS: Mapping[str, str] = {
    f"{CLEANUP}/unix/header_checks": f"regexp:{CC_CHECKS}",
    "submission/inet/syslog_name": "postfix/submission",
    "submission/inet/smtpd_tls_security_level": "encrypt",
    "submission/inet/smtpd_sasl_auth_enable": "yes",
    "submission/inet/smtpd_client_restrictions": "$dagsync_submission_client_restrictions",
    "submission/inet/cleanup_service_name": CLEANUP,
}


def normalise(value: str) -> str:
    """Postfix lists compare equal whatever their commas and spaces."""
    return " ".join(value.replace(",", " ").split())


def parse_postconf(text: str) -> dict[str, str]:
    """`postconf NAME...` / `postconf -P ...` output: `name = value` per line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            out[name.strip()] = value.strip()
        elif line.endswith(" ="):
            out[line[:-2].strip()] = ""
    return out


def parse_master(text: str) -> dict[str, str]:
    """`postconf -M name/type...` output: the service fields, without `-o` parameters."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 8 and not line.startswith((" ", "\t")):
            out[f"{fields[0]}/{fields[1]}"] = " ".join(fields[:8])
    return out


# --- usage ---------------------------------------------------------------------------------


def usage_command(domains: Sequence[str]) -> str:
    """Print `bytes<TAB>domain` for each domain's mail store (apparent size; 0 if absent)."""

    names = " ".join(shlex.quote(d) for d in domains)
    return (
        f'for d in {names}; do if [ -d {MAIL_ROOT}/"$d" ]; then '
        f'printf \'%s\\t%s\\n\' "$(du -s --apparent-size --block-size=1 {MAIL_ROOT}/"$d" '
        '| cut -f1)" "$d"; else printf \'0\\t%s\\n\' "$d"; fi; done'
    )


def parse_usage(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        size, _, domain = line.partition("\t")
        if size.isdigit() and domain:
            out[domain] = int(size)
    return out


def gigabytes(size: int) -> Decimal:
    """Bytes as GB (GiB, as Dovecot counts), to two decimals."""
    return (Decimal(size) / (1024**3)).quantize(Decimal("0.01"))


# --- usage history (the format of `dagsync contracts --mail-usage FILE`) -------------------

History = dict[str, list[dict[str, str]]]


def load_history(text: str) -> History:
    """`{"client-id": [{"on": "YYYY-MM-DD", "used_gb": "27.5"}, ...]}` (checked)."""

    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("a mail usage history is a JSON object")
    out: History = {}
    for client, readings in data.items():
        out[str(client)] = [{"on": str(r["on"]), "used_gb": str(r["used_gb"])} for r in readings]
    return out


def record(history: History, client: str, on: str, used_gb: Decimal) -> History:
    """The history with the reading of `client` on `on` (replacing that day's), sorted."""
    readings = [r for r in history.get(client, []) if r["on"] != on]
    readings.append({"on": on, "used_gb": str(used_gb)})
    return {**history, client: sorted(readings, key=lambda r: r["on"])}


def dump_history(history: History) -> str:

    return json.dumps({c: history[c] for c in sorted(history)}, indent=2) + "\n"
