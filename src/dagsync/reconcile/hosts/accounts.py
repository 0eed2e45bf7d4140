"""SSH and SFTP accounts with their authorized keys.

dagsync manages the users in the group `dagsync-managed` and no others.  A declared user is
created (or adopted, if it exists and is not a system account), gets its shell and its keys;
SFTP users get `/usr/sbin/nologin` and keys restricted to `internal-sftp`.  A managed user
that is no longer declared is locked (password locked, account expired, keys removed), and
deleted with its home folder only with `--allow-destroy`.  Accounts are key-only: unlocking
sets the password field to `*` (no password, not locked).  FTP accounts are not handled here.

The resource (desired, read, parse, diff, apply) is here; the script the read runs on the
host is in `dagsync.reconcile.hosts.accounts_read`, the commands of each change in
`dagsync.reconcile.hosts.accounts_apply`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.model.base import USER_NAME_PATTERN
from dagsync.model.reserved import RESERVED_ACCOUNT_NAMES
from dagsync.model.server import AccountKind
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Unknown
from dagsync.reconcile.hosts.accounts_apply import GROUP, apply_one
from dagsync.reconcile.hosts.accounts_read import (
    KEYS_CAP,
    KEYS_READER,
    LISTING,
    OBSERVED_KEY,
    OBSERVED_KEY_PATTERN,
    PRIVILEGED_GROUPS,
    READ_TIMEOUT,
    REFUSALS,
)
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Outcome,
    ServerInputs,
)
from dagsync.reconcile.shell import UnsafeValue, key_line, q

KIND = "accounts"
SHELLS = {AccountKind.SSH: "/bin/bash", AccountKind.SFTP: "/usr/sbin/nologin"}
SFTP_OPTIONS = 'restrict,command="internal-sftp"'
FIRST_USER_UID = 1000


@dataclass(frozen=True)
class AccountSpec:
    name: str
    kind: str
    shell: str
    keys: tuple[str, ...]
    comment: str
    # Why the account exists, for people (never sent to the host): its holder and the
    # client's request that asked for it; a created or updated account shows it in plans.
    why: str = ""


@dataclass(frozen=True)
class ObservedUser:
    name: str
    uid: int
    managed: bool
    shell: str
    home: str
    locked: bool  # password locked or an expiry date set
    keys: tuple[str, ...]
    junk: int = 0  # lines of the keys file that are not key lines (never shown: counted)
    refused: str | None = None  # why its keys file is not read (a link, not its own...)
    privileged: str | None = None  # why it counts as privileged (sudo group, sudoers...)


@dataclass(frozen=True)
class AccountsObserved:
    users: tuple[ObservedUser, ...]

    def get(self, name: str) -> ObservedUser | None:
        return next((u for u in self.users if u.name == name), None)


# --- desired -------------------------------------------------------------------------------


def _key_line(kind: AccountKind, key: str) -> str:
    line = key_line(key)  # UnsafeValue unless one key line: fails this server only
    return f"{SFTP_OPTIONS} {line}" if kind == AccountKind.SFTP else line


def _gecos(owner: str) -> str:
    return "".join(" " if c in ":,\n\r" or not c.isprintable() else c for c in owner)[:200]


_USER_NAME = re.compile(USER_NAME_PATTERN)


def desired(inputs: ServerInputs) -> tuple[tuple[AccountSpec, ...], tuple[Note, ...]]:
    specs: list[AccountSpec] = []
    notes: list[Note] = []
    for account in inputs.server.accounts:
        if _USER_NAME.fullmatch(account.name) is None:  # e.g. "-o...": an option of useradd
            raise UnsafeValue(f"{account.name!r} is not a user name")
        if account.kind == AccountKind.FTP:
            notes.append(Note(KIND, f"FTP account {account.name} is not managed over SSH"))
            continue
        for key in account.keys:
            if " ".join(key.split()[:2]) in inputs.dag_keys:  # ACC008, checked again here
                raise UnsafeValue(f"a key of {account.name} is one of DAG's keys")
        keys = tuple(_key_line(account.kind, k) for k in account.keys)
        specs.append(
            AccountSpec(
                account.name,
                str(account.kind),
                SHELLS[account.kind],
                keys,
                _gecos(f"dagsync: {account.owner}"),
                inputs.because(f"{account.kind} account of {account.owner}", account.request),
            )
        )
    return tuple(specs), tuple(notes)


# --- read ----------------------------------------------------------------------------------


def read(desired: Sequence[AccountSpec]) -> str:
    """The local account files (dagsync creates its users with useradd, so they live there),
    read by one awk as root: of the password field only the first character leaves the host
    (`!`: locked), never a hash.  Each user's keys file is read as that user, never through a
    link, at most `KEYS_CAP` bytes within `READ_TIMEOUT` seconds, and only its lines that parse
    as key lines are printed.  The read is safe for the observer key (`resources.observer`),
    whatever names it is asked about."""
    names = " ".join(s.name for s in desired)
    privileged = "".join(f'priv["{g}"] = 1; ' for g in PRIVILEGED_GROUPS)
    listing = "BEGIN { " + privileged + "}\n" + LISTING.strip()
    return (
        f"CAP={KEYS_CAP} TIMEOUT={READ_TIMEOUT} KEYRE={q(OBSERVED_KEY_PATTERN)}\n"
        + KEYS_READER.lstrip()
        + "find -P /etc/sudoers /etc/sudoers.d -maxdepth 1 -type f -exec cat -- {} + 2>/dev/null"
        f" | LC_ALL=C awk -F: -v group={GROUP} -v names={q(names)} {q(listing)}"
        " - /etc/group /etc/passwd /etc/shadow"
        " | while IFS= read -r line; do\n"
        "  case $line in\n"
        '    "home\t"*) IFS="\t"; set -- $line; unset IFS; keys "$@" ;;\n'
        '    *) printf "%s\\n" "$line" ;;\n'
        "  esac\n"
        "done\n"
    )


def parse(result: CommandResult) -> AccountsObserved | Unknown:
    if not result.ok:
        return Unknown(f"reading users failed ({result.exit_code}): {result.stderr.strip()}")
    members: set[str] = set()
    users: dict[str, dict[str, Any]] = {}
    locked: dict[str, bool] = {}
    current: str | None = None  # the user whose keys follow; None after a repeated user
    complete = False
    try:
        for line in result.stdout.split("\n"):  # never splitlines(): U+2028 is no line break
            tag, _, rest = line.partition("\t")
            if tag == "members":
                members = set(rest.split())
            elif tag == "user":
                current = _user(users, rest)
            elif tag == "key" and current is not None:
                name, _, key = rest.partition("\t")
                if name == current and OBSERVED_KEY.fullmatch(key):
                    users[name]["keys"].append(key)
            elif tag == "junk" and current is not None:
                name, _, count = rest.partition("\t")
                if name == current:
                    users[name]["junk"] = int(count)
            elif tag == "refused" and current is not None:
                name, _, code = rest.partition("\t")
                if name == current:
                    users[name]["refused"] = REFUSALS.get(code, "its keys file cannot be read")
            elif tag == "privileged" and current is not None:
                name, _, why = rest.partition("\t")
                if name == current:
                    users[name]["privileged"] = (
                        "named in sudoers" if why == "sudoers" else "in a privileged group"
                    )
            elif tag == "shadow":
                name, password, expire = rest.split("\t")
                locked[name] = password.startswith("!") or bool(expire.strip())
            elif tag == "end":
                complete = True
    except (ValueError, KeyError) as exc:
        return Unknown(f"unexpected user listing: {exc}")
    if not complete:
        return Unknown("the user listing was cut short")
    missing = sorted(set(users) - set(locked))
    if missing:
        return Unknown(f"no shadow entry for {', '.join(missing)}")
    return AccountsObserved(
        tuple(
            ObservedUser(
                managed=name in members, keys=tuple(u.pop("keys")), locked=locked[name], **u
            )
            for name, u in sorted(users.items())
        )
    )


def _user(users: dict[str, dict[str, Any]], rest: str) -> str | None:
    name, uid, shell, home = rest.split("\t")
    if name in users:
        return None
    users[name] = {
        "name": name,
        "uid": int(uid),
        "shell": shell,
        "home": home,
        "keys": [],
        "junk": 0,
        "refused": None,
        "privileged": None,
    }
    return name


def encode(observed: AccountsObserved) -> Any:
    return [
        {
            "name": u.name,
            "uid": u.uid,
            "managed": u.managed,
            "shell": u.shell,
            "home": u.home,
            "locked": u.locked,
            "keys": list(u.keys),
            "junk": u.junk,
            "refused": u.refused,
            "privileged": u.privileged,
        }
        for u in observed.users
    ]


# --- diff ----------------------------------------------------------------------------------


def _short(key: str) -> str:
    """A key line for people: options, type, the end of the key, comment."""
    parts = key.split()
    for i, part in enumerate(parts):
        if part.startswith(("ssh-", "ecdsa-", "sk-")) and i + 1 < len(parts):
            head = " ".join([*parts[:i], part])
            return " ".join([head, "…" + parts[i + 1][-8:], *parts[i + 2 :]])
    return key[:60]


def diff(
    desired: Sequence[AccountSpec], observed: AccountsObserved, options: DiffOptions
) -> list[Change | Note]:
    changes: list[Change | Note] = []
    for spec in desired:
        changes += _declared(spec, observed.get(spec.name))
    declared = {s.name for s in desired}
    for user in observed.users:
        if user.managed and user.name not in declared:
            changes += _undeclared(user, options)
    return changes


def _declared(spec: AccountSpec, user: ObservedUser | None) -> list[Change | Note]:
    payload = {
        "name": spec.name,
        "shell": spec.shell,
        "keys": list(spec.keys),
        "comment": spec.comment,
        "home": f"/home/{spec.name}",
    }
    if user is None:
        keys = tuple(Detail("+", f"key {_short(k)}") for k in spec.keys)
        return [
            Change(
                KIND,
                Action.CREATE,
                f"user {spec.name}",
                f"create {spec.kind} user {spec.name} ({len(spec.keys)} key(s))",
                keys + _because(spec),
                payload,
            )
        ]
    if not user.managed and user.uid < FIRST_USER_UID:
        return [
            Note(
                KIND,
                f"refused: {spec.name} is a system account (uid {user.uid}); declare another name",
            )
        ]
    if not user.managed and spec.name in RESERVED_ACCOUNT_NAMES:
        return [
            Note(
                KIND,
                f"refused: {spec.name} is a reserved name (a cloud image's administrator or "
                "DAG's own): dagsync never adopts it; declare another name",
            )
        ]
    if not user.managed and user.privileged is not None:
        return [
            Note(
                KIND,
                f"refused: {spec.name} exists and is privileged ({user.privileged}): "
                "dagsync never adopts it; declare another name",
            )
        ]
    if user.refused is not None:
        return [
            Note(
                KIND,
                f"refused: {spec.name}: {user.refused}; its keys are neither read nor "
                "written until a person repairs it",
            )
        ]
    details = _user_details(spec, user)
    if not details:
        return []
    fix = {**payload, "home": user.home, "adopt": not user.managed, "unlock": user.locked}
    return [
        Change(
            KIND,
            Action.UPDATE,
            f"user {spec.name}",
            f"update {spec.kind} user {spec.name}",
            (*details, *_because(spec)),
            fix,
        )
    ]


def _because(spec: AccountSpec) -> tuple[Detail, ...]:
    """The line a reviewer reads under a created or updated account (as under a port)."""
    return (Detail(" ", f"    because: {spec.why}"),) if spec.why else ()


def _user_details(spec: AccountSpec, user: ObservedUser) -> list[Detail]:
    out: list[Detail] = []
    if not user.managed:
        out.append(Detail(" ", f"adopt the existing user {user.name} (group {GROUP})"))
    if user.shell != spec.shell:
        out += [Detail("-", f"shell {user.shell}"), Detail("+", f"shell {spec.shell}")]
    if user.locked:
        out.append(Detail("+", "unlock (declared again)"))
    if user.junk:
        out.append(Detail("-", f"{user.junk} line(s) of the keys file that are not key lines"))
    if user.keys != spec.keys or user.junk:
        out += [Detail("-", f"key {_short(k)}") for k in user.keys if k not in spec.keys]
        out += [Detail("+", f"key {_short(k)}") for k in spec.keys if k not in user.keys]
        if set(user.keys) == set(spec.keys) and user.keys != spec.keys:
            out.append(Detail("~", "key order or duplicates"))
    return out


def _undeclared(user: ObservedUser, options: DiffOptions) -> list[Change]:
    payload = {"name": user.name, "home": user.home}
    if options.allow_destroy:
        return [
            Change(
                KIND,
                Action.DELETE,
                f"user {user.name}",
                f"delete user {user.name} and its home {user.home} (no longer declared)",
                (),
                payload,
            )
        ]
    if user.locked and not user.keys and not user.junk and user.refused is None:
        return []
    return [
        Change(
            KIND,
            Action.LOCK,
            f"user {user.name}",
            f"lock user {user.name} (no longer declared; --allow-destroy deletes it)",
            tuple(Detail("-", f"key {_short(k)}") for k in user.keys),
            payload,
        )
    ]


# --- apply ---------------------------------------------------------------------------------


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    return [apply_one(executor, change) for change in changes]
