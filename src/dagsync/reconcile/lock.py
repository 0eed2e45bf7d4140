"""Apply locks: one per run and client scope on this machine, one per host on the host.

The run lock: before any host is touched, `apply` takes one lock per client in its scope
(`run_lock`): an `flock` on a file of this machine's lock folder, keyed by the repository
(its origin URL, else its path) and the client.  A second apply of an overlapping scope is
refused at once (`ApplyLocked`, exit 2) having changed nothing; the kernel releases the lock
the moment its process ends, however it ends.

The host lock: one apply at a time per host: `flock` on a file, held by a command that stays
open.  The holder runs `flock -n LOCK sh -c '...; timeout TTL cat'` on its own channel: the
lock lives exactly as long as that `cat`, which ends when we close its stdin (release), when
our SSH connection dies (a killed run: sshd closes the pipe), or after TTL seconds at most (a
run stuck on a dead network).  Who holds it is written beside it, with the time, and the
holding process's id on the host beside that, so a second apply is refused with the holder's
name, and a lock whose holder is provably gone is released at once rather than after the TTL
(`holder_gone`): a process of this machine (same boot) that has ended, or a GitHub Actions
run of the same repository that GitHub reports completed.  Then all host locks are taken or
none: an apply that finds one host locked by a live run releases the others and exits 2
having changed nothing (`engine.apply`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.errors import LockHeld

LOCK_DIR = "/var/lib/dagsync"
LOCK_FILE = f"{LOCK_DIR}/apply.lock"
HOLDER_FILE = "/var/lib/dagsync/apply.holder"
BUSY = 75
DEFAULT_TTL = 900
EXIT_LOCKED = 2  # the losing run of two concurrent applies: nothing was changed
LOCK_DIR_ENV = "DAGSYNC_LOCK_DIR"  # this machine's run locks (default: the user's state folder)
GITHUB_TIMEOUT = 5.0


class ApplyLocked(DagsyncError):
    """Another apply holds the run lock of this scope, or a host's lock: nothing was changed."""

    exit_code = EXIT_LOCKED


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def _ci_identity(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The GitHub Actions run this process belongs to, if any."""
    if environ.get("GITHUB_ACTIONS") != "true" or not environ.get("GITHUB_RUN_ID"):
        return None
    return {
        "provider": "github",
        "repository": environ.get("GITHUB_REPOSITORY", ""),
        "run_id": environ.get("GITHUB_RUN_ID", ""),
        "attempt": environ.get("GITHUB_RUN_ATTEMPT", "1"),
        "job": environ.get("GITHUB_JOB", ""),
    }


def holder_info(command: str | None = None) -> str:
    """Who we are, for the holder file: user, machine, pid, start time, command line; and, to
    tell later whether we are gone, this machine's boot id, our process's start time and, in
    GitHub Actions, the run."""
    info: dict[str, Any] = {
        "by": f"{getpass.getuser()}@{socket.gethostname()}",
        "pid": os.getpid(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
        "boot": _boot_id(),
        "start": _start_ticks(os.getpid()),
    }
    ci = _ci_identity(os.environ)
    if ci is not None:
        info["ci"] = ci
    return json.dumps(info, ensure_ascii=False)


def acquire_command(holder: str, ttl: int = DEFAULT_TTL) -> str:
    body = (
        'printf "%s\\n" "$1" > "$2.tmp" && mv -f "$2.tmp" "$2" && echo "$$" > "$2.pid" '
        '&& echo LOCKED && exec timeout "$3" cat >/dev/null'
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
    held = LockHeld(describe_holder(target, text, ttl))
    held.holder_text = text
    return held


# --- a holder that is provably gone ---------------------------------------------------------


def _first_json(text: str) -> dict[str, Any] | None:
    try:
        info = json.loads(text)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def _process_gone(info: Mapping[str, Any]) -> str | None:
    """Our machine (same boot), and the holder's process has ended (or its pid was reused)."""
    boot, pid = info.get("boot"), info.get("pid")
    if not boot or boot != _boot_id() or not isinstance(pid, int) or isinstance(pid, bool):
        return None
    by = str(info.get("by", ""))
    if by.rpartition("@")[2] != socket.gethostname():
        return None
    started = _start_ticks(pid)
    if started is None:
        return f"its process {pid} on this machine has ended"
    if isinstance(info.get("start"), int) and started != info["start"]:
        return f"its process {pid} on this machine has ended (the pid is now another process)"
    return None


def github_run_status(repository: str, run_id: str, attempt: str) -> str | None:
    """GitHub's status of a workflow run attempt ("completed", "in_progress"...), or None
    when it cannot be asked (no token, no answer).  The API address and token are ours (the
    environment's), never taken from a holder file."""
    token = os.environ.get("GITHUB_TOKEN")
    if not token or not repository or not run_id.isdigit() or not attempt.isdigit():
        return None
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    url = f"{api}/repos/{repository}/actions/runs/{run_id}/attempts/{attempt}"
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=GITHUB_TIMEOUT) as answer:
            data = json.loads(answer.read(1_000_000))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) else None


