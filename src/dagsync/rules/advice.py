"""Advice (CGV Art. 6.1, warnings): production apart from development, one dev space, sized."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.client import DevSpace
from dagsync.model.server import Role
from dagsync.rules.base import WARNING, ClientContext, ServerEntry, Violation, rule

EXTERNAL = "external"  # `dev_space.location` of a dev space hosted outside the client's servers
_DEV_LABELS = frozenset(
    {
        "dev",
        "devel",
        "develop",
        "development",
        "staging",
        "stage",
        "preprod",
        "recette",
        "test",
        "testing",
        "qa",
        "uat",
        "sandbox",
        "beta",
    }
)


def _dev_named(domain: str) -> bool:
    first = domain.split(".", 1)[0].lower()
    parts = first.split("-")
    return first in _DEV_LABELS or parts[0] in _DEV_LABELS or parts[-1] in _DEV_LABELS


def _dev_space(ctx: ClientContext) -> DevSpace | None:
    dev = ctx.client.dev_space
    return dev if dev is not None and dev.enabled else None


@rule(id="ADV001", severity=WARNING, article="6.1", terms=("separate_production_and_development",))
def production_apart(ctx: ClientContext) -> Iterator[Violation]:
    """Production and development do not coexist on one server.

    What it checks:
        A server with `role: production` neither hosts the dev space (`hosts_dev_space`) nor
        serves a development site: a vhost whose first label is, or starts or ends with,
        `dev`, `staging`, `preprod`, `recette`, `test`, `qa`, `uat`, `sandbox` or `beta`
        (`staging.shop.example`, `shop-dev.example`).

        Accepted: development and staging sites on development servers or in the dev space;
        production sites with any other name.

    Why:
        Article 6.1 advises "De ne pas faire coexister une version de production et une
        version de développement sur le même serveur": a test that exhausts memory or a
        debug setting takes the live site with it.

    Failing example (clients/cime-conseil/servers/prod1.yaml):
        vhosts:
          - domain: portail.cime-conseil.example
            tls: {issuer: letsencrypt}
          - domain: staging.cime-conseil.example
            tls: {issuer: letsencrypt}

    Passing example (clients/cime-conseil/servers/prod1.yaml):
        vhosts:
          - domain: portail.cime-conseil.example
            tls: {issuer: letsencrypt}

    Fix:
        Move the development site to the dev space or a development server.
    """
    if not ctx.policy.separate_production_and_development.value:
        return
    for entry in ctx.servers:
        if entry.model.role is not Role.PRODUCTION:
            continue
        if entry.model.hosts_dev_space:
            yield Violation(
                entry.doc,
                ("hosts_dev_space",),
                f"production server {entry.name} also hosts the dev space: the CGV advises "
                "keeping development off production servers",
                server=entry.name,
            )
        for index, vhost in enumerate(entry.model.vhosts):
            if _dev_named(vhost.domain):
                yield Violation(
                    entry.doc,
                    ("vhosts", index, "domain"),
                    f"{vhost.domain} looks like a development site on production server "
                    f"{entry.name}: the CGV advises keeping development off production servers",
                    server=entry.name,
                )


@rule(id="ADV002", severity=WARNING, article="6.1", terms=("dev_spaces_per_contract",))
def one_dev_space(ctx: ClientContext) -> Iterator[Violation]:
    """One dev space per contract.

    What it checks:
        The contract's dev spaces (an `external` one if `dev_space.location` says so, plus
        every server with `hosts_dev_space: true`) number at most `dev_spaces_per_contract`
        of the CGV version. The findings are on the servers beyond that number, the server
        `dev_space.location` names counting first.

        Accepted: one dev space (external, or on one server); none.

    Why:
        Article 6.1: "Tout contrat d'infogérance inclus UN espace de développement
        externalisé"; another one is not part of the contract.

    Failing example (clients/cime-conseil/client.yaml):
        dev_space:
          location: external

    Passing example (clients/cime-conseil/client.yaml):
        dev_space:
          location: dev1

    Fix:
        Keep one dev space, or quote the extra one to the client separately.
    """
    dev = _dev_space(ctx)
    location = dev.location if dev is not None else None
    limit = ctx.policy.dev_spaces_per_contract.value
    hosting = sorted(
        (e for e in ctx.servers if e.model.hosts_dev_space), key=lambda e: e.name != location
    )
    external = [EXTERNAL] if location == EXTERNAL else []
    spaces = external + [e.name for e in hosting]
    for entry in hosting[max(limit - len(external), 0) :]:
        others = ", ".join(s for s in spaces if s != entry.name)
        yield Violation(
            entry.doc,
            ("hosts_dev_space",),
            f"{entry.name} hosts another dev space (besides {others}); the contract includes "
            f"{limit}",
            server=entry.name,
        )


def _hosting(ctx: ClientContext, name: str) -> ServerEntry | None:
    return next((e for e in ctx.servers if e.name == name), None)


@rule(id="ADV003", severity=WARNING, article="6.1", terms=("dev_spaces_per_contract",))
def dev_space_location(ctx: ClientContext) -> Iterator[Violation]:
    """The dev space is where the client file says.

    What it checks:
        When `dev_space.location` is not `external`, it names a server of the client that
        declares `hosts_dev_space: true`.

        Accepted: `external`, or a server of the client with `hosts_dev_space: true`.

    Why:
        Article 6.1 includes one dev space; the configuration must say where it is so that it
        is sized, kept out of backups (BKP005) and out of production (ADV001).

    Failing example (clients/cime-conseil/client.yaml):
        dev_space:
          location: dev2

    Passing example (clients/cime-conseil/client.yaml):
        dev_space:
          location: dev1

    Fix:
        Name the server that hosts it (and set `hosts_dev_space: true` there), or `external`.
    """
    dev = _dev_space(ctx)
    if dev is None or dev.location in (EXTERNAL, *ctx.unreadable_servers):
        return
    entry = _hosting(ctx, dev.location)
    if entry is None or not entry.model.hosts_dev_space:
        problem = (
            "is not a server of the client"
            if entry is None
            else ("does not declare `hosts_dev_space: true`")
        )
        yield Violation(
            ctx.client_doc,
            ("dev_space", "location"),
            f"the dev space is on `{dev.location}`, which {problem}: name the server hosting "
            f"it, or `{EXTERNAL}`",
        )


@rule(id="ADV004", severity=WARNING, article="6.1", terms=("dev_spaces_per_contract",))
def dev_space_size(ctx: ClientContext) -> Iterator[Violation]:
    """The dev space is sized as production plus its archive.

    What it checks:
        `dev_space.size_gb` is at least `production_size_gb + archive_gb`.

        Accepted: any size at least production plus archive.

    Why:
        Article 6.1: the dev space corresponds "à la taille du site de production qui est à
        versionner, augmenté de l'espace suffisant pour l'archiver".

    Failing example (clients/cime-conseil/client.yaml):
        dev_space:
          size_gb: 60

    Passing example (clients/cime-conseil/client.yaml):
        dev_space:
          size_gb: 80

    Fix:
        Grow the dev space to production plus archive.
    """
    dev = _dev_space(ctx)
    if dev is None:
        return
    needed = dev.production_size_gb + dev.archive_gb
    if dev.size_gb < needed:
        yield Violation(
            ctx.client_doc,
            ("dev_space", "size_gb"),
            f"the dev space has {dev.size_gb} GB; production ({dev.production_size_gb} GB) plus "
            f"its archive ({dev.archive_gb} GB) need {needed} GB",
        )
