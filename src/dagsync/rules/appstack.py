"""Application stack rules (CGV Art. 4): the OS and its prerequisites, the vhosts, the
database users, as `dagsync apply` will reconcile them."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from dagsync.model.server import DbEngine, port_bounds
from dagsync.model.system import DAG_PACKAGES
from dagsync.rules.base import ERROR, WARNING, ClientContext, Violation, rule
from dagsync.rules.common import ask_for_request

_OS_UPGRADE = (
    "Montée en version de l'OS tant que les prérequis applicatifs du client ne sont pas "
    "impactés afin de garantir une sécurité maximale contre les failles systèmes"
)
_PREREQUISITES = "Installation / Mise à jour des prérequis applicatifs"
_VHOSTS = "Gestion des Vhosts et des logs systèmes associés"
_DB_RIGHTS = "Gestion des droits d'accès utilisateur sur ces base de données"

DEV_SPACE = "/srv/dev-space"  # == reconcile.backup.job.DEV_SPACE_PATH
DB_PORTS = {DbEngine.MARIADB: 3306, DbEngine.MYSQL: 3306, DbEngine.POSTGRESQL: 5432}
_ANYWHERE = re.compile(r"^(%|[%.]*%[%.]*|0\.0\.0\.0/0|::/0|%:%)$")


@rule(id="APP001", severity=ERROR, article="4", clause=_OS_UPGRADE)
def os_upgrade_requested(ctx: ClientContext) -> Iterator[Violation]:
    """A major upgrade of the OS is done only on the client's request.

    What it checks:
        A server whose `os` announces a major upgrade (`upgrade_from`, the version it runs
        now) cites the client's request in `os.request`.

        Accepted: no `upgrade_from` (the server stays on `version`); an upgrade with its
        request.

    Why:
        Article 4 upgrades the OS only while the client's application prerequisites are not
        affected: a major upgrade may affect them, so it happens when the client asks for it,
        and `dagsync apply` runs it only then.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        os: {name: debian, version: "13", upgrade_from: "12"}

    Passing example (clients/alpine-books/servers/shop1.yaml):
        os: {name: debian, version: "13", upgrade_from: "12", request: REQ-2025-001}

    Fix:
        Record the client's request and cite it in `os.request`, or remove `upgrade_from`.
    """
    for entry in ctx.servers:
        system = entry.model.os
        if system.upgrade_from is not None and system.request is None:
            yield Violation(
                entry.doc,
                ("os", "upgrade_from"),
                f"a major upgrade from {system.name} {system.upgrade_from} to {system.version} "
                "needs the client's request: " + ask_for_request(ctx, "os"),
                server=entry.name,
            )


@rule(id="APP002", severity=ERROR, article="4", clause=_PREREQUISITES)
def prerequisites_own(ctx: ClientContext) -> Iterator[Violation]:
    """Application prerequisites are the client's packages, each declared once.

    What it checks:
        Each `os.prerequisites[].package` appears once on its server and is not a package
        DAG's own services depend on (openssh-server, nftables, unattended-upgrades, libc6,
        openssl...).

        Accepted: any other Debian package, pinned or not.

    Why:
        A prerequisite is held (`apt-mark hold`): holding a package DAG's access, firewall or
        updates depend on would stop its security updates, which Article 4 promises.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        os:
          name: debian
          version: "12"
          prerequisites: [{package: openssh-server}]

    Passing example (clients/alpine-books/servers/shop1.yaml):
        os:
          name: debian
          version: "12"
          prerequisites: [{package: php8.2-fpm}]

    Fix:
        Remove the package from `prerequisites` (DAG keeps it updated), or remove the
        duplicate.
    """
    for entry in ctx.servers:
        seen: set[str] = set()
        for index, item in enumerate(entry.model.os.prerequisites):
            where = ("os", "prerequisites", index, "package")
            if item.package in DAG_PACKAGES:
                yield Violation(
                    entry.doc,
                    where,
                    f"`{item.package}` is a package DAG's services depend on: holding it would "
                    "stop its security updates; remove it from the prerequisites",
                    server=entry.name,
                )
            elif item.package in seen:
                yield Violation(
                    entry.doc,
                    where,
                    f"prerequisite `{item.package}` is declared twice on this server",
                    server=entry.name,
                )
            seen.add(item.package)


def canonical(name: str) -> str:
    """DNS names compare without case and without their final dot."""
    return name.lower().removesuffix(".")


@rule(id="APP003", severity=ERROR, article="4", clause=_VHOSTS)
def vhost_names_once(ctx: ClientContext) -> Iterator[Violation]:
    """A vhost name is declared once per server, case and final dot aside.

    What it checks:
        The domains and aliases of a server's vhosts, compared in lower case without a final
        dot, are all different.

        Accepted: any names that differ otherwise.

    Why:
        `www.example.com`, `WWW.example.com` and `www.example.com.` are one name: the web
        server would get two sites for it, and dagsync refuses to plan such a server.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        vhosts:
          - domain: www.alpine-books.example
          - domain: WWW.alpine-books.example.

    Passing example (clients/alpine-books/servers/shop1.yaml):
        vhosts:
          - domain: www.alpine-books.example
          - domain: shop.alpine-books.example

    Fix:
        Remove the second declaration, or merge its names into the first vhost.
    """
    for entry in ctx.servers:
        seen: dict[str, str] = {}
        for index, vhost in enumerate(entry.model.vhosts):
            names: list[tuple[tuple[str | int, ...], str]] = [(("domain",), vhost.domain)]
            names += [(("aliases", j), alias) for j, alias in enumerate(vhost.aliases)]
            for path, name in names:
                key = canonical(name)
                if key in seen:
                    yield Violation(
                        entry.doc,
                        ("vhosts", index, *path),
                        f"vhost name `{name}` is `{seen[key]}` again (names compare without "
                        "case and final dot): declare it once",
                        server=entry.name,
                    )
                else:
                    seen[key] = name


@rule(id="APP004", severity=ERROR, article="4", clause=_VHOSTS)
def document_root_not_dev_space(ctx: ClientContext) -> Iterator[Violation]:
    """A vhost does not serve the development space.

    What it checks:
        No `vhosts[].document_root` is `/srv/dev-space` or a folder inside it.

        Accepted: any other folder under /srv/ or /var/www/ (the model's limits).

    Why:
        The dev space holds the client's work in progress (code, configuration, dumps):
        served as a site, it would publish them, and it is not backed up as a site is.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        vhosts:
          - domain: www.alpine-books.example
            document_root: /srv/dev-space/shop

    Passing example (clients/alpine-books/servers/shop1.yaml):
        vhosts:
          - domain: www.alpine-books.example
            document_root: /srv/www/shop

    Fix:
        Serve a folder outside the dev space (deploy the site there).
    """
    for entry in ctx.servers:
        for index, vhost in enumerate(entry.model.vhosts):
            root = vhost.document_root
            if root is None:
                continue
            folder = posixpath.normpath(root)
            if folder == DEV_SPACE or folder.startswith(DEV_SPACE + "/"):
                yield Violation(
                    entry.doc,
                    ("vhosts", index, "document_root"),
                    f"{vhost.domain} would serve the dev space ({root}): serve a folder "
                    f"outside {DEV_SPACE}",
                    server=entry.name,
                )


@rule(id="APP005", severity=WARNING, article="4", clause=_DB_RIGHTS)
def db_user_sources(ctx: ClientContext) -> Iterator[Violation]:
    """A database user connects from declared places, not from anywhere.

    What it checks:
        No `databases[].users[].hosts` entry matches every address (`%`, `%.%`, `0.0.0.0/0`,
        `::/0`). The finding names the sources the firewall opens the database's port to.

        Accepted: `localhost`, host names, addresses and CIDR blocks.

    Why:
        `%` lets the user log in from any address the firewall lets through, today or after
        a later firewall change: the user's access rights should name the sources the
        firewall declares.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        databases:
          - engine: mariadb
            name: shop
            users:
              - {name: shop_rw, privileges: read_write, hosts: ["%"]}

    Passing example (clients/alpine-books/servers/shop1.yaml):
        databases:
          - engine: mariadb
            name: shop
            users:
              - {name: shop_rw, privileges: read_write, hosts: [localhost]}

    Fix:
        List the addresses or CIDR blocks the application connects from (those the firewall
        opens the port to).
    """
    for entry in ctx.servers:
        server = entry.model
        for i, database in enumerate(server.databases):
            port = DB_PORTS.get(database.engine)
            sources = [
                str(s)
                for opening in server.firewall.open_ports
                if port is not None and _covers(opening.port, port)
                for s in opening.sources
            ]
            opened = (
                f"the firewall opens port {port} to {', '.join(sources)}"
                if sources
                else f"the firewall opens no port {port}"
            )
            for j, user in enumerate(database.users):
                for k, host in enumerate(user.hosts):
                    if _ANYWHERE.fullmatch(host):
                        yield Violation(
                            entry.doc,
                            ("databases", i, "users", j, "hosts", k),
                            f"database user {user.name} may connect from anywhere (`{host}`); "
                            f"{opened}: list the sources it connects from",
                            server=entry.name,
                        )


def _covers(opening: int | str, port: int) -> bool:
    low, high = port_bounds(opening)
    return low <= port <= high
