"""What no client may claim or reach: DAG's own and public mail providers' domains, sources
wide enough to count as the whole Internet, blocklist entries too wide or covering DAG's hosts.

Pure functions of the values and of policies/dag.yaml, shared by the validator's rules and
the renderers, which check again (defence in depth).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    collapse_addresses,
)

from publicsuffixlist import PSLFILE, PublicSuffixList

from dagsync.model.policy import DagSettings, PrefixBound

Net = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


# A rule is a line's text up to its first space, unless it starts with `//` (a comment).
_RULE = re.compile(r"^(?!//)[^ \n]+", re.M)


@lru_cache(maxsize=1)
def _rules_by_tld() -> dict[str, list[str]]:
    """The rules of the Public Suffix List bundled with the package (no network), by their
    top-level label, also in punycode for an internationalised one; read as
    `PublicSuffixList` reads them."""
    with open(PSLFILE, "rb") as f:  # noqa: PTH123 - the package's own file, as it opens it
        text = f.read().decode("utf-8").lower()
    by_tld: dict[str, list[str]] = {}
    for found in _RULE.findall(text):
        rule = found.rstrip()
        if rule:
            by_tld.setdefault(rule.rpartition(".")[2].lstrip("!"), []).append(rule)
    for tld in [t for t in by_tld if not t.isascii()]:
        by_tld.setdefault(tld.encode("idna").decode("ascii"), []).extend(by_tld[tld])
    return by_tld


@cache
def _suffixes(tld: str) -> PublicSuffixList:
    """The Public Suffix List of the names under `tld`: a name's public suffix is decided by
    rules ending in its own top-level label only. Parsing the whole list (10,000 rules, each
    also encoded as IDNA) took longer than checking a client; this parses a few."""
    return PublicSuffixList("\n".join(_rules_by_tld().get(tld, ())))


def registrable(host: str) -> str | None:
    """The registrable domain of a host name (mx1.dagtechnologies.example ->
    dagtechnologies.example; a.b.co.uk -> b.co.uk), by the Public Suffix List; None for a
    public suffix itself."""
    name = host.rstrip(".").lower()
    found: str | None = _suffixes(name.rpartition(".")[2]).privatesuffix(name)
    return found


def own_domains(dag: DagSettings) -> tuple[str, ...]:
    """DAG's own domains: `own_domains` and the registrable domains of its mail and storage
    hosts, sorted."""
    hosts = [h.host for h in dag.mail_hosts] + [s.host for s in dag.backup_storages]
    found = {d for d in map(registrable, hosts) if d is not None}
    return tuple(sorted(found | {d.rstrip(".").lower() for d in dag.own_domains}))


def _under(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def _provider(name: str, pattern: str) -> bool:
    if not pattern.endswith(".*"):
        return _under(name, pattern)
    found = registrable(name)  # yahoo.* : yahoo.<a public suffix>, and any name under one
    return found is not None and found.partition(".")[0] == pattern[:-2]


def reserved_domain(domain: str, dag: DagSettings) -> str | None:
    """Why no client may claim `domain` (or None): one of DAG's own domains or a public mail
    provider's (policies/dag.yaml), or a subdomain of one."""
    name = domain.rstrip(".").lower()
    own = next((d for d in own_domains(dag) if _under(name, d)), None)
    if own is not None:
        return f"`{own}` is DAG Technologies' own domain"
    public = next((p for p in dag.public_mail_domains if _provider(name, p)), None)
    if public is not None:
        return f"`{public}` is a public mail provider's domain"
    return None


def covered(sources: Iterable[object]) -> dict[int, int]:
    """How many addresses `sources` cover, per IP version, overlaps counted once (`any`
    counts as every address)."""
    items = list(sources)
    if "any" in items:
        return {4: 1 << 32, 6: 1 << 128}
    v4 = collapse_addresses(s for s in items if isinstance(s, IPv4Network))
    v6 = collapse_addresses(s for s in items if isinstance(s, IPv6Network))
    return {4: sum(n.num_addresses for n in v4), 6: sum(n.num_addresses for n in v6)}


