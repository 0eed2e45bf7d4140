"""Shared-mail rules (CGV Art. 6.1): hosted domains, quota and billing, sending limits.

They apply when `mail.hosting` is `shared` (DAG's shared mail servers); a client with a
dedicated mail server is not bound by them.
"""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.contract.billing import MailQuotaTerms, slices_for
from dagsync.model.client import Mail, MailHosting
from dagsync.model.reserved import reserved_domain
from dagsync.rules.base import ERROR, WARNING, ClientContext, Violation, rule

_MAIL = ("mail",)
_DOMAIN_CLAUSE = (
    "Si le Client n'a pas souscrit à un serveur de mail dédié, ses emails sont gérés sur les "
    "serveurs de mails mutualisés de DAG Technologies. […] Le domaine lié à l'email doit être "
    "hébergé sur un serveur DAG Technologies"
)


def _shared(ctx: ClientContext) -> Mail | None:
    mail = ctx.client.mail
    return mail if mail.hosting is MailHosting.SHARED else None


def _hosted_names(ctx: ClientContext) -> set[str]:
    return {
        name.rstrip(".").lower()
        for entry in ctx.servers
        for vhost in entry.model.vhosts
        for name in (vhost.domain, *vhost.aliases)
    }


@rule(id="MAIL001", severity=ERROR, article="6.1", clause=_DOMAIN_CLAUSE)
def mail_domain_hosted(ctx: ClientContext) -> Iterator[Violation]:
    """Shared mail only serves domains hosted on one of the client's DAG servers.

    What it checks:
        Each `mail.domains` entry is the domain, an alias or a parent domain of a vhost on one
        of the client's servers (`shop.example` is hosted by a vhost `www.shop.example`).

        Accepted: a domain served by a vhost, by an alias, or a parent domain of one;
        clients with a dedicated mail server.

    Why:
        Article 6.1: for deliverability, "Le domaine lié à l'email doit être hébergé sur un
        serveur DAG Technologies" (DAG manages its DNS, SPF and DKIM).

    Failing example (clients/alpine-books/client.yaml):
        mail:
          domains: [alpine-books.example, alpine-livres.example]

    Passing example (clients/alpine-books/client.yaml):
        mail:
          domains: [alpine-books.example]

    Fix:
        Host the domain on one of the client's servers (a vhost or an alias), or drop it from
        shared mail.
    """
    mail = _shared(ctx)
    if mail is None or ctx.unreadable_servers:
        return  # a server that failed to load may host the domain
    names = _hosted_names(ctx)
    for index, domain in enumerate(mail.domains):
        wanted = domain.rstrip(".").lower()
        if not any(n == wanted or n.endswith("." + wanted) for n in names):
            yield Violation(
                ctx.client_doc,
                (*_MAIL, "domains", index),
                f"{domain} is not hosted on any server of {ctx.client_id}: shared mail serves "
                "only domains of the client's vhosts (domain or alias)",
            )


def _quota_terms(ctx: ClientContext) -> MailQuotaTerms:
    p = ctx.policy
    return MailQuotaTerms(
        included_gb=p.mail_quota_included_gb.value,
        hard_limit_gb=p.mail_hard_limit_gb.value,
        slice_gb=p.mail_overage_slice_gb.value,
        slice_price=p.mail_overage_slice_price_eur.value,
        grace_days=p.mail_overage_grace_days.value,
    )


@rule(
    id="MAIL002",
    severity=WARNING,
    article="6.1",
    terms=("mail_quota_included_gb", "mail_overage_slice_price_eur"),
)
def mail_quota_billable(ctx: ClientContext) -> Iterator[Violation]:
    """A mail quota above the included space is billed.

    What it checks:
        When `mail.quota_gb` exceeds `mail_quota_included_gb` (but not the hard limit, see
        MAIL003), a warning gives the monthly amount: `mail_overage_slice_price_eur` per
        started slice of `mail_overage_slice_gb`. A `mail.request` recording that the client
        asked for (and accepted) the larger quota silences it.

        Accepted: the included quota or less; more when the `mail` section cites the
        client's request accepting the overage.

    Why:
        Article 6.1: "une facturation complémentaire de 10,00 Euros HT mensuel par tranche de
        5Go de dépassement sera appliquée".

    Failing example (clients/alpine-books/client.yaml):
        mail:
          quota_gb: 27

    Passing example (clients/alpine-books/client.yaml):
        mail:
          quota_gb: 25

    Also passing example (clients/alpine-books/client.yaml):
        mail:
          quota_gb: 30
          request: REQ-2025-001

    Fix:
        Keep the included quota, or record the client's request accepting the overage in
        `mail.request` (and bill it).
    """
    mail = _shared(ctx)
    if mail is None or mail.request is not None:
        return
    terms = _quota_terms(ctx)
    if terms.included_gb < mail.quota_gb <= terms.hard_limit_gb:
        slices = slices_for(mail.quota_gb - terms.included_gb, terms)
        amount = slices * terms.slice_price
        yield Violation(
            ctx.client_doc,
            (*_MAIL, "quota_gb"),
            f"a quota of {mail.quota_gb} GB is {mail.quota_gb - terms.included_gb} GB over the "
            f"{terms.included_gb} GB included: {slices} slice(s) of {terms.slice_gb} GB, "
            f"{amount:.2f} EUR HT per month",
        )


