"""Applying account changes on a server: create, adopt, update, lock or delete a user, and
write its keys file.

Users are created with `useradd` in the group `GROUP` (dagsync manages its members and no
others) with the password field `*` (key-only); a locked user has its password locked, its
account expired and its keys removed; deleting removes its home.  The keys file is written
as the user after checks run as root without following links (`_keys_file`).
`dagsync.reconcile.hosts.accounts` plans these changes and applies them through `apply_one`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dagsync.reconcile.core import Action, Change
from dagsync.reconcile.resource import Executor, Outcome, Status
from dagsync.reconcile.shell import as_user, atomic_write, join, q, script

GROUP = "dagsync-managed"
KEYS_HEADER = "# managed by dagsync: keys come from the server's YAML"


def _keys_file(name: str, home: str, keys: Iterable[str]) -> tuple[str, bytes]:
    """The script that writes the keys file: the checks run as root without following links
    (~/.ssh absent, or a directory of the user's own), the write as the user (`as_user`), so
    that no link the user plants can send it elsewhere."""
    content = "\n".join([KEYS_HEADER, *keys]) + "\n"
    folder = f"{home}/.ssh"
    write = atomic_write(f"{folder}/authorized_keys", content.encode(), mode="0600")
    command = "\n".join(
        [
            "set -e",
            f"uid=$(id -u -- {q(name)}); gid=$(id -g -- {q(name)})",
            f'if [ -L {q(folder)} ] || {{ [ -e {q(folder)} ] && [ -z "$(find -P {q(folder)}'
            ' -maxdepth 0 -type d -user "$uid" -print)" ]; }; then',
            f"  echo {q(f'dagsync: refused: {folder} is a link or not a directory of {name}')} >&2",
            "  exit 4",
            "fi",
            as_user("$uid", "$gid", write),
        ]
    )
    return command + "\n", content.encode()


_REMOVE_KEYS = """set -e
if [ -L HOME/.ssh ]; then rm -f -- HOME/.ssh; else rm -f -- HOME/.ssh/authorized_keys; fi
"""


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


def apply_one(executor: Executor, change: Change) -> Outcome:
    p = dict(change.payload)
    if change.action is Action.LOCK:
        steps = [
            join("usermod", "--lock", "--expiredate", "1", p["name"]),
            f"uid=$(id -u -- {q(p['name'])}); gid=$(id -g -- {q(p['name'])})",
            # As the user: a ~/.ssh that links elsewhere (/root/.ssh) is removed itself, its
            # target is never touched.
            as_user("$uid", "$gid", _REMOVE_KEYS.replace("HOME", q(p["home"]))),
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
