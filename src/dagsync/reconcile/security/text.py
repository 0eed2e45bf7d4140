"""Text that a host supplies (file names in AIDE's and ClamAV's reports, CrowdSec's decision
reasons), made safe to print: a file name may hold a newline, an ANSI escape or a bidi
control, which printed raw would forge lines of dagsync's output, e.g. a GitHub workflow
command (`::error::...`) at the start of a line of a CI log, or repaint a terminal.

`visible` escapes every character that is not printable (`\\n`, `\\x1b`, `\\u202e`) and the
backslash itself (`\\\\`), so the result is one line, unambiguous, and the same in every
output format (text and JSON alike)."""

from __future__ import annotations

LIMIT = 1024  # characters kept of one value (a path is at most 4096 bytes; reports stay short)


def _escape(c: str) -> str:
    if c == "\\":
        return "\\\\"
    if c.isprintable():
        return c
    code = ord(c)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if c in named:
        return named[c]
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def visible(text: str) -> str:
    """`text` with every non-printable character and the backslash escaped; cut at LIMIT."""
    out = "".join(_escape(c) for c in text[:LIMIT])
    return out + ("..." if len(text) > LIMIT else "")