@rule(id="MAIL003", severity=ERROR, article="6.1", terms=("mail_hard_limit_gb",))
def mail_quota_limit(ctx: ClientContext) -> Iterator[Violation]:
    """The mail quota never exceeds the hard maximum.

    What it checks:
        `mail.quota_gb` is at most `mail_hard_limit_gb` of the CGV version.

        Accepted: any quota up to the maximum; clients with a dedicated mail server.

    Why:
        Article 6.1: "La limite maximum ne pourra pas dépasser 35Go"; above it the service
        stops receiving mail.

    Failing example (clients/alpine-books/client.yaml):
        mail:
          quota_gb: 40

    Passing example (clients/alpine-books/client.yaml):
        mail:
          quota_gb: 25

    Fix:
        Lower the quota; a client who needs more takes a dedicated mail server.
    """
    mail = _shared(ctx)
    limit = ctx.policy.mail_hard_limit_gb.value
    if mail is not None and mail.quota_gb > limit:
        yield Violation(
            ctx.client_doc,
            (*_MAIL, "quota_gb"),
            f"a quota of {mail.quota_gb} GB exceeds the {limit} GB maximum of shared mail: "
            "lower it, or move the client to a dedicated mail server",
        )


@rule(id="MAIL004", severity=ERROR, article="6.1", terms=("mail_mass_mailing_allowed",))
def mail_no_mass_mailing(ctx: ClientContext) -> Iterator[Violation]:
    """Mass mailing is off on shared mail.

    What it checks:
        `mail.mass_mailing` is false unless the CGV version allows it.

        Accepted: mass mailing off; clients with a dedicated mail server.

    Why:
        Article 6.1: "Les emailings sont interdits", to keep the shared servers' IP
        reputation.

    Failing example (clients/alpine-books/client.yaml):
        mail:
          mass_mailing: true

    Passing example (clients/alpine-books/client.yaml):
        mail:
          mass_mailing: false

    Fix:
        Use a dedicated emailing service for campaigns.
    """
    mail = _shared(ctx)
    if mail is not None and mail.mass_mailing and not ctx.policy.mail_mass_mailing_allowed.value:
        yield Violation(
            ctx.client_doc,
            (*_MAIL, "mass_mailing"),
            "mass mailing is forbidden on DAG's shared mail servers: set `mass_mailing: false`",
        )


@rule(id="MAIL005", severity=ERROR, article="6.1", terms=("mail_cc_limit",))
def mail_cc_limit(ctx: ClientContext) -> Iterator[Violation]:
    """Messages have at most the CGV's number of recipients in copy.

    What it checks:
        `mail.cc_limit` is at most `mail_cc_limit` of the CGV version.

        Accepted: any limit up to the CGV's (a lower one is stricter, so fine).

    Why:
        Article 6.1: "Le nombre de destinataire maximum en copie des messages est limité à 9".

    Failing example (clients/alpine-books/client.yaml):
        mail:
          cc_limit: 25

    Passing example (clients/alpine-books/client.yaml):
        mail:
          cc_limit: 9

    Also passing example (clients/alpine-books/client.yaml):
        mail:
          cc_limit: 5

    Fix:
        Lower the limit to the CGV's.
    """
    mail = _shared(ctx)
    limit = ctx.policy.mail_cc_limit.value
    if mail is not None and mail.cc_limit > limit:
        yield Violation(
            ctx.client_doc,
            (*_MAIL, "cc_limit"),
            f"{mail.cc_limit} recipients in copy; shared mail allows {limit}: set "
            f"`cc_limit: {limit}` or less",
        )


@rule(id="MAIL006", severity=ERROR, article="6.1", terms=("mail_smtp_from_sites_allowed",))
def mail_no_smtp_from_sites(ctx: ClientContext) -> Iterator[Violation]:
    """Sites and scripts do not send through the shared SMTP servers.

    What it checks:
        `mail.smtp_from_sites` is false unless the CGV version allows it.

        Accepted: sites that send through their own server or a transactional service
        (`smtp_from_sites: false`); clients with a dedicated mail server.

    Why:
        Article 6.1: "L'utilisation des adresses SMTP des serveurs de mail mutualisés de DAG
        Technologies n'est pas autorisée depuis le site du client, ou tout autre script ou API
        externe".

    Failing example (clients/alpine-books/client.yaml):
        mail:
          smtp_from_sites: true

    Passing example (clients/alpine-books/client.yaml):
        mail:
          smtp_from_sites: false

    Fix:
        Send site mail through the server's own MTA or a transactional mail service.
    """
    mail = _shared(ctx)
    if (
        mail is not None
        and mail.smtp_from_sites
        and not ctx.policy.mail_smtp_from_sites_allowed.value
    ):
        yield Violation(
            ctx.client_doc,
            (*_MAIL, "smtp_from_sites"),
            "sites and scripts may not send through DAG's shared SMTP servers: set "
            "`smtp_from_sites: false`",
        )