def public_index(sources: list[object], bound: PrefixBound) -> int | None:
    """Where `sources` make a port open to the whole Internet: the index of `any`, or of the
    widest source (the first of them) of an IP version whose sources together (merged)
    cover more addresses than a network of `bound`'s size; None if they stay narrower."""
    if "any" in sources:
        return sources.index("any")
    wide = {v for v, count in covered(sources).items() if count > bound.addresses(v)}
    nets = [
        (s.prefixlen, i)
        for i, s in enumerate(sources)
        if isinstance(s, IPv4Network | IPv6Network) and s.version in wide
    ]
    return min(nets)[1] if nets else None


def too_wide(net: Net, bound: PrefixBound) -> bool:
    return net.prefixlen < bound.prefix(net.version)


def dag_addresses(dag: DagSettings, management: bool = True) -> Iterator[tuple[str, Net]]:
    """DAG's own addresses a blocklist must leave out: (what, network); the management
    ranges first, unless `management` is false."""
    if management:
        for net in dag.management_ranges:
            yield f"DAG's management range {net}", net
    for storage in dag.backup_storages:
        if storage.address is not None:
            yield f"DAG's storage host {storage.name}", IPv4Network(storage.address)
    for host in dag.mail_hosts:
        if host.address is not None:
            yield f"DAG's mail host {host.name}", IPv4Network(host.address)
    # Blocking these would page every client (the scrapes dropped) and cut the bouncers off
    # from their local API (which could then never hear the unban).
    for monitor in dag.monitoring.hosts if dag.monitoring is not None else ():
        if monitor.address is not None:
            yield f"DAG's monitoring host {monitor.name}", IPv4Network(monitor.address)
    for security in dag.security_hosts:
        if security.address is not None:
            yield f"DAG's security host {security.name}", IPv4Network(security.address)


# IPv6 ranges that stand for IPv4 addresses: ::ffff:0:0/96 (the whole IPv4 Internet mapped)
# and 64:ff9b::/96 (NAT64). Width and DAG-address checks compare like with like, so an entry
# here would escape them; it is refused, and the IPv4 form checked instead.
IPV4_IN_IPV6 = (IPv6Network("::ffff:0:0/96"), IPv6Network("64:ff9b::/96"))


def blocked_problem(
    net: Net,
    dag: DagSettings,
    others: Iterable[tuple[str, Address]] = (),
    management: bool = True,
) -> str | None:
    """Why a blocklist entry may not be rendered or declared (or None): wider than
    `blocklist_widest`, covering DAG's hosts (and management ranges, unless `management` is
    false), or an address of `others` ((who, address) pairs: other clients' servers)."""
    bound = dag.blocklist_widest
    if too_wide(net, bound):
        return (
            f"{net} is wider than a /{bound.prefix(net.version)} (blocklist_widest of "
            "policies/dag.yaml)"
        )
    for embedded in IPV4_IN_IPV6:
        if isinstance(net, IPv6Network) and net.overlaps(embedded):
            return (
                f"{net} overlaps {embedded}, IPv4 addresses written as IPv6 (mapped or NAT64): "
                "block the IPv4 address or range itself"
            )
    for what, dag_net in dag_addresses(dag, management):
        if dag_net.version == net.version and net.overlaps(dag_net):
            return f"{net} covers {what}"
    for who, address in others:
        if address.version == net.version and address in net:
            return f"{net} covers {address}, an address of {who}"
    return None


# Names never given to a client account: the default users of cloud images (often with
# passwordless sudo), administrative names and DAG's own accounts.  `root` has ACC005
# (dagsync.rules.access_accounts refuses them; the planner never adopts an existing one).
RESERVED_ACCOUNT_NAMES = frozenset(
    {
        "admin", "administrator", "adm", "almalinux", "arch", "borg", "centos", "cloud-user",
        "core", "dag", "dagsync", "dagsync-managed", "dagsync-observer", "debian", "disk",
        "docker", "ec2-user", "fedora", "lxd", "opc", "ovh", "rocky", "shadow", "sudo",
        "sysadmin", "ubuntu", "wheel",
    }
)  # fmt: skip
