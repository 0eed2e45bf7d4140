"""MariaDB databases, users and grants, exactly as declared (CGV Art. 4, « Infogérance serveur
de Base de données »: création des bases, droits d'accès des utilisateurs).

For each declared MariaDB (or MySQL) database of a server: the database exists; each user
exists once per declared host (`'user'@'host'`) with exactly the declared privilege level on
its own databases and nothing on any other.  The read asks the running server (as root,
over its socket) for databases, accounts and schema privileges, and reads the list of the
accounts dagsync created (`/var/lib/dagsync/mariadb-accounts`): an account not in it was not
created by dagsync and is reported, never touched.  An account dagsync created that is no
longer declared is locked, and dropped only with --allow-destroy; databases are never
dropped.  A server whose socket is absent is not read: nothing is proposed, a note says why.

Passwords are generated on the server (`openssl rand -hex 24`), kept in
`/etc/dagsync/db/mariadb-<user>.pw` (root only, one per user name), passed to MariaDB on
standard input, and copied by the apply into the escrow outside git (like borg
passphrases); no plan, note, outcome or log holds one.  PostgreSQL: not managed yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.reconcile.appstack import sql
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Unknown
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Outcome,
    ServerInputs,
    Status,
)
from dagsync.reconcile.shell import UnsafeValue, q

KIND = "databases"
ENGINES = ("mariadb", "mysql")
SOCKET = "/run/mysqld/mysqld.sock"
MANAGED = "/var/lib/dagsync/mariadb-accounts"
SECRETS = "/etc/dagsync/db"
SYSTEM_USERS = frozenset({"root", "mysql", "mariadb.sys", "debian-sys-maint", "PUBLIC"})
_GRANTEE = re.compile(r"^'([^']*)'@'([^']*)'$")


@dataclass(frozen=True)
class Account:
    user: str
    host: str
    grants: tuple[tuple[str, str], ...]  # (database, privilege level), sorted


@dataclass(frozen=True)
class DbDesired:
    databases: tuple[str, ...]
    accounts: tuple[Account, ...]


@dataclass(frozen=True)
class DbObserved:
    installed: bool
    running: bool
    databases: frozenset[str] = frozenset()
    accounts: frozenset[tuple[str, str, bool]] = frozenset()  # user, host, locked
    grants: frozenset[tuple[str, str, str, str]] = frozenset()  # user, host, db, privilege
    managed: frozenset[tuple[str, str]] = frozenset()

    def account(self, user: str, host: str) -> tuple[str, str, bool] | None:
        return next((a for a in self.accounts if a[:2] == (user, host)), None)

    def privileges(self, user: str, host: str) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for u, h, db, privilege in self.grants:
            if (u, h) == (user, host):
                out.setdefault(db, set()).add(privilege)
        return {db: frozenset(p) for db, p in out.items()}


# --- desired -------------------------------------------------------------------------------


def desired(inputs: ServerInputs) -> tuple[DbDesired, tuple[Note, ...]]:
    notes = []
    names: list[str] = []
    grants: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for db in inputs.server.databases:
        if db.engine.value not in ENGINES:
            notes.append(Note(KIND, f"database {db.name} ({db.engine.value}): not managed yet"))
            continue
        names.append(sql.database(db.name).strip("`"))
        for user in db.users:
            for host in user.hosts:
                key = (sql.user(user.name), sql.mariadb_host(host))
                grants.setdefault(key, set()).add((db.name, user.privileges.value))
    accounts = tuple(Account(u, h, tuple(sorted(g))) for (u, h), g in sorted(grants.items()))
    return DbDesired(tuple(dict.fromkeys(names)), accounts), tuple(notes)


# --- read ----------------------------------------------------------------------------------

_QUERY = """SELECT "db", schema_name FROM information_schema.schemata;
SELECT "account", user, host,
  IF(JSON_VALUE(priv, "$.account_locked") IN ("1", "true"), "locked", "open") FROM mysql.global_priv;
SELECT "grant", grantee, table_schema, privilege_type FROM information_schema.schema_privileges;
"""


def read(desired: DbDesired | None) -> str:
    """The same script for every server: nothing is asked of a server that is not running."""
    return f"""if ! command -v mariadb >/dev/null 2>&1; then echo 'client no'; exit 0; fi
