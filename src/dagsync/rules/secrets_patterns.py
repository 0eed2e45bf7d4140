"""What a secret looks like, for `dagsync.rules.secrets`: private keys, password-like keys with a
value, high-entropy values of key-like fields, URLs with credentials and passwords given in a
sentence. Each detector yields where the secret starts, which characters are the value, and a
message that never repeats it.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple

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


class Hit(NamedTuple):
    """A secret: where to report it, which characters are the secret itself, what it is."""

    start: int
    value_start: int
    value_end: int
    message: str


# A password given in a sentence, without `:` or `=`: "mdp Zq8-vLm3-Rt7w", "password is X",
# "le mot de passe est X". Only a value that looks like a password (a digit, or a symbol with
# mixed case) is flagged, so that "password reset requested" stays prose.
_SPOKEN = re.compile(
    r"(?i)(?<![\w-])(?P<word>mdp|mot[ _-]?de[ _-]?passe|motdepasse|passwords?|passwd|pwd"
    r"|passphrase)(?:[ \t]+(?:is|est|was|=|:))?[ \t]+(?P<value>[^\s'\"]+)"
)


def _spoken(text: str) -> Iterator[Hit]:
    for match in _SPOKEN.finditer(text):
        value = match["value"].rstrip(".,;)")
        if _PLACEHOLDER.match(value) or not _password_like(value):
            continue
        yield Hit(
            match.start(),
            match.start("value"),
            match.start("value") + len(value),
            (
                f"a password follows `{match['word']}` here: remove it from the repository "
                "(rotate it if it was real) and keep it in the vault"
            ),
        )


def hits(rel: str, text: str) -> Iterator[Hit]:
    yield from _private_keys(text)
    yield from _assignments(rel, text)
    yield from _url_credentials(text)
    yield from _spoken(text)


def _url_credentials(text: str) -> Iterator[Hit]:
    """`scheme://user:password@`: found from each `://`, the scheme read backwards."""
    slashes = text.find("://")
    while slashes >= 0:
        start = slashes
        while start > 0 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        match = _URL_CREDENTIALS.match(text, slashes + 3)
        if start < slashes and match is not None and not _PLACEHOLDER.match(match["value"]):
            yield Hit(
                start,
                match.start("value"),
                match.end("value"),
                (
                    f"a `{text[start:slashes]}://` URL embeds a password: remove the credentials "
                    "from the URL, rotate them and keep them in the vault"
                ),
            )
        slashes = text.find("://", slashes + 3)


def _private_keys(text: str) -> Iterator[Hit]:
    headers = [m.start() for m in _PRIVATE_KEY.finditer(text)]
    for match in _PRIVATE_KEY.finditer(text):
        yield Hit(
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
            yield Hit(
                match.start(),
                match.start(),
                end,
                (
                    "an OpenSSH private key body is written here: remove it from the repository, "
                    "rotate it and keep it in the vault"
                ),
            )
    for match in _PUTTY_KEY.finditer(text):
        yield Hit(
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


def _assignments(rel: str, text: str) -> Iterator[Hit]:
    """`key: value` and `key=value` pairs whose key ends like a secret's."""
    quoted_only = rel.endswith(".py")
    for start, key, value in _pairs(text):
        raw = value["value"]
        if not _is_secret(raw, quoted_only):
            continue
        if _SECRET_KEY.search(key) is None and not _random_looking(unquote(raw)):
            continue  # a key-like field (`signing_key`) holds a secret only if it looks random
        if _in_prose(text, start) and not _password_like(unquote(raw)):
            continue  # "reset the FTP password: the client lost it"
        yield Hit(
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
    value = unquote(raw).strip()
    return not _PLACEHOLDER.match(value) and not _PUBLIC_KEY.match(value)


def unquote(raw: str) -> str:
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
