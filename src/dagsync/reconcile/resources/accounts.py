"""SSH and SFTP accounts with their authorized keys.

dagsync manages the users in the group `dagsync-managed` and no others.  A declared user is
created (or adopted, if it exists and is not a system account), gets its shell and its keys;
SFTP users get `/usr/sbin/nologin` and keys restricted to `internal-sftp`.  A managed user
that is no longer declared is locked (password locked, account expired, keys removed), and
deleted with its home folder only with `--allow-destroy`.  Accounts are key-only: unlocking
sets the password field to `*` (no password, not locked).  FTP accounts are not handled here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ...model.base import USER_NAME_PATTERN
from ...model.server import AccountKind
from ..core import Action, Change, Detail, DiffOptions, Note, Unknown
from ..resource import ApplyOptions, CommandResult, Executor, Outcome, ServerInputs, Status
from ..shell import UnsafeValue, atomic_write, join, key_line, q, script

KIND = "accounts"
GROUP = "dagsync-managed"
SHELLS = {AccountKind.SSH: "/bin/bash", AccountKind.SFTP: "/usr/sbin/nologin"}
SFTP_OPTIONS = 'restrict,command="internal-sftp"'
KEYS_HEADER = "# managed by dagsync: keys come from the server's YAML"
FIRST_USER_UID = 1000


@dataclass(frozen=True)
class AccountSpec:
    name: str
    kind: str
    shell: str
    keys: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class ObservedUser:
    name: str
    uid: int
    managed: bool
    shell: str
    home: str
    locked: bool  # password locked or an expiry date set
    keys: tuple[str, ...]


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
        keys = tuple(_key_line(account.kind, k) for k in account.keys)
        specs.append(
            AccountSpec(
                account.name,
                str(account.kind),
                SHELLS[account.kind],
                keys,
                _gecos(f"dagsync: {account.owner}"),
            )
        )
    return tuple(specs), tuple(notes)


# --- read ----------------------------------------------------------------------------------


_READ = r"""
FILENAME == "/etc/group" && $1 == group { n = split($4, m, ","); for (i = 1; i <= n; i++) member[m[i]] = 1 }
FILENAME == "/etc/passwd" { pw[$1] = $0 }
FILENAME == "/etc/shadow" { sp[$1] = substr($2, 1, 1) "\t" $8 }
END {
  printf "members\t"; for (u in member) printf "%s ", u; print ""
  n = split(names, d, " "); for (i = 1; i <= n; i++) want[d[i]] = 1
  for (u in member) want[u] = 1
  for (u in want) if (u in pw) {
    split(pw[u], f, ":")
    print "user\t" u "\t" f[3] "\t" f[7] "\t" f[6]
    print "shadow\t" u "\t" sp[u]
    file = f[6] "/.ssh/authorized_keys"
    while ((getline line < file) > 0) print "key\t" u "\t" line
    close(file)
  }
}
"""


def read(desired: Sequence[AccountSpec]) -> str:
    """One awk over the local account files (dagsync creates its users with useradd, so they
    live there); a file that cannot be read makes the whole fact unknown.  Of the password
    field only the first character leaves the host (`!`: locked): never a hash, so the
    read is safe for the observer key (`resources.observer`)."""
    names = " ".join(s.name for s in desired)
    return (
        f"awk -F: -v group={GROUP} -v names={q(names)} {q(_READ.strip())} "
        "/etc/group /etc/passwd /etc/shadow\n"
    )


def parse(result: CommandResult) -> AccountsObserved | Unknown:
    if not result.ok:
        return Unknown(f"reading users failed ({result.exit_code}): {result.stderr.strip()}")
    members: set[str] = set()
    users: dict[str, dict[str, Any]] = {}
    locked: dict[str, bool] = {}
    current: str | None = None  # the user whose keys follow; None after a repeated user
    try:
        for line in result.stdout.splitlines():
            tag, _, rest = line.partition("\t")
            if tag == "members":
                members = set(rest.split())
            elif tag == "user":
                current = _user(users, rest)
            elif tag == "key" and current is not None:
                name, _, key = rest.partition("\t")
                if name == current and (stripped := key.strip()) and not stripped.startswith("#"):
                    users[name]["keys"].append(stripped)
            elif tag == "shadow":
                name, password, expire = rest.split("\t")
                locked[name] = password.startswith("!") or bool(expire.strip())
    except (ValueError, KeyError) as exc:
        return Unknown(f"unexpected user listing: {exc}")
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
    users[name] = {"name": name, "uid": int(uid), "shell": shell, "home": home, "keys": []}
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
                keys,
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
            tuple(details),
            fix,
        )
    ]


def _user_details(spec: AccountSpec, user: ObservedUser) -> list[Detail]:
    out: list[Detail] = []
    if not user.managed:
        out.append(Detail(" ", f"adopt the existing user {user.name} (group {GROUP})"))
    if user.shell != spec.shell:
        out += [Detail("-", f"shell {user.shell}"), Detail("+", f"shell {spec.shell}")]
    if user.locked:
        out.append(Detail("+", "unlock (declared again)"))
    if user.keys != spec.keys:
        out += [Detail("-", f"key {_short(k)}") for k in user.keys if k not in spec.keys]
        out += [Detail("+", f"key {_short(k)}") for k in spec.keys if k not in user.keys]
        if set(user.keys) == set(spec.keys):
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
    if user.locked and not user.keys:
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


def _keys_file(name: str, home: str, keys: Iterable[str]) -> tuple[str, bytes]:
    content = "\n".join([KEYS_HEADER, *keys]) + "\n"
    command = atomic_write(
        f"{home}/.ssh/authorized_keys",
        content.encode(),
        mode="0600",
        owner=f"{name}:",
        dir_mode="0700",
        dir_owner=f"{name}:",
    )
    return command, content.encode()


def _create(p: dict[str, Any]) -> list[str]:
    return [
        f"getent group {GROUP} >/dev/null || groupadd --system {GROUP}",
        join(
            "useradd",
            "--create-home",
            "--home-dir",
            p["home"],
            "--shell",
            p["shell"],
            "--groups",
            GROUP,
            "--password",
            "*",
            "--comment",
            p["comment"],
            p["name"],
        ),
    ]


def _update(p: dict[str, Any]) -> list[str]:
    steps = []
    if p.get("adopt"):
        steps.append(f"getent group {GROUP} >/dev/null || groupadd --system {GROUP}")
        steps.append(join("usermod", "--append", "--groups", GROUP, p["name"]))
    steps.append(join("usermod", "--shell", p["shell"], p["name"]))
    if p.get("unlock"):
        steps.append(join("usermod", "--password", "*", "--expiredate", "", p["name"]))
    return steps


def _apply_one(executor: Executor, change: Change) -> Outcome:
    p = dict(change.payload)
    if change.action is Action.LOCK:
        steps = [
            join("usermod", "--lock", "--expiredate", "1", p["name"]),
            join("rm", "-f", f"{p['home']}/.ssh/authorized_keys"),
        ]
        return _run(executor, change, script(steps))
    if change.action is Action.DELETE:
        return _run(executor, change, script([join("userdel", "--remove", p["name"])]))
    steps = _create(p) if change.action is Action.CREATE else _update(p)
    outcome = _run(executor, change, script(steps))
    if outcome.status is not Status.APPLIED:
        return outcome
    command, content = _keys_file(p["name"], p["home"], p["keys"])
    return _run(executor, change, command, content)


def _run(executor: Executor, change: Change, command: str, stdin: bytes | None = None) -> Outcome:
    result = executor.run(command, stdin=stdin)
    if result.ok:
        return Outcome(change, Status.APPLIED)
    return Outcome(
        change, Status.FAILED, f"exit code {result.exit_code}: {result.stderr.strip()[-500:]}"
    )


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    return [_apply_one(executor, change) for change in changes]
