"""The nginx renderer: one file per vhost, every value quoted for nginx's configuration language.

nginx reads a quoted string with `\\` escapes, but still expands `$name` variables inside it
(in `root`, `access_log` and the like), and reads a `server_name` beginning with `~` as a
regular expression.  So a value reaches a file only as `"..."` with `\\` and `"` escaped,
and a value holding `$`, a control character, or (for a server name) anything but a DNS name
is refused (`UnsafeValue`) before anything is rendered.  The model already refuses all of
these; the renderer checks again, on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dagsync.model.base import SAFE_PATH_PATTERN
from dagsync.reconcile.shell import UnsafeValue

HEADER = "# managed by dagsync: do not edit, changes are overwritten (see the client's YAML)"
CONF_DIR = "/etc/nginx/conf.d"
LOG_DIR = "/var/log/nginx"
TLS_DIR = "/etc/dagsync/tls"
ACME_WEBROOT = "/var/lib/dagsync/acme"
DOCUMENT_ROOTS = ("/srv/", "/var/www/")  # a vhost serves nothing outside these
_SERVER_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
)
_SAFE_PATH = re.compile(SAFE_PATH_PATTERN)


def string(value: str) -> str:
    """`value` as one nginx string: double-quoted, `\\` and `"` escaped; a `$` (a variable
    nginx would expand) or a control character is refused."""
    bad = next((c for c in value if not c.isprintable() or c == "$"), None)
    if bad is not None:
        raise UnsafeValue(f"{value[:60]!r} cannot be written to nginx: it holds {bad!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def server_name(value: str) -> str:
    """A DNS name in lower case without its final dot; anything else (a `~` regular
    expression, a `*` wildcard, a space...) is refused."""
    name = value.lower().removesuffix(".")
    if not _SERVER_NAME.fullmatch(name):
        raise UnsafeValue(f"{value[:60]!r} is not a DNS name nginx may serve")
    return name


def path(value: str, *, under: Sequence[str] = ()) -> str:
    """An absolute, normalised path of the safe character set, inside one of `under`."""
    if not _SAFE_PATH.fullmatch(value) or len(value) > 1024:
        raise UnsafeValue(f"{value[:60]!r} is not an absolute, normalised, safe path")
    if under and not any(value.startswith(prefix) for prefix in under):
        raise UnsafeValue(f"{value[:60]!r} is outside {', '.join(under)}")
    return value


@dataclass(frozen=True)
class Site:
    """One vhost as nginx serves it (every field already checked by the functions above)."""

    names: tuple[str, ...]  # the first one is the vhost's domain
    document_root: str
    tls: bool

    @property
    def domain(self) -> str:
        return self.names[0]

    @property
    def file_name(self) -> str:
        return f"dagsync-{self.domain}.conf"

    @property
    def certificate(self) -> str:
        return f"{TLS_DIR}/{self.domain}/fullchain.pem"

    @property
    def key(self) -> str:
        return f"{TLS_DIR}/{self.domain}/privkey.pem"


def site(domain: str, aliases: Sequence[str], document_root: str | None, tls: bool) -> Site:
    names = tuple(dict.fromkeys(server_name(n) for n in (domain, *aliases)))
    root = path(document_root or f"/var/www/{names[0]}", under=DOCUMENT_ROOTS)
    return Site(names, root, tls)


def _logs(site: Site) -> list[str]:
    return [
        f"    access_log {string(f'{LOG_DIR}/{site.domain}.access.log')};",
        f"    error_log {string(f'{LOG_DIR}/{site.domain}.error.log')};",
    ]


def _head(site: Site, listen: str) -> list[str]:
    return [
        "server {",
        f"    listen {listen};",
        f"    listen [::]:{listen};",
        "    server_name " + " ".join(string(n) for n in site.names) + ";",
        *_logs(site),
    ]


def _acme() -> list[str]:
    return [
        "    location ^~ /.well-known/acme-challenge/ {",
        f"        root {string(ACME_WEBROOT)};",
        '        default_type "text/plain";',
        "    }",
    ]


def render(site: Site, origin: str) -> str:
    """The whole file of one vhost; `origin` (the target, e.g. `client/server`) goes into a
    comment after the header."""
    comment = "# " + string(origin)[1:-1]
    out = [HEADER, comment]
    if site.tls:
        out += _head(site, "80") + _acme()
        out += ["    location / {", "        return 301 https://$host$request_uri;", "    }", "}"]
        out += _head(site, "443 ssl")
        out += [
            f"    ssl_certificate {string(site.certificate)};",
            f"    ssl_certificate_key {string(site.key)};",
            f"    root {string(site.document_root)};",
            "}",
        ]
    else:
        out += _head(site, "80") + _acme()
        out += [f"    root {string(site.document_root)};", "}"]
    return "\n".join(out) + "\n"
