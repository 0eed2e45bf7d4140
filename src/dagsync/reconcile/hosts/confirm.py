"""Commit-confirmed firewall changes: the host restores its previous ruleset by itself unless
a fresh SSH connection proves, after the change, that DAG can still get in.

1. upload the new file to a temporary name, check its hash and `nft -c -f` it;
2. snapshot the live table and arm a detached timer (`setsid`, pid file) that reloads the
   snapshot after N seconds and writes a marker;
3. load the new file (one nftables transaction) and rename it into place;
4. open a *fresh* connection and disarm the timer through it; if that connection fails,
   wait for the timer, check its marker over the old session, report "rolled back".
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from dagsync.reconcile.core import Change
from dagsync.reconcile.hosts.nft import TABLE_FAMILY, TABLE_NAME
from dagsync.reconcile.resource import ApplyOptions, CommandResult, Executor, Outcome, Status
from dagsync.reconcile.shell import atomic_write, q
from dagsync.reconcile.transport.errors import HostError

STATE_DIR = "/var/lib/dagsync"
ROLLBACK_FILE = f"{STATE_DIR}/rollback.nft"
PREVIOUS_FILE = f"{STATE_DIR}/rollback.file"
PID_FILE = f"{STATE_DIR}/rollback.pid"
DONE_FILE = f"{STATE_DIR}/rollback.done"
MARKER = "dagsync-rollback"
_WAIT_MARGIN = 15.0  # how long past the timer to wait for its marker

PENDING_CHECK = (
    f'if [ -f {PID_FILE} ] && grep -q {MARKER} /proc/"$(cat {PID_FILE})"/cmdline 2>/dev/null; '
    "then echo 'pending yes'; else echo 'pending no'; fi"
)
_DISARM_STALE = f"""if [ -f {PID_FILE} ]; then
  pid=$(cat {PID_FILE})
  if grep -q {MARKER} /proc/"$pid"/cmdline 2>/dev/null; then kill -s TERM -- -"$pid" 2>/dev/null || true; fi
  rm -f {PID_FILE}