def _ci_gone(info: Mapping[str, Any]) -> str | None:
    """A GitHub Actions run of OUR repository that GitHub reports completed."""
    ci = info.get("ci")
    if not isinstance(ci, dict) or ci.get("provider") != "github":
        return None
    repository = str(ci.get("repository", ""))
    if not repository or repository != os.environ.get("GITHUB_REPOSITORY"):
        return None
    run_id, attempt = str(ci.get("run_id", "")), str(ci.get("attempt", "1"))
    if github_run_status(repository, run_id, attempt) != "completed":
        return None
    return f"its CI run {run_id} (attempt {attempt}) of {repository} has completed"


def holder_gone(text: str) -> str | None:
    """Why the holder named by a holder file is provably gone, or None (alive, or unknown)."""
    info = _first_json(text.strip())
    if info is None:
        return None
    return _process_gone(info) or _ci_gone(info)


def break_command(holder_text: str) -> str:
    """End the host lock's holding process, only if the holder file still names
    `holder_text` (the holder judged gone): its `timeout cat` ends, and flock lets go."""
    return (
        f'h=$(cat {q(HOLDER_FILE)} 2>/dev/null); if [ "$h" = {q(holder_text.strip())} ]; then '
        f"kill $(cat {q(HOLDER_FILE + '.pid')}) 2>/dev/null; fi; exit 0\n"
    )


# --- the run lock on this machine -----------------------------------------------------------


def run_lock_dir() -> Path:
    named = os.environ.get(LOCK_DIR_ENV)
    if named:
        return Path(named)
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local/state"
    return base / "dagsync" / "locks"


def repository_key(root: Path) -> str:
    """What identifies the configuration repository: its origin URL, else its path."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        origin = done.stdout.strip() if done.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        origin = ""
    return origin or str(root.resolve())


def _lock_file(folder: Path, repository: str, name: str) -> Path:
    digest = hashlib.sha256(f"{repository}\0{name}".encode()).hexdigest()[:32]
    return folder / f"{digest}.lock"


@contextmanager
def run_lock(root: Path, clients: Sequence[str], holder: str) -> Iterator[None]:
    """Hold the run lock of each client of the scope (all or none) for the length of an
    apply; raises ApplyLocked (exit 2) naming the holder when another apply has one."""
    folder = run_lock_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    repository = repository_key(root)
    taken: list[int] = []
    try:
        for client in sorted(set(clients)):
            fd = os.open(_lock_file(folder, repository, client), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                text = os.pread(fd, 65536, 0).decode("utf-8", "replace")
                os.close(fd)
                raise ApplyLocked(_run_locked_message(client, text)) from None
            taken.append(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, (holder + "\n").encode(), 0)
        yield
    finally:
        for fd in taken:
            os.close(fd)  # closing the descriptor releases the flock


def _run_locked_message(client: str, text: str) -> str:
    info = _first_json(text.strip())
    if info is not None and {"by", "pid", "since"} <= info.keys():
        who = f"{info['by']} (pid {info['pid']}, since {info['since']}, `{info.get('command')}`)"
    else:
        who = text.strip()[:200] or "an unknown holder"
    return (
        f"another apply of {client} is running on this machine: {who}; nothing was changed "
        "(its lock ends with its process)"
    )
