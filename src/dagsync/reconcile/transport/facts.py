"""Reading every fact of a host in one round trip.

Each resource's read command runs in its own subshell; its output and exit code come back on
stdout, its error output on stderr, each section between marker lines that carry a random
nonce, so no content (a key comment, a file) can fake a boundary.  Splitting is pure and
tested from recorded output.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence

from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.shell import q


def batch(commands: Sequence[tuple[str, str]], nonce: str | None = None) -> tuple[str, str]:
    """One script running every `(name, command)`; returns it with its nonce."""
    nonce = nonce or secrets.token_hex(8)
    tag = f"@@{nonce}"
    parts = []
    for name, command in commands:
        parts += [
            f"printf '%s begin %s\\n' {tag} {q(name)}; printf '%s begin %s\\n' {tag} {q(name)} >&2",
            f"( {command.strip()}\n); _rc=$?",
            f"printf '\\n%s end %s %s\\n' {tag} {q(name)} \"$_rc\"; "
            f"printf '\\n%s end %s\\n' {tag} {q(name)} >&2",
        ]
    return "\n".join(parts) + "\n", nonce


def _sections(text: str, nonce: str) -> dict[str, tuple[str, str | None]]:
    """name -> (content, exit code or None) for every complete section of one stream."""
    marker = re.compile(rf"^@@{re.escape(nonce)} (begin|end) (\S+)(?: (-?\d+))?$", re.M)
    pieces = marker.split(text)
    # pieces: [prefix, kind, name, rc, text, kind, name, rc, text, ...]
    out: dict[str, tuple[str, str | None]] = {}
    opened: dict[str, str] = {}
    for i in range(1, len(pieces) - 3, 4):
        kind, name, rc, body = pieces[i], pieces[i + 1], pieces[i + 2], pieces[i + 3]
        body = body[1:] if body.startswith("\n") else body  # the newline ending the marker
        if kind == "begin":
            opened[name] = body[:-1] if body.endswith("\n") else body  # the newline we added
        elif name in opened:
            out[name] = (opened.pop(name), rc)
    return out


def split(stdout: str, stderr: str, nonce: str) -> Mapping[str, CommandResult]:
    """The results of a `batch` script by name; a missing or cut section is simply absent."""
    outs = _sections(stdout, nonce)
    errs = _sections(stderr, nonce)
    return {
        name: CommandResult(int(rc), text, errs.get(name, ("", None))[0])
        for name, (text, rc) in outs.items()
        if rc is not None
    }