fi"""


def arm_and_load(nft_file: str, seconds: float, token: str) -> str:
    """The check that runs on the temporary file, then snapshot, arm, load (see module doc)."""
    table = f"{TABLE_FAMILY} {TABLE_NAME}"
    # $1 delay, $2 snapshot of the live table, $3 the boot file, $4 its previous copy,
    # $5 token, $6 marker file.  The boot file goes back to what it was (or away).
    timer = (
        'setsid sh -c \'sleep "$1"; if nft -f "$2"; then '
        'if [ -f "$4" ]; then cp "$4" "$3.rollback-tmp" && mv -f "$3.rollback-tmp" "$3"; '
        'else rm -f "$3"; fi; echo "$5" > "$6"; else echo failed > "$6"; fi\' '
        f"{MARKER} {seconds:.1f} {ROLLBACK_FILE} {q(nft_file)} {PREVIOUS_FILE} {q(token)} "
        f"{DONE_FILE} </dev/null >/dev/null 2>&1 &"
    )
    keep_previous = (
        f"if [ -f {q(nft_file)} ]; then cp {q(nft_file)} {PREVIOUS_FILE}.tmp && "
        f"mv -f {PREVIOUS_FILE}.tmp {PREVIOUS_FILE}; else rm -f {PREVIOUS_FILE}; fi"
    )
    return "\n".join(
        [
            'nft -c -f "$tmp"',
            f"mkdir -p {STATE_DIR}",
            _DISARM_STALE,
            f"{{ echo 'table {table}'; echo 'delete table {table}'; nft list table {table} 2>/dev/null "
            f"|| true; }} > {ROLLBACK_FILE}.tmp",
            f"mv -f {ROLLBACK_FILE}.tmp {ROLLBACK_FILE}",
            keep_previous,
            f"rm -f {DONE_FILE}",
            timer,
            f"echo $! > {PID_FILE}",
            f'nft -f "$tmp" || {{ kill -s TERM -- -"$(cat {PID_FILE})"; rm -f {PID_FILE}; exit 4; }}',
        ]
    )


def disarm(token: str) -> str:
    """Stop the timer; print `confirmed`, or `rolled-back` when it had already fired."""
    return "\n".join(
        [
            _DISARM_STALE,
            f'if [ "$(cat {DONE_FILE} 2>/dev/null)" = {q(token)} ]; then echo rolled-back; '
            "else echo confirmed; fi",
        ]
    )


def rolled_back_check(token: str) -> str:
    return f'if [ "$(cat {DONE_FILE} 2>/dev/null)" = {q(token)} ]; then echo yes; else echo no; fi'


def plain_write(nft_file: str, text: str) -> str:
    """Rewrite the boot file only (the live ruleset already matches): checked, not loaded."""
    return atomic_write(nft_file, text.encode(), mode="0644", check='nft -c -f "$tmp"')


def apply_ruleset(executor: Executor, change: Change, options: ApplyOptions) -> Outcome:
    payload: Mapping[str, Any] = change.payload
    text = str(payload["text"])
    nft_file = str(payload.get("file", "/etc/nftables.d/dagsync.nft"))
    if not payload.get("reload", True):
        return _outcome(change, executor.run(plain_write(nft_file, text), stdin=text.encode()))
    token = secrets.token_hex(8)
    command = atomic_write(
        nft_file,
        text.encode(),
        mode="0644",
        check=arm_and_load(nft_file, options.confirm_timeout, token),
    )
    result = executor.run(command, stdin=text.encode())
    if not result.ok:
        return _outcome(change, result)
    armed_at = time.monotonic()
    return _confirm(executor, change, options, token, armed_at)


def _confirm(
    executor: Executor, change: Change, options: ApplyOptions, token: str, armed_at: float
) -> Outcome:
    try:
        result = executor.run_fresh(disarm(token), timeout=options.fresh_connect_timeout)
    except HostError as exc:
        return _await_rollback(executor, change, options, token, armed_at, str(exc))
    if result.ok and result.stdout.strip() == "confirmed":
        return Outcome(change, Status.APPLIED, "confirmed over a fresh SSH connection")
    if result.ok and result.stdout.strip() == "rolled-back":
        return Outcome(
            change,
            Status.ROLLED_BACK,
            "the confirmation came after the rollback timer: previous ruleset restored",
        )
    return _await_rollback(executor, change, options, token, armed_at, result.stderr.strip())


def _await_rollback(
    executor: Executor,
    change: Change,
    options: ApplyOptions,
    token: str,
    armed_at: float,
    why: str,
) -> Outcome:
    """Wait for the host's timer, then look for its marker over the old session."""
    cause = f"a fresh SSH connection failed after loading the new ruleset ({why})"
    time.sleep(max(0.0, armed_at + options.confirm_timeout - time.monotonic()))
    deadline = time.monotonic() + _WAIT_MARGIN
    while True:
        try:
            seen = executor.run(rolled_back_check(token), timeout=10.0).stdout.strip()
        except HostError as exc:
            return Outcome(
                change,
                Status.ROLLED_BACK,
                f"{cause}; the host restores its previous ruleset after "
                f"{options.confirm_timeout:.0f} s (not verified: {exc})",
            )
        if seen == "yes":
            restored = f"{cause}; the host restored its previous ruleset"
            return Outcome(change, Status.ROLLED_BACK, restored)
        if time.monotonic() > deadline:
            missing = f"{cause}; and the rollback marker is missing: check the host's firewall"
            return Outcome(change, Status.FAILED, missing)
        time.sleep(0.25)


def _outcome(change: Change, result: CommandResult) -> Outcome:
    if result.ok:
        return Outcome(change, Status.APPLIED)
    stage = {3: "upload incomplete", 4: "nft -f failed (previous ruleset kept)"}
    reason = stage.get(result.exit_code, f"exit code {result.exit_code}")
    return Outcome(change, Status.FAILED, f"{reason}: {result.stderr.strip()[-500:]}")
