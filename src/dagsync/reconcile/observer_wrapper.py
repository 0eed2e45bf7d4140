"""The observer's wrapper (the forced command of its key), rendered with the table of reads
embedded, and the key's line in root's authorized_keys.  The design is in
`dagsync.reconcile.observer`."""

from __future__ import annotations

import json

from dagsync.errors import DagsyncError
from dagsync.model.base import SSH_PUBLIC_KEY_RE
from dagsync.reconcile.observer_reads import BATCH, NONCE_PATTERN, READS, WRAPPER_FILE, batch_frame
from dagsync.reconcile.transport.session import REFUSED_EXIT

PYTHON = "/usr/bin/python3"
LOG_FILE = "/var/log/dagsync-observer.log"
SYSLOG_TAG = "dagsync-observer"
KEY_COMMENT = "dagsync-observer"
FORCED_COMMAND = f"{PYTHON} -I {WRAPPER_FILE}"
KEY_OPTIONS = f'restrict,command="{FORCED_COMMAND}"'


_WRAPPER = '''#!{python} -I
"""dagsync observer: the forced command of the observer key in root's authorized_keys.

Rendered and installed by dagsync (dagsync.reconcile.observer); do not edit.
Runs exactly one of the plan's reads, or a batch of them, named by SSH_ORIGINAL_COMMAND;
refuses and logs anything else.
"""
import json
import os
import re
import shlex
import sys
import syslog
import time

TABLE = json.loads({table!r})
ARG = re.compile(r"@@DAGSYNC_ARG_([0-9])@@")
LOG = {log!r}
MAX_REQUEST = 65536
BATCH = {batch!r}
NONCE = {nonce!r}
FRAME = {frame!r}  # dagsync.reconcile.transport.facts.batch's text around one read
FRAME_SLOT = re.compile(r"DAGSYNC_BATCH_(NONCE|NAME|BODY)")
MAX_BATCH = len(TABLE)  # each read at most once


def render(name, args):
    """(script, "") for one read and its arguments, matched exactly, else (None, why)."""
    entry = TABLE.get(name)
    if entry is None:
        return None, "not one of the plan's reads"
    if len(args) != len(entry["params"]):
        return None, "%s takes %d argument(s), not %d" % (name, len(entry["params"]), len(args))
    for arg, pattern in zip(args, entry["params"]):
        if re.fullmatch(pattern, arg) is None:
            return None, "argument refused for %s" % name
    return ARG.sub(lambda m: shlex.quote(args[int(m.group(1))]), entry["template"]), ""


def decide_batch(words):
    """`batch NONCE name arg... name arg...`: every item matched as a request of its own
    (each read takes exactly its parameters' count of words), each read at most once; the
    script is the framing of facts.batch around each read, in order."""
    if not words or re.fullmatch(NONCE, words[0]) is None:
        return None, "batch: the first argument is not a nonce"
    nonce, rest, parts, seen = words[0], words[1:], [], set()
    if not rest:
        return None, "batch: no read (empty batch)"
    while rest:
        name = rest[0]
        if len(seen) == MAX_BATCH:
            return None, "batch: more than %d reads" % MAX_BATCH
        if name in seen:
            return None, "batch: %s twice" % name
        count = len(TABLE[name]["params"]) if name in TABLE else 0
        script, why = render(name, rest[1 : 1 + count])
        if script is None:
            return None, "batch item %d (%s): %s" % (len(seen) + 1, ascii(name[:40]), why)
        seen.add(name)
        slots = {{"NONCE": nonce, "NAME": shlex.quote(name), "BODY": script.strip()}}
        parts.append(FRAME_SLOT.sub(lambda m: slots[m.group(1)], FRAME))
        rest = rest[1 + count :]
    return "\\n".join(parts) + "\\n", ""


def decide(raw):
    """(script, "") for an allowed request, else (None, why)."""
    if len(raw) > MAX_REQUEST:
        return None, "request too long"
    try:
        argv = shlex.split(raw)
    except ValueError as exc:
        return None, "unparsable request (%s)" % exc
    if not argv:
        return None, "no command (interactive login)"
    if argv[0] == BATCH:
        return decide_batch(argv[1:])
    return render(argv[0], argv[1:])


def refuse(raw, why):
    client = os.environ.get("SSH_CONNECTION", "?").split(" ")[0]
    message = "refused from %s: %s: %s" % (client, why, ascii(raw[:500]))
    try:
        syslog.openlog({tag!r}, syslog.LOG_PID, syslog.LOG_AUTH)
        syslog.syslog(syslog.LOG_WARNING, message)
    except OSError:
        pass
    try:
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as log:
            log.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + message + "\\n")
    except OSError:
        pass
    sys.stderr.write("dagsync-observer: refused: %s\\n" % why)
    return {refused}


def main():
    raw = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    script, why = decide(raw)
    if script is None:
        return refuse(raw, why)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.execv("/bin/sh", ["sh", "-c", script])


if __name__ == "__main__":
    sys.exit(main())
'''


def render_wrapper() -> str:
    """The wrapper's Python source, its table embedded as JSON."""
    data = {r.name: {"params": list(r.params), "template": r.template} for r in READS}
    if BATCH in data:
        raise DagsyncError(f"a read may not be named {BATCH!r}: that word starts a batch")
    return _WRAPPER.format(
        python=PYTHON,
        table=json.dumps(data, sort_keys=True, separators=(",", ":")),
        batch=BATCH,
        nonce=NONCE_PATTERN,
        frame=batch_frame(),
        log=LOG_FILE,
        tag=SYSLOG_TAG,
        refused=REFUSED_EXIT,
    )


def key_line(public_key: str) -> str:
    """The observer's line in root's authorized_keys (the key's own comment is dropped)."""
    if not SSH_PUBLIC_KEY_RE.match(public_key):
        raise DagsyncError("the observer key is not one OpenSSH public key line")
    kind, body = public_key.split()[:2]
    return f"{KEY_OPTIONS} {kind} {body} {KEY_COMMENT}"
