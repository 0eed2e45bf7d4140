"""Building remote shell commands: every variable part is quoted with `shlex.quote`.

File contents never travel on the command line: they go on the command's standard input
and are checked (SHA-256) before the file is renamed into place, so an interrupted upload
never replaces a file with half of one.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Sequence

from dagsync.errors import DagsyncError


class UnsafeValue(DagsyncError, ValueError):
    """A value that a renderer refuses to write: it would change the meaning of the script,
    file or command it lands in (a line break in a one-line field, a separator in a key...).
    The validator refuses such values first; renderers check again, independently."""


def q(value: str) -> str:
    """`value` as one shell word (`shlex.quote`); a NUL, which no shell word can hold, is
    refused."""
    if "\x00" in value:
        raise UnsafeValue(f"{value!r} contains a NUL character: no shell word can hold it")
    return shlex.quote(value)


def one_line(text: str, what: str) -> str:
    """`text` if it holds no control character (CR, LF, NUL, tab...), else UnsafeValue."""
    bad = next((c for c in text if not c.isprintable()), None)
    if bad is not None:
        raise UnsafeValue(f"{what} {text!r} contains the control character {bad!r}")
    return text


def key_line(key: str) -> str:
    """An OpenSSH public key as one `authorized_keys` line (no options: type, key, comment);
    UnsafeValue for anything else, e.g. a comment with a CR or LF that would start a line."""
    # lazy: importing it here keeps annotated_types, dagsync.model, pydantic (+3) out of this module's load
    from dagsync.model.base import SSH_PUBLIC_KEY_RE

    line = key.strip(" ")
    if SSH_PUBLIC_KEY_RE.fullmatch(line) is None:
        raise UnsafeValue(
            f"the key {line[:30]!r}... is not one OpenSSH public key line "
            "(type, base64 key, comment without control characters)"
        )
    return line


def comment(text: str) -> str:
    """A shell (or crontab) comment line holding `text`, which must be one line."""
    return f"# {one_line(text, 'comment text')}"


def join(*argv: str | int) -> str:
    """One command, each argument quoted."""
    return " ".join(q(str(a)) for a in argv)


def atomic_write(
    path: str,
    content: bytes,
    *,
    mode: str = "0644",
    owner: str | None = None,
    check: str | None = None,
    dir_mode: str = "0755",
    dir_owner: str | None = None,
) -> str:
    """A script that writes its standard input to `path` atomically (temp file + rename).

    `check` is a trusted shell fragment run on the temporary file `"$tmp"` before the rename
    (e.g. `nft -c -f "$tmp"`); the file is renamed only if the content's SHA-256 matches.
    """
    if not all(c.isdigit() for c in mode + dir_mode):
        raise ValueError(f"modes are octal digits: {mode!r} {dir_mode!r}")
    digest = hashlib.sha256(content).hexdigest()
    folder = posixpath.dirname(path) or "/"
    steps = [
        "set -e",
        "umask 077",
        f"[ -d {q(folder)} ] || {{ mkdir -p {q(folder)} && chmod {dir_mode} {q(folder)}; }}",
    ]
    if dir_owner is not None:
        steps.append(f"chown -h {q(dir_owner)} {q(folder)}")
    steps += [
        f"tmp=$(mktemp {q(path + '.dagsync-XXXXXX')})",
        "trap 'rm -f \"$tmp\"' EXIT HUP INT TERM",
        'cat > "$tmp"',
        f"printf '%s  %s\\n' {q(digest)} \"$tmp\" | sha256sum -c --status - "
        "|| { echo 'dagsync: incomplete upload, file left unchanged' >&2; exit 3; }",
        f'chmod {mode} "$tmp"',
    ]
    if owner is not None:
        steps.append(f'chown -h {q(owner)} "$tmp"')
    if check is not None:
        steps.append(check)
    # -T: a directory (or a link to one) at `path` is replaced or refused, never entered
    steps += [f'mv -fT "$tmp" {q(path)}', "trap - EXIT HUP INT TERM"]
    return "\n".join(steps) + "\n"


def as_user(uid: str, gid: str, body: str) -> str:
    """A command that runs the script `body` (`sh -c`) as the user `uid`:`gid` with that user's
    groups (`setpriv`, util-linux): what it does to files, it does with that user's rights.
    `uid` and `gid` are shell words, e.g. `"$uid"` set by an earlier step; standard input
    passes through to `body`."""
    return (
        f"setpriv --reuid={uid} --regid={gid} --init-groups --no-new-privs --inh-caps=-all"
        f" -- sh -c {q(body)}"
    )


def script(steps: Sequence[str]) -> str:
    """Several commands that stop at the first failure."""
    return "\n".join(["set -e", *steps]) + "\n"
