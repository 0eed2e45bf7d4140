"""The SQL renderer for MariaDB: identifiers and account names quoted by construction.

A statement never takes a value by string formatting alone: a database name becomes a
back-quoted identifier, a user or host a single-quoted literal, each after a strict syntax
check (the model's, checked again here).  Literals refuse `\\` and `'` outright rather than
escaping them, since their meaning depends on the session's `sql_mode`.  Passwords never
pass through here: they are generated on the server and read by the shell into the script
(hex digits only).
"""

from __future__ import annotations

import ipaddress
import re

from dagsync.model.server import system_schema_problem
from dagsync.reconcile.shell import UnsafeValue

_DB = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_USER = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,31}$")
_HOST = re.compile(r"^[A-Za-z0-9.:%_/-]{1,255}$")

PRIVILEGES: dict[str, tuple[str, ...]] = {
    "read_only": ("SELECT",),
    "read_write": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    # what `ALL PRIVILEGES ON db.*` gives in MariaDB 10.11, as information_schema lists it
    "all": (
        "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX",
        "ALTER", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE VIEW",
        "SHOW VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "EVENT", "TRIGGER", "DELETE HISTORY",
    ),
}  # fmt: skip


def database(name: str) -> str:
    if not _DB.fullmatch(name):
        raise UnsafeValue(f"{name[:70]!r} is not a database name")
    problem = system_schema_problem(name)  # the validator refuses it too (defence in depth)
    if problem is not None:
        raise UnsafeValue(problem)
    return f"`{name}`"


def user(name: str) -> str:
    if not _USER.fullmatch(name):
        raise UnsafeValue(f"{name[:70]!r} is not a database user name")
    return name


def host(name: str) -> str:
    if not _HOST.fullmatch(name):
        raise UnsafeValue(f"{name[:70]!r} is not a database host")
    return name


def mariadb_host(value: str) -> str:
    """A declared host as MariaDB spells it: an IPv4 network in CIDR form becomes
    `address/netmask` (MariaDB 10.11 has no prefix lengths); an IPv6 network is refused."""
    if "/" not in value:
        return host(value)
    try:
        net = ipaddress.ip_network(value)
    except ValueError:
        raise UnsafeValue(f"{value[:70]!r} is not a network") from None
    if net.version != 4:
        raise UnsafeValue(f"{value[:70]!r}: MariaDB takes no IPv6 network, only addresses")
    return host(f"{net.network_address}/{net.netmask}")


def account(name: str, where: str) -> str:
    """`'user'@'host'`, each part checked (neither can hold a quote or a backslash)."""
    return f"'{user(name)}'@'{host(where)}'"


def grant(privilege: str, db: str, name: str, where: str) -> str:
    if privilege not in PRIVILEGES:
        raise UnsafeValue(f"{privilege!r} is not a privilege level")
    what = "ALL PRIVILEGES" if privilege == "all" else ", ".join(PRIVILEGES[privilege])
    return f"GRANT {what} ON {database(db)}.* TO {account(name, where)};"


def revoke_all(db: str, name: str, where: str) -> str:
    return f"REVOKE ALL PRIVILEGES ON {database(db)}.* FROM {account(name, where)};"