@rule(id="MAIL007", severity=WARNING, article="6.1", terms=("mail_external_forward_advised",))
def mail_external_forward(ctx: ClientContext) -> Iterator[Violation]:
    """Automatic forwarding to an external address is discouraged.

    What it checks:
        Each `mail.external_forwards` entry to an address outside the client's mail domains
        warns, unless it (or the `mail` section) cites the client's request: once the client asked for it knowing the advice, the choice
        is recorded and no longer reported.

        Accepted: forwards inside the client's mail domains; an external forward that cites
        the client's request.

    Why:
        Article 6.1: "DAG Technologies déconseille l'utilisation de la fonction « copie
        automatique à la réception » vers une adresse externe": forwarded spam hurts the
        shared servers' reputation.

    Failing example (clients/alpine-books/client.yaml):
        mail:
          external_forwards:
            - source: claire.martin@alpine-books.example
              target: claire.martin@mail.example

    Passing example (clients/alpine-books/client.yaml):
        mail:
          external_forwards:
            - source: claire.martin@alpine-books.example
              target: claire.martin@mail.example
              request: REQ-2025-001

    Fix:
        Advise the client against it; if they insist, record their request and cite it.
    """
    mail = _shared(ctx)
    if mail is None or ctx.policy.mail_external_forward_advised.value:
        return
    managed = {d.rstrip(".").lower() for d in mail.domains}
    for index, forward in enumerate(mail.external_forwards):
        external = forward.target.rpartition("@")[2].lower() not in managed
        if external and forward.request is None and mail.request is None:
            yield Violation(
                ctx.client_doc,
                (*_MAIL, "external_forwards", index, "target"),
                f"forwarding {forward.source} to the external {forward.target} is discouraged "
                "(spam forwarded from the shared servers hurts their reputation): if the "
                "client insists, add `request: REQ-...` to this forward citing the request",
            )


@rule(id="MAIL008", severity=ERROR, article="6.1", clause=_DOMAIN_CLAUSE)
def mail_domain_claimable(ctx: ClientContext) -> Iterator[Violation]:
    """No client claims DAG's own domains or a public mail provider's as a mail domain.

    What it checks:
        No `mail.domains` entry is, or is under, one of DAG's own domains (`own_domains` of
        policies/dag.yaml, and the registrable domains of its `mail_hosts` and
        `backup_storages` host names, by the Public Suffix List) or a public mail provider's
        domain (`public_mail_domains` of policies/dag.yaml: gmail.com, `yahoo.*` for
        yahoo.<any public suffix>...), whatever the client's mail hosting.

        Accepted: the client's own domains. That the client owns a domain is not proved
        here: the validator works offline (no DNS, no OVH call, in CI and in tests). The proof
        is DAG's at onboarding, when it takes over the domain at OVH (Article 4: DAG buys the
        domain names from OVH) and publishes its MX, SPF and DKIM records; an online check
        (the domain's zone in DAG's OVH account, or its MX pointing at `mail_hosts`) would
        belong to the mail hosts' plan (`dagsync plan`, dagsync.reconcile.mail.resource),
        which already uses the network, and is not implemented. What holds offline: this
        list, and the mail renderer (dagsync.reconcile.mail.files) refusing these domains again and
        keeping each domain to one client.

    Why:
        Article 6.1: "Le domaine lié à l'email doit être hébergé sur un serveur DAG
        Technologies". A vhost alias is enough for MAIL001, so a client could declare
        gmail.com or DAG's own domain, then forward its addresses (support@, anyone@) out of
        DAG's shared mail servers: those domains are never a client's.

    Failing example (clients/alpine-books/client.yaml):
        mail:
          hosting: dedicated
          domains: [alpine-books.example, dagtechnologies.example]

    Passing example (clients/alpine-books/client.yaml):
        mail:
          hosting: dedicated
          domains: [alpine-books.example]

    Fix:
        Remove the domain: only the client's own domains are hosted on shared mail.
    """
    for index, domain in enumerate(ctx.client.mail.domains):
        why = reserved_domain(domain, ctx.dag)
        if why is not None:
            yield Violation(
                ctx.client_doc,
                (*_MAIL, "domains", index),
                f"{domain} cannot be a client's mail domain: {why} (policies/dag.yaml); remove it",
            )
