"""Edge firewall rules (CGV Art. 4): what OVH's network firewall in front of each IP can hold."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.edge import EDGE_RULE_LIMIT, edge_count, ipv4_addresses, overflow_index
from dagsync.rules.base import ERROR, ClientContext, Violation, rule

_FIREWALL_CLAUSE = (
    "Firewall avec autorisation d'ouverture de ports sur mesure en adéquation avec les besoins "
    "de connexion externe du client"
)


@rule(id="EDG001", severity=ERROR, article="4", clause=_FIREWALL_CLAUSE)
def edge_rules_fit(ctx: ClientContext) -> Iterator[Violation]:
    """The open ports fit in the 20 rules of OVH's edge firewall.

    What it checks:
        For a server with an IPv4 address, the rules dagsync puts on OVH's edge network
        firewall in front of it number at most 20: one `permit tcp established`, one permit
        on `ssh.port` per management range of policies/dag.yaml (IPv4, adjacent ranges
        merged), one permit per exporter the server runs for DAG's supervision (node, and the
        database and web-server exporters its `supervision.metrics` call for) from the
        monitoring hosts' addresses (derived, never declared), one permit per declared (protocol, port or range, IPv4 source), with the
        sources of one port merged (`any` wins, adjacent networks collapse), one `permit
        icmp` if `firewall.icmp` is true, and the final `deny ipv4`.

        Accepted: any set of ports and sources that fits in 20 rules; servers without an
        IPv4 address.

    Why:
        Article 4 promises a firewall opened to measure for the client's external needs;
        dagsync mirrors it on OVH's edge firewall, which holds at most 20 rules per IP
        address (sequences 0 to 19). Ports that do not fit could not be opened there, and
        the reconciler would fail on every apply.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        firewall:
          open_ports:
            - port: 443
              service: https
              sources: [any]
              public: true
              justification: Public shop www.alpine-books.example.
              request: REQ-2025-001
            - port: 8443
              service: stock
              sources: [198.51.100.1/32, 198.51.100.3/32, 198.51.100.5/32, 198.51.100.7/32, 198.51.100.9/32, 198.51.100.11/32, 198.51.100.13/32, 198.51.100.15/32, 198.51.100.17/32, 198.51.100.19/32, 198.51.100.21/32, 198.51.100.23/32, 198.51.100.25/32, 198.51.100.27/32, 198.51.100.29/32, 198.51.100.31/32]
              justification: The sixteen warehouses of the shop push their stock levels.

    Passing example (clients/alpine-books/servers/shop1.yaml):
        firewall:
          open_ports:
            - port: 443
              service: https
              sources: [any]
              public: true
              justification: Public shop www.alpine-books.example.
              request: REQ-2025-001
            - port: 8443
              service: stock
              sources: [198.51.100.0/27]
              justification: The sixteen warehouses of the shop push their stock levels.

    Fix:
        Merge the sources of a port into wider blocks, group neighbouring ports into a range
        (`port: "8000-8010"`), or remove openings the client no longer needs.
    """
    for entry in ctx.servers:
        server = entry.model
        addresses = ipv4_addresses(server)
        count = edge_count(server, ctx.dag.management_ranges, ctx.dag.monitoring)
        if not addresses or count.total <= EDGE_RULE_LIMIT:
            continue
        index = overflow_index(server, ctx.dag.management_ranges, ctx.dag.monitoring)
        text = (
            f"OVH's edge firewall holds at most {EDGE_RULE_LIMIT} rules per address and "
            f"{addresses[0]} needs {count.total} ({count.describe()})"
        )
        if index is None:
            yield Violation(
                entry.doc,
                ("ips",),
                text + ": declare fewer management ranges",
                server=entry.name,
            )
            continue
        port = server.firewall.open_ports[index]
        yield Violation(
            entry.doc,
            ("firewall", "open_ports", index, "sources"),
            f"{text}; port {port.port}/{port.protocol} ({port.service}) does not fit: merge "
            "sources into wider blocks, group ports into a range, or remove openings the "
            "client no longer needs",
            server=entry.name,
        )
