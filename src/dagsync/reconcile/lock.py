"""One apply at a time per host: `flock` on a file, held by a command that stays open.

The holder runs `flock -n LOCK sh -c '...; timeout TTL cat'` on its own channel: the lock
lives exactly as long as that `cat`, which ends when we close its stdin (release), when our
SSH connection dies (a killed run: sshd closes the pipe), or after TTL seconds at most (a
run stuck on a dead network).  Who holds it is written beside it, with the time, so a
second apply is refused with the holder's name.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import sys

from .errors import LockHeld
from .shell import q

LOCK_DIR = "/var/lib/dagsync"
LOCK_FILE = f"{LOCK_DIR}/apply.lock"
HOLDER_FILE = "/var/lib/dagsync/apply.holder"
BUSY = 75
DEFAULT_TTL = 900


def holder_info(command: str | None = None) -> str:
    """Who we are, for the holder file: user, machine, pid, start time, command line."""
    return json.dumps(
        {
            "by": f"{getpass.getuser()}@{socket.gethostname()}",
            "pid": os.getpid(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": command if command is not None else " ".join(sys.argv),
        },
        ensure_ascii=False,
    )


def acquire_command(holder: str, ttl: int = DEFAULT_TTL) -> str:
    body = (
        'printf "%s\\n" "$1" > "$2.tmp" && mv -f "$2.tmp" "$2" && echo LOCKED '
        '&& exec timeout "$3" cat >/dev/null'
    )
    return (
        f"mkdir -p {LOCK_DIR}\n"
        f"flock -n -E {BUSY} {q(LOCK_FILE)} sh -c {q(body)} dagsync-lock "
        f"{q(holder)} {q(HOLDER_FILE)} {int(ttl)}\n"
        f"rc=$?\nif [ $rc -eq {BUSY} ]; then echo HELD; cat {q(HOLDER_FILE)} 2>/dev/null; fi\n"
        "exit $rc\n"
    )


def describe_holder(target: str, text: str, ttl: int = DEFAULT_TTL) -> str:
    """A message naming who holds the lock of `target`."""
    try:
        info = json.loads(text)
        who = f"{info['by']} (pid {info['pid']}, since {info['since']}, `{info['command']}`)"
    except (ValueError, KeyError, TypeError):
        who = text.strip() or "an unknown holder"
    return (
        f"{target} is locked by another apply: {who}; wait for it to finish "
        f"(a lock left by a killed run is released when its connection drops, "
        f"or after {ttl} s at most)"
    )


def refused(target: str, text: str, ttl: int = DEFAULT_TTL) -> LockHeld:
    return LockHeld(describe_holder(target, text, ttl))
