"""Supply rules (CGV Art. 4): OVH bare-metal servers, TLS certificates from accepted issuers."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.common import ask_for_request, site


@rule(id="SUP001", severity=ERROR, article="4", terms=("server_type",))
def server_type(ctx: ClientContext) -> Iterator[Violation]:
    """Servers are OVH dedicated bare-metal unless the client asked otherwise.

    What it checks:
        `ovh.type` of every server equals `server_type` of the CGV version, unless the `ovh`
        section cites a client request (`ovh.request`).

        Accepted: a bare-metal server; any other type when the `ovh` section cites the
        client's request.

    Why:
        Article 4 manages "Serveurs Dédié Bar Metal (hors demande spécifique du client sur un
        autre de type de serveur)": another type is a derogation that must be traceable.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        ovh:
          type: vps

    Passing example (clients/alpine-books/servers/shop1.yaml):
        ovh:
          type: bare_metal

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        ovh:
          type: vps
          request: REQ-2025-001

    Fix:
        Use a bare-metal server, or record the client's request and cite it in `ovh.request`.
    """
    expected = ctx.policy.server_type.value
    for entry in ctx.servers:
        ovh = entry.model.ovh
        if ovh.type != expected and ovh.request is None:
            yield Violation(
                entry.doc,
                ("ovh", "type"),
                f"server type `{ovh.type}` differs from the CGV's `{expected}`: "
                + ask_for_request(ctx, "ovh"),
                server=entry.name,
            )


@rule(id="SUP002", severity=ERROR, article="4", terms=("default_tls_issuer",))
def tls_issuer(ctx: ClientContext) -> Iterator[Violation]:
    """TLS certificates come from OVH or from an issuer DAG accepts.

    What it checks:
        `vhosts[].tls.issuer` is the CGV's `default_tls_issuer` or one of the `tls_issuers`
        of policies/dag.yaml.

        Accepted: no `tls` (no certificate), OVH, or any issuer of `tls_issuers`.

    Why:
        Article 4: certificates are supplied by OVH; "ponctuellement" DAG buys them from
        another provider, which the company settings name.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        vhosts:
          - domain: www.alpine-books.example
            aliases: [alpine-books.example]
            tls: {issuer: cheap-certs}

    Passing example (clients/alpine-books/servers/shop1.yaml):
        vhosts:
          - domain: www.alpine-books.example
            aliases: [alpine-books.example]
            tls: {issuer: letsencrypt}

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        vhosts:
          - domain: www.alpine-books.example
            aliases: [alpine-books.example]
            tls: {issuer: ovh}

    Fix:
        Use an accepted issuer, or add the provider to `tls_issuers` in policies/dag.yaml.
    """
    accepted = [ctx.policy.default_tls_issuer.value, *ctx.dag.tls_issuers]
    for entry in ctx.servers:
        for index, vhost in enumerate(entry.model.vhosts):
            if vhost.tls is not None and vhost.tls.issuer not in accepted:
                yield Violation(
                    entry.doc,
                    ("vhosts", index, "tls", "issuer"),
                    f"TLS issuer `{vhost.tls.issuer}` of {vhost.domain} is not accepted: use one "
                    "of "
                    + ", ".join(f"`{i}`" for i in dict.fromkeys(accepted))
                    + " (policies/dag.yaml `tls_issuers`)",
                    server=entry.name,
                )


_SUPPLIER_CLAUSE = (
    "Il est rappelé au Client que DAG Technologies s'approvisionne auprès de son fournisseur "
    "exclusif OVH pour toute prestation concernant : […] Le matériel (machines, serveurs, "
    "disques durs...) ; Les services (bande passante, noms de domaine, adresses IP, certificat SSL...)"
)


@rule(id="SUP003", severity=ERROR, article="4", clause=_SUPPLIER_CLAUSE)
def ovh_datacenter(ctx: ClientContext) -> Iterator[Violation]:
    """Servers are in an OVH datacenter DAG knows.

    What it checks:
        The site of `ovh.datacenter` (its 3-letter prefix: `gra` of `gra3`) is a `datacenters`
        entry of policies/dag.yaml, the OVH sites DAG works with.

        Accepted: any listed site, in any country: the CGV places backups in France, not
        servers (a server in Limburg, `lim1`, is fine).

    Why:
        Article 4: OVH is DAG's exclusive supplier of machines and network services. A
        datacenter code DAG does not list is a typo or another provider; backup placement
        (BKP007, BKP008) and the OVH calls of the reconciler depend on it.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        ovh:
          datacenter: fra1

    Passing example (clients/alpine-books/servers/shop1.yaml):
        ovh:
          datacenter: gra3

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        ovh:
          datacenter: lim1

    Fix:
        Use the OVH datacenter the server is delivered in, or add that OVH site to
        `datacenters` in policies/dag.yaml.
    """
    known = {d.code for d in ctx.dag.datacenters}
    for entry in ctx.servers:
        datacenter = entry.model.ovh.datacenter
        if site(datacenter) not in known:
            yield Violation(
                entry.doc,
                ("ovh", "datacenter"),
                f"datacenter `{datacenter}` is not an OVH site of policies/dag.yaml ("
                + ", ".join(sorted(known))
                + "): OVH is DAG's exclusive supplier; fix the code or add the site there",
                server=entry.name,
            )
