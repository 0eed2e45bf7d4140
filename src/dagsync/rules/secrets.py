"""Secrets in the repository (CGV Art. 6: passwords are confidential): find them, never echo.

`scan_text` looks at raw text, comments included, for private keys, password-like keys with a
value, high-entropy values of key-like fields and URLs with credentials. Messages name what
was found and where, never the value. Outside `clients/`, a line carrying the marker
`dagsync: allow-secret` is skipped (documentation and test data that show a fake secret on
purpose); in client files nothing is skipped.
"""

from __future__ import annotations

import base64
import bisect
import fnmatch
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from dagsync.findings import Finding, Severity

RULE_ID = "ACC004"
ARTICLE = "6"
PRAGMA = "dagsync: allow-secret"
MAX_BYTES = 1024 * 1024
MASK = "****"

_PRIVATE_KEY = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
_OPENSSH_BODY = re.compile(re.escape(base64.b64encode(b"openssh-key-v1").decode()[:19]))
_PUTTY_KEY = re.compile(r"PuTTY-User-Key-File-[0-9]+:")
_VALUE = r"""(?P<value>"[^"\n]*"|'[^'\n]*'|[^\s"'#,{}\[\]|>&*!][^\s"',}\]]*)"""
_SECRET_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|application[_-]?key|consumer[_-]?key|auth[_-]?key|credentials?"
    r"|mdp|mot[_ -]?de[_ -]?passe|motdepasse"  # French: "mot de passe", "mdp"
)
# The last word of a key that may hold a secret; found with str.find on an ASCII-lowercased
# copy of the text (same length), then checked: much faster than one big regex.
_KEY_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "credential",
    "credentials",
    "key",
    "auth",
    "signature",
    "salt",
    "mdp",
    "passe",  # mot_de_passe, mot-de-passe, motdepasse
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SEPARATOR = re.compile(r"[\"']?[ \t]*[:=][ \t]*")
_VALUE_AT = re.compile(_VALUE)
_SECRET_KEY = re.compile(rf"(?i)(?:{_SECRET_WORDS})$")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_URL_CREDENTIALS = re.compile(r"[^\s:/@\"'<>]+:(?P<value>[^\s/@\"'<>]+)@")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_PLACEHOLDER = re.compile(
    r"^(|(?i:null|~|none|true|false|yes|no)"  # empty or not a string
    r"|<.*|\{\{.*\}\}|\{\w*\}|%\([^)]*\)s|\*+|(?i:x{3,})|(?i:\[?redacted\]?)"  # templates
    r"|\$[{(].*|\$[A-Za-z_]\w*|(?i:(vault|env|file|secret|keyring)://\S*)"  # references
    r"|(?i:password|passwd|pass|secret|pw)"  # the words themselves, as in `user:password@`
    r"|[A-Z][A-Z0-9]*(_[A-Z0-9]+)+)$"  # the name of an environment variable
)
_SPACE = re.compile(r"\s")
_PUBLIC_KEY = re.compile(r"^(ssh-|ecdsa-|sk-ssh-|sk-ecdsa-)")
_HIGH_ENTROPY_BITS = 3.5
_HIGH_ENTROPY_LENGTH = 20
_PROSE_MIN_LENGTH = 6


class _Hit(NamedTuple):
    """A secret: where to report it, which characters are the secret itself, what it is."""

    start: int
    value_start: int
    value_end: int
    message: str


def scan_text(rel: str, text: str) -> Iterator[tuple[int, int, str]]:
    """(line, column, message) of every secret in `text`, in order; `rel` is the file's path
    (it decides whether the allow marker is honoured and how strict values must be)."""
    found: dict[tuple[int, int], str] = {}
    lines = text.splitlines() if _honours_pragma(rel) and PRAGMA in text else []
    starts: list[int] | None = None
    for hit in _hits(rel, text):
        if starts is None:
            starts = _line_starts(text)
        line, column = _position(starts, hit.start)
        if PRAGMA in _line(lines, line):
            continue
        found.setdefault((line, column), hit.message)
    for (line, column), message in sorted(found.items()):
        yield line, column, message


def secret_values(rel: str, text: str) -> set[str]:
    """The secret values `scan_text` flags in `text` (unquoted), for reporters to mask them
    wherever another finding's message would quote them."""
    values: set[str] = set()
    for hit in _hits(rel, text):
        value = _unquote(text[hit.value_start : hit.value_end]).strip()
        if value:
            values.add(value)
    return values