echo 'client yes'
if [ ! -S {SOCKET} ]; then echo 'server down'; exit 0; fi
echo 'server up'
if [ -f {MANAGED} ]; then sed 's/^/managed\\t/' {MANAGED} || exit 3; fi
mariadb --batch --skip-column-names <<'DAGSYNC_SQL' || exit 3
{_QUERY}DAGSYNC_SQL
"""


def _row(fields: list[str], seen: dict[str, set[Any]]) -> bool:
    tag = fields[0]
    if tag == "db" and len(fields) == 2:
        seen["db"].add(fields[1])
    elif tag == "managed" and len(fields) == 3:
        seen["managed"].add((fields[1], fields[2]))
    elif tag == "account" and len(fields) == 4 and fields[3] in ("locked", "open"):
        seen["account"].add((fields[1], fields[2], fields[3] == "locked"))
    elif tag == "grant" and len(fields) == 4 and (m := _GRANTEE.fullmatch(fields[1])):
        seen["grant"].add((m.group(1), m.group(2), fields[2], fields[3]))
    else:
        return False
    return True


def parse(result: CommandResult) -> DbObserved | Unknown:
    if not result.ok:
        why = result.stderr.strip()[:200]
        return Unknown(f"reading MariaDB failed ({result.exit_code}): {why}")
    lines = result.stdout.split("\n")
    if lines[0] == "client no":
        return DbObserved(False, False)
    if lines[0] != "client yes" or len(lines) < 2 or lines[1] not in ("server up", "server down"):
        return Unknown(f"unexpected output: {result.stdout[:80]!r}")
    if lines[1] == "server down":
        return DbObserved(True, False)
    seen: dict[str, set[Any]] = {k: set() for k in ("db", "managed", "account", "grant")}
    for line in lines[2:]:
        if line and not _row(line.split("\t"), seen):
            return Unknown(f"unexpected line {line[:80]!r}")
    return DbObserved(
        True,
        True,
        frozenset(seen["db"]),
        frozenset(seen["account"]),
        frozenset(seen["grant"]),
        frozenset(seen["managed"]),
    )


def encode(observed: DbObserved) -> Any:
    return {
        "installed": observed.installed,
        "running": observed.running,
        "databases": sorted(observed.databases),
        "accounts": sorted(list(a) for a in observed.accounts),
        "grants": sorted(list(g) for g in observed.grants),
        "managed": sorted(list(m) for m in observed.managed),
    }


# --- diff ----------------------------------------------------------------------------------


def _wanted(account: Account) -> dict[str, frozenset[str]]:
    return {db: frozenset(sql.PRIVILEGES[level]) for db, level in account.grants}


def _grant_change(account: Account, observed: DbObserved, locked: bool) -> Change | None:
    have, want = observed.privileges(account.user, account.host), _wanted(account)
    differ = sorted(db for db in have.keys() | want.keys() if have.get(db) != want.get(db))
    if not differ and not locked:
        return None
    details = [Detail("-", f"{db}: {', '.join(sorted(have[db]))}") for db in differ if db in have]
    details += [Detail("+", f"{db}: {level}") for db, level in account.grants if db in differ]
    if locked:
        details.append(Detail("+", "unlock (declared again)"))
    payload = {
        "op": "grants",
        "user": account.user,
        "host": account.host,
        "revoke": [db for db in differ if db in have],
        "grants": [[db, level] for db, level in account.grants if db in differ],
        "unlock": locked,
    }
    name = f"{account.user}@{account.host}"
    return Change(KIND, Action.UPDATE, name, f"set the grants of {name}", tuple(details), payload)


def _accounts(desired: DbDesired, observed: DbObserved) -> list[Change | Note]:
    out: list[Change | Note] = []
    for account in desired.accounts:
        name = f"{account.user}@{account.host}"
        have = observed.account(account.user, account.host)
        if have is None:
            details = tuple(Detail("+", f"{db}: {level}") for db, level in account.grants)
            payload = {"op": "create-user", "user": account.user, "host": account.host,
                       "grants": [list(g) for g in account.grants]}  # fmt: skip
            out.append(Change(KIND, Action.CREATE, name, f"create user {name}", details, payload))
        elif (account.user, account.host) not in observed.managed:
            out.append(Note(KIND, f"user {name} exists and was not created by dagsync: left alone"))
        elif (change := _grant_change(account, observed, have[2])) is not None:
            out.append(change)
    return out


def _leftovers(
    desired: DbDesired, observed: DbObserved, options: DiffOptions
) -> list[Change | Note]:
    wanted = {(a.user, a.host) for a in desired.accounts}
    out: list[Change | Note] = []
    for user, host, locked in sorted(observed.accounts):
        name = f"{user}@{host}"
        if (user, host) in wanted or user in SYSTEM_USERS:
            continue
        if (user, host) not in observed.managed:
            out.append(Note(KIND, f"user {name} was not created by dagsync: left alone"))
            continue
        payload = {"user": user, "host": host}
        if options.allow_destroy:
            out.append(Change(KIND, Action.DELETE, name, f"drop user {name} (no longer declared)",
                              (), {"op": "drop-user", **payload}))  # fmt: skip
        elif not locked:
            summary = f"lock user {name} (no longer declared; --allow-destroy drops it)"
            out.append(Change(KIND, Action.LOCK, name, summary, (), {"op": "lock-user", **payload}))
    return out


def diff(desired: DbDesired, observed: DbObserved, options: DiffOptions) -> list[Change | Note]:
    if not observed.installed or not observed.running:
        if desired.databases:
            what = "installed" if not observed.installed else "running"
            return [Note(KIND, f"MariaDB is not {what}: {len(desired.databases)} database(s) "
                               "cannot be read or created")]  # fmt: skip
        return []
    out: list[Change | Note] = [
        Change(KIND, Action.CREATE, db, f"create database {db}", (), {"op": "database", "name": db})
        for db in desired.databases
        if db not in observed.databases
    ]
    return out + _accounts(desired, observed) + _leftovers(desired, observed, options)


# --- apply ---------------------------------------------------------------------------------


def secret_file(user: str) -> str:
    return f"{SECRETS}/mariadb-{sql.user(user)}.pw"


def _sql(statements: Sequence[str]) -> str:
    """Statements fed to `mariadb` on its standard input (each a single shell word here)."""
    words = " ".join(q(s) for s in statements)
    return f"printf '%s\\n' {words} | mariadb --batch || exit 3"


def create_user_script(user: str, host: str, grants: Sequence[Sequence[str]]) -> str:
    account = sql.account(user, host)
    secret = secret_file(user)
    statements = [sql.grant(level, db, user, host) for db, level in grants]
    record = f"{sql.user(user)}\t{sql.host(host)}"
    return f"""set -u
