"""Security rules on the protections (CGV Art. 4): the protections on, the blocklist's
propagation and bounds, the reverse DNS of the client's own IPs, SEC005 to SEC008."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.reserved import blocked_problem
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.common import ask_for_request

_IP_CLAUSE = (
    "DAG Technologies s'approvisionne auprès de son fournisseur exclusif OVH pour toute "
    "prestation concernant : […] Les services (bande passante, noms de domaine, adresses IP, "
    "certificat SSL...)"
)


@rule(id="SEC005", severity=ERROR, article="4", terms=("security_features",))
def protections_on(ctx: ClientContext) -> Iterator[Violation]:
    """Anti-DDoS, intrusion detection, antivirus and IP-reputation monitoring are on.

    What it checks:
        Every feature listed in `security_features` of the CGV version is true in the
        server's `security` section (absent means on). A client request does not turn them
        off: the CGV provides no exception.

        Accepted: only every protection on: the CGV gives no exception.

    Why:
        Article 4 lists them among the services DAG ensures on every managed server.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        security:
          antivirus: false

    Passing example (clients/alpine-books/servers/shop1.yaml):
        security:
          antivirus: true

    Fix:
        Set the feature to true.
    """
    for entry in ctx.servers:
        for feature in ctx.policy.security_features.value:
            if getattr(entry.model.security, feature, None) is not True:
                yield Violation(
                    entry.doc,
                    ("security", feature),
                    f"`{feature}` must be on (CGV {ctx.policy.version}): set `{feature}: true`",
                    server=entry.name,
                )


@rule(id="SEC006", severity=ERROR, article="4", terms=("blocklist_propagation",))
def blocklist_propagation(ctx: ClientContext) -> Iterator[Violation]:
    """Blocked addresses are propagated to all the client's servers unless the client opted out.

    What it checks:
        `network.blocklist_propagation` (and `network.share_blocklist_network_wide`, DAG's
        network-wide sharing) stay true unless the `network` section cites a client request.

        Accepted: both settings on; either off when the `network` section cites the client's
        request.

    Why:
        Article 4: "le blocage d'une attaque sur un serveur est répercuté immédiatement sur
        l'ensemble du réseau de serveur client, hors demande spécifique du client pour
        désactiver cette option".

    Failing example (clients/velo-savoie/client.yaml):
        network:
          blocklist_propagation: false

    Passing example (clients/velo-savoie/client.yaml):
        network:
          blocklist_propagation: true

    Also passing example (clients/velo-savoie/client.yaml):
        network:
          blocklist_propagation: false
          request: REQ-2023-010

    Fix:
        Set it back to true, or cite the client's request in `network.request`.
    """
    network = ctx.client.network
    if not ctx.policy.blocklist_propagation.value or network.request is not None:
        return
    for name in ("blocklist_propagation", "share_blocklist_network_wide"):
        if not getattr(network, name):
            yield Violation(
                ctx.client_doc,
                ("network", name),
                f"`{name}` is off, which only the client can ask for: "
                + ask_for_request(ctx, "network"),
            )


@rule(id="SEC007", severity=ERROR, article="4", terms=("blocklist_propagation",))
def blocklist_bounded(ctx: ClientContext) -> Iterator[Violation]:
    """A blocklist entry is narrow and leaves DAG's own hosts out.

    What it checks:
        Each `network.blocklist[].address` is at most as wide as `blocklist_widest` of
        policies/dag.yaml (a /16 in IPv4, a /32 in IPv6: never `0.0.0.0/0` nor `::/0`), and
        covers no address of DAG's storage and mail hosts (`backup_storages[].address`,
        `mail_hosts[].address`). The management ranges are SEC003's; another client's
        server addresses are REP015's.

        Accepted: addresses and networks up to a /16 (IPv4) or a /32 (IPv6) that leave DAG's
        hosts out.

    Why:
        Article 4: "le blocage d'une attaque sur un serveur est répercuté immédiatement sur
        l'ensemble du réseau de serveur client". A blocked network lands on every server of
        the client and, shared network-wide, on every server of every client, before the
        rule that accepts established connections: a wide entry cuts those servers off a
        large part of the Internet, and one covering a storage or mail host stops every
        client's backups or mail. An attack comes from addresses, not from a continent.

    Failing example (clients/velo-savoie/client.yaml):
        network:
          blocklist:
            - address: 0.0.0.0/1
              reason: Scans from everywhere
              added_on: 2026-10-02

    Passing example (clients/velo-savoie/client.yaml):
        network:
          blocklist:
            - address: 198.51.100.66/32
              reason: SSH brute force against web1 (intrusion detection alert)
              added_on: 2026-10-02
            - address: 203.0.113.200/29
              reason: Credential stuffing on the shop login
              added_on: 2026-11-12

    Fix:
        Block the attacking addresses themselves (or their narrowest block), leaving DAG's
        hosts out.
    """
    for index, blocked in enumerate(ctx.client.network.blocklist):
        problem = blocked_problem(blocked.address, ctx.dag, management=False)
        if problem is not None:
            yield Violation(
                ctx.client_doc,
                ("network", "blocklist", index, "address"),
                f"blocking {problem}: the blocklist lands on every server of the client (and, "
                "shared network-wide, of every client); block the attacking addresses "
                "themselves",
            )


@rule(id="SEC008", severity=ERROR, article="4", clause=_IP_CLAUSE)
def reverse_dns_own_ip(ctx: ClientContext) -> Iterator[Violation]:
    """A reverse DNS entry names one of the server's own addresses.

    What it checks:
        Each `reverse_dns[].ip` is one of the server's `ips`.

        Accepted: reverse DNS names for any of the server's own addresses.

    Why:
        Article 4: DAG obtains the IP addresses of each server from OVH and manages them. A
        reverse DNS entry on an address the server does not hold would rename another
        server's address, maybe another client's: its mail would then fail the
        reverse-DNS checks of receiving servers, or carry the declaring client's name.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        reverse_dns:
          - {ip: 198.51.100.20, name: shop1.alpine-books.example.}

    Passing example (clients/alpine-books/servers/shop1.yaml):
        reverse_dns:
          - {ip: 203.0.113.10, name: shop1.alpine-books.example.}

    Fix:
        Use one of the server's own addresses, or declare the address in `ips` if OVH gave
        it to this server.
    """
    for entry in ctx.servers:
        own = set(entry.model.ips)
        for index, reverse in enumerate(entry.model.reverse_dns):
            if reverse.ip not in own:
                yield Violation(
                    entry.doc,
                    ("reverse_dns", index, "ip"),
                    f"reverse DNS for {reverse.ip}, which is not an address of {entry.name} "
                    f"(ips: {', '.join(map(str, entry.model.ips)) or 'none'}): name only the "
                    "server's own addresses",
                    server=entry.name,
                )