def redact_line(line: str, rel: str = "") -> str:
    """`line` with every secret value replaced by `****`: for reporters that echo source."""
    spans: list[list[int]] = []
    for hit in sorted(_hits(rel, line), key=lambda h: h.value_start):
        if hit.value_end <= hit.value_start:
            continue
        if spans and hit.value_start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hit.value_end)  # overlapping secrets: one mask
        else:
            spans.append([hit.value_start, hit.value_end])
    for start, end in reversed(spans):
        line = line[:start] + MASK + line[end:]
    return line


# A password given in a sentence, without `:` or `=`: "mdp Zq8-vLm3-Rt7w", "password is X",
# "le mot de passe est X". Only a value that looks like a password (a digit, or a symbol with
# mixed case) is flagged, so that "password reset requested" stays prose.
_SPOKEN = re.compile(
    r"(?i)(?<![\w-])(?P<word>mdp|mot[ _-]?de[ _-]?passe|motdepasse|passwords?|passwd|pwd"
    r"|passphrase)(?:[ \t]+(?:is|est|was|=|:))?[ \t]+(?P<value>[^\s'\"]+)"
)


def _spoken(text: str) -> Iterator[_Hit]:
    for match in _SPOKEN.finditer(text):
        value = match["value"].rstrip(".,;)")
        if _PLACEHOLDER.match(value) or not _password_like(value):
            continue
        yield _Hit(
            match.start(),
            match.start("value"),
            match.start("value") + len(value),
            (
                f"a password follows `{match['word']}` here: remove it from the repository "
                "(rotate it if it was real) and keep it in the vault"
            ),
        )


def _hits(rel: str, text: str) -> Iterator[_Hit]:
    yield from _private_keys(text)
    yield from _assignments(rel, text)
    yield from _url_credentials(text)
    yield from _spoken(text)


def _url_credentials(text: str) -> Iterator[_Hit]:
    """`scheme://user:password@`: found from each `://`, the scheme read backwards."""
    slashes = text.find("://")
    while slashes >= 0:
        start = slashes
        while start > 0 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        match = _URL_CREDENTIALS.match(text, slashes + 3)
        if start < slashes and match is not None and not _PLACEHOLDER.match(match["value"]):
            yield _Hit(
                start,
                match.start("value"),
                match.end("value"),
                (
                    f"a `{text[start:slashes]}://` URL embeds a password: remove the credentials "
                    "from the URL, rotate them and keep them in the vault"
                ),
            )
        slashes = text.find("://", slashes + 3)


def _private_keys(text: str) -> Iterator[_Hit]:
    headers = [m.start() for m in _PRIVATE_KEY.finditer(text)]
    for match in _PRIVATE_KEY.finditer(text):
        yield _Hit(
            match.start(),
            match.end(),
            match.end(),
            (
                f"a private key (`-----BEGIN {match.group(1)}PRIVATE KEY-----`) is written here: "
                "remove it from the repository, rotate it and keep it in the vault"
            ),
        )
    for match in _OPENSSH_BODY.finditer(text):
        if not any(0 <= match.start() - h <= 200 for h in headers):
            end = _token_end(text, match.start())
            yield _Hit(
                match.start(),
                match.start(),
                end,
                (
                    "an OpenSSH private key body is written here: remove it from the repository, "
                    "rotate it and keep it in the vault"
                ),
            )
    for match in _PUTTY_KEY.finditer(text):
        yield _Hit(
            match.start(),
            match.end(),
            match.end(),
            (
                "a PuTTY private key file is written here: remove it from the repository, rotate "
                "it and keep it in the vault"
            ),
        )


def _token_end(text: str, start: int) -> int:
    found = _SPACE.search(text, start)
    return found.start() if found else len(text)


def _assignments(rel: str, text: str) -> Iterator[_Hit]:
    """`key: value` and `key=value` pairs whose key ends like a secret's."""
    quoted_only = rel.endswith(".py")
    for start, key, value in _pairs(text):
        raw = value["value"]
        if not _is_secret(raw, quoted_only):
            continue
        if _SECRET_KEY.search(key) is None and not _random_looking(_unquote(raw)):
            continue  # a key-like field (`signing_key`) holds a secret only if it looks random
        if _in_prose(text, start) and not _password_like(_unquote(raw)):
            continue  # "reset the FTP password: the client lost it"
        yield _Hit(
            start,
            value.start("value"),
            value.end("value"),
            (
                f"`{key}` holds a secret value: remove it from the repository (rotate it if it "
                "was real) and reference it from the vault or the environment instead"
            ),
        )