umask 077
mkdir -p {SECRETS} /var/lib/dagsync && chmod 0700 {SECRETS} || exit 3
if [ ! -s {secret} ]; then
  openssl rand -hex 24 > {secret}.tmp && mv -f {secret}.tmp {secret} || exit 3
fi
pw=$(cat {secret}) || exit 3
case "$pw" in ''|*[!0-9a-f]*) echo 'dagsync: the password file is not hex digits' >&2; exit 3;; esac
grep -qxF {q(record)} {MANAGED} 2>/dev/null || printf '%s\\n' {q(record)} >> {MANAGED} || exit 3
printf {q("CREATE USER %s IDENTIFIED BY '%s';" + chr(92) + "n")} {q(account)} "$pw" | mariadb --batch || exit 3
{_sql(statements) if statements else ":"}
"""


def _script(change: Change) -> str:
    p = change.payload
    op, user, host = p["op"], str(p.get("user", "")), str(p.get("host", ""))
    if op == "database":
        name = sql.database(str(p["name"]))
        return _sql([f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4;"])
    if op == "create-user":
        return create_user_script(user, host, p["grants"])
    if op == "grants":
        statements = [sql.revoke_all(str(db), user, host) for db in p["revoke"]]
        statements += [sql.grant(str(level), str(db), user, host) for db, level in p["grants"]]
        if p.get("unlock"):
            statements.append(f"ALTER USER {sql.account(user, host)} ACCOUNT UNLOCK;")
        return _sql(statements)
    if op == "lock-user":
        return _sql([f"ALTER USER {sql.account(user, host)} ACCOUNT LOCK;"])
    if op == "drop-user":
        return _sql([f"DROP USER {sql.account(user, host)};"])
    raise UnsafeValue(f"unknown database operation {str(op)[:40]!r}")


def _escrow(executor: Executor, options: ApplyOptions, users: Sequence[str]) -> str:
    """Copy the passwords of `users` into the escrow; an error message or ""."""
    # lazy: importing it here keeps dagsync.model, dagsync.reconcile out of this module's load
    from dagsync.reconcile import escrow

    where = options.escrow
    if where is None or not where.supported:
        return "no escrow to copy the password to: set passphrase_escrow"
    passwords = {}
    for user in sorted(set(users)):
        result = executor.run(f"cat {secret_file(user)}")
        value = result.stdout.strip()
        if not result.ok or not re.fullmatch(r"[0-9a-f]{48}", value):
            return f"the password of {user} could not be read back for the escrow"
        passwords[user] = value
    try:
        escrow.write_secrets(where, executor.target.key, "mariadb", passwords)
    except escrow.EscrowError as exc:
        return str(exc)
    return ""


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    creates = [c for c in changes if c.payload.get("op") == "create-user"]
    if creates and (options.escrow is None or not options.escrow.supported):
        why = "no escrow for the generated passwords (passphrase_escrow): no user created"
        return [Outcome(c, Status.FAILED if c in creates else Status.SKIPPED, why) for c in changes]
    outcomes = []
    for change in changes:
        result = executor.run(_script(change))
        why = "" if result.ok else (result.stderr.strip()[-400:] or f"exit code {result.exit_code}")
        why = re.sub(r"[0-9a-f]{40,}", "[redacted]", why)  # never a password, even in an error
        outcomes.append(Outcome(change, Status.APPLIED if result.ok else Status.FAILED, why))
    created = [
        str(o.change.payload["user"])
        for o in outcomes
        if o.change in creates and o.status is Status.APPLIED
    ]
    if created and (problem := _escrow(executor, options, created)):
        outcomes = [
            Outcome(o.change, Status.FAILED, problem) if o.change in creates else o
            for o in outcomes
        ]
    return outcomes
