"""Root access for the client, only while a declared window is open (CGV Art. 6).

While a `contract.root_access` window of this server is open (its dates, days and hours, in
Europe/Paris time), the keys of the server's accounts owned by the window's `granted_to`
are placed in root's `authorized_keys`, inside a block that dagsync owns:

    # BEGIN dagsync root-access ...
    expiry-time="202611291100Z" ssh-ed25519 AAAA... julien@cime-laptop
    # END dagsync root-access

Each key carries OpenSSH's `expiry-time` set to the end of the current slot, so access
ends on time even if dagsync does not run again; the next run removes the expired lines.
Lines outside the block, DAG's own management keys among them, are never touched, so DAG
keeps its access whatever the window says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dagsync.model.client import RootAccessWindow
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Unknown, set_details
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Outcome,
    ServerInputs,
    Status,
)
from dagsync.reconcile.shell import UnsafeValue, key_line

KIND = "root-access"
KEYS_FILE = "/root/.ssh/authorized_keys"
BEGIN = "# BEGIN dagsync root-access (managed by dagsync: edit the client's YAML, not this block)"
END = "# END dagsync root-access"
PARIS = ZoneInfo("Europe/Paris")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class RootDesired:
    lines: tuple[str, ...]
    why: str  # who has access until when, or "no window open"
    # for people: each open window as declared, with the client's request that asked for it
    because: tuple[str, ...] = ()


@dataclass(frozen=True)
class RootObserved:
    present: bool
    lines: tuple[str, ...]


# --- desired -------------------------------------------------------------------------------


def open_until(window: RootAccessWindow, now: dt.datetime) -> dt.datetime | None:
    """The end of the window's current slot (aware), or None when it is closed at `now`."""
    local = now.astimezone(PARIS)
    if not (window.start <= local.date() <= window.end):
        return None
    if _DAYS[local.weekday()] not in {str(d) for d in window.days}:
        return None
    try:
        start, end = (dt.time.fromisoformat(h) for h in window.hours)
    except ValueError:
        raise UnsafeValue(f"root access hours {window.hours} are not HH:MM") from None
    if not (start <= local.time() < end):
        return None
    return dt.datetime.combine(local.date(), end, tzinfo=PARIS)


def _expiry(until: dt.datetime) -> str:
    return until.astimezone(dt.UTC).strftime("%Y%m%d%H%MZ")


def _bare_key(key: str) -> str:
    return key_line(key)


def desired(inputs: ServerInputs) -> tuple[RootDesired, tuple[Note, ...]]:
    lines: list[str] = []
    notes: list[Note] = []
    whys: list[str] = []
    because: list[str] = []
    for window in inputs.client.contract.root_access:
        if window.server != inputs.server.name:
            continue
        until = open_until(window, inputs.now)
        if until is None:
            continue
        keys = [k for a in inputs.server.accounts if a.owner == window.granted_to for k in a.keys]
        if any(" ".join(k.split()[:2]) in inputs.dag_keys for k in keys):  # ACC008 again
            raise UnsafeValue(f"a key granted to {window.granted_to} is one of DAG's keys")
        if not keys:
            notes.append(
                Note(
                    KIND,
                    f"the root access window of {window.granted_to} is open but "
                    "no account of this server is owned by them: no key to give",
                )
            )
            continue
        whys.append(f"{window.granted_to} until {until:%H:%M} Paris time ({window.request})")
        because.append(inputs.because(_declared(window), window.request))
        lines += [f'expiry-time="{_expiry(until)}" {_bare_key(k)}' for k in keys]
    why = "root access for " + "; ".join(whys) if whys else "no root access window open"
    return RootDesired(tuple(dict.fromkeys(lines)), why, tuple(because)), tuple(notes)


def _declared(window: RootAccessWindow) -> str:
    days = ", ".join(str(d) for d in window.days)
    return (
        f"root access window of {window.granted_to}: {days} {window.hours[0]}-"
        f"{window.hours[1]} Paris time, {window.start} to {window.end}"
    )


# --- read ----------------------------------------------------------------------------------


def read(desired: RootDesired) -> str:
    return (
        f"if [ -e {KEYS_FILE} ]; then awk '"
        f'index($0, "{END}") == 1 {{ b = 0; next }} '
        f'b {{ print "line\\t" $0 }} '
        f'index($0, "# BEGIN dagsync root-access") == 1 {{ b = 1; print "block" }}\' {KEYS_FILE}; fi\n'
    )


def parse(result: CommandResult) -> RootObserved | Unknown:
    if not result.ok:
        return Unknown(f"reading {KEYS_FILE} failed ({result.exit_code}): {result.stderr.strip()}")
    out = result.stdout.split("\n")
    lines = tuple(line.split("\t", 1)[1].strip() for line in out if line.startswith("line\t"))
    return RootObserved("block" in out, tuple(x for x in lines if x and not x.startswith("#")))


def encode(observed: RootObserved) -> Any:
    return {"present": observed.present, "lines": list(observed.lines)}


# --- diff ----------------------------------------------------------------------------------


def diff(desired: RootDesired, observed: RootObserved, options: DiffOptions) -> list[Change | Note]:
    if observed.lines == desired.lines:
        return []
    action = Action.UPDATE if observed.present else Action.CREATE
    summary = desired.why if desired.lines else "close root access (no window open)"
    because = tuple(Detail(" ", f"    because: {b}") for b in desired.because)
    details = set_details(observed.lines, desired.lines) + because
    return [Change(KIND, action, KEYS_FILE, summary, details, {"lines": list(desired.lines)})]


# --- apply ---------------------------------------------------------------------------------


def replace_block(lines: Sequence[str]) -> tuple[str, bytes]:
    """A script that swaps the block of root's keys for its stdin, keeping every other line."""
    block = "\n".join([BEGIN, *lines, END]) + "\n"
    command = f"""set -e
umask 077
mkdir -p /root/.ssh
f={KEYS_FILE}
tmp=$(mktemp "$f.dagsync-XXXXXX")
trap 'rm -f "$tmp"' EXIT HUP INT TERM
{{ if [ -f "$f" ]; then awk 'index($0, "# BEGIN dagsync root-access") == 1 {{ s = 1; next }}
  index($0, "{END}") == 1 {{ s = 0; next }} !s' "$f"; fi; cat; }} > "$tmp"
[ "$(tail -n 1 "$tmp")" = "{END}" ] || {{ echo 'dagsync: incomplete upload' >&2; exit 3; }}
chmod 0600 "$tmp"
mv -f "$tmp" "$f"
trap - EXIT HUP INT TERM
"""
    return command, block.encode()


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    outcomes = []
    for change in changes:
        command, block = replace_block([str(x) for x in change.payload["lines"]])
        result = executor.run(command, stdin=block)
        status = Status.APPLIED if result.ok else Status.FAILED
        outcomes.append(Outcome(change, status, "" if result.ok else result.stderr.strip()))
    return outcomes