def _in_prose(text: str, key_start: int) -> bool:
    """Whether the key follows a word on its line (a sentence), not a line start, an
    indentation, a list dash, a comment mark or a flow-collection separator."""
    at = key_start - 1
    while at >= 0 and text[at] in " \t":  # backwards, without copying the text before
        at -= 1
    return at >= 0 and text[at] not in "\n{[,-#\"'"


def _password_like(value: str) -> bool:
    """Long enough, with a digit, or with a symbol and mixed case: not a plain word."""
    if len(value) < _PROSE_MIN_LENGTH:
        return False
    mixed = value.lower() != value and value.upper() != value
    symbol = any(not c.isalnum() for c in value)
    return any(c.isdigit() for c in value) or (symbol and mixed)


def _pairs(text: str) -> Iterator[tuple[int, str, re.Match[str]]]:
    """(key start, key, value match) of each pair whose key ends with one of `_KEY_WORDS`."""
    low = text.lower()
    if len(low) != len(text):  # a character lowered to several: keep positions aligned
        low = text.translate(_ASCII_LOWER)
    seen: set[int] = set()
    for word in _KEY_WORDS:
        end = low.find(word)
        while end >= 0:
            end += len(word)
            separator = _SEPARATOR.match(text, end)
            if separator is not None and end not in seen:
                seen.add(end)
                value = _VALUE_AT.match(text, separator.end())
                start = _key_start(text, end)
                if value is not None:
                    yield start, text[start:end], value
            end = low.find(word, end)


def _key_start(text: str, end: int) -> int:
    start = end
    while start > 0 and text[start - 1] in _KEY_CHARS:
        start -= 1
    return start


def _is_secret(raw: str, quoted_only: bool) -> bool:
    quoted = raw[:1] in "\"'" and len(raw) >= 2
    if quoted_only and not quoted:
        return False
    value = _unquote(raw).strip()
    return not _PLACEHOLDER.match(value) and not _PUBLIC_KEY.match(value)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _random_looking(value: str) -> bool:
    """Long, without spaces, letters and digits mixed, and high Shannon entropy per char."""
    if len(value) < _HIGH_ENTROPY_LENGTH or any(c.isspace() for c in value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    counts = Counter(value)
    bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return bits >= _HIGH_ENTROPY_BITS


def _line_starts(text: str) -> list[int]:
    """The offset of each line's first character (one pass; positions are then a bisect, so
    that thousands of hits in a large file stay linear)."""
    starts = [0]
    found = text.find("\n")
    while found >= 0:
        starts.append(found + 1)
        found = text.find("\n", found + 1)
    return starts


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


def _line(lines: list[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _honours_pragma(rel: str) -> bool:
    return not rel.startswith("clients/")


_SKIP_DIRS = (".git", "/clients", "__pycache__", ".venv", "venv", "node_modules")


def scan_repository(root: Path, rels: Iterable[str] | None = None) -> list[Finding]:
    """Secrets in the given repository-relative files (pass the tracked files, e.g. of
    `git ls-files`), or by default in every file outside clients/ (which the rules scan),
    .git/ and the folders the root .gitignore lists. Binary, non-UTF-8 and over-1-MiB files
    are skipped."""
    findings: list[Finding] = []
    for rel in sorted(rels) if rels is not None else _files(root):
        text = _read(root / rel)
        if text is None:
            continue
        findings.extend(
            Finding(rel, line, column, RULE_ID, Severity.ERROR, message, article=ARTICLE)
            for line, column, message in scan_text(rel, text)
        )
    return findings


def _files(root: Path) -> list[str]:
    skip = (*_SKIP_DIRS, *_ignored_folders(root))
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        rel = base.relative_to(root).as_posix()
        dirs[:] = sorted(d for d in dirs if not _skipped(f"{rel}/{d}".lstrip("./"), d, skip))
        out.extend((base / name).relative_to(root).as_posix() for name in sorted(files))
    return out


def _ignored_folders(root: Path) -> list[str]:
    """The folder patterns (`name/`, `path/to/`, `*.egg-info/`) of the root .gitignore."""
    try:
        lines = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip().rstrip("/") for line in lines if line.strip().endswith("/")]


def _skipped(rel: str, name: str, patterns: Iterable[str]) -> bool:
    """gitignore-style: `/x` is anchored at the root, `a/b` matches the path, `x` any name."""
    for pattern in patterns:
        if pattern.startswith("/"):
            hit = fnmatch.fnmatchcase(rel, pattern[1:])
        else:
            hit = fnmatch.fnmatchcase(rel if "/" in pattern else name, pattern)
        if hit:
            return True
    return False


def _read(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        raw = path.read_bytes()
    except OSError:
        return None
    if b"\0" in raw[:8192]:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
