"""Shared pieces of the configuration model: the strict base class and small value types."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

REQUEST_ID_PATTERN = r"^REQ-[0-9]{4}-[0-9]{3,}$"


@dataclass(frozen=True)
class HostBound:
    """Marker (in `Annotated` metadata) of a value that reaches a host: a script, a
    configuration file or a command line.  Such a value has a strict syntax, enforced by the
    model and stated in the JSON schema, and every renderer quotes or escapes it anyway.
    `tests/test_hostile_fields.py` finds these fields by this marker and fails when a string
    field without it reaches a renderer."""

    syntax: str


RequestId = Annotated[
    str,
    StringConstraints(pattern=REQUEST_ID_PATTERN),
    Field(description="A request id of this client's requests.yaml, e.g. REQ-2026-004."),
]
Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
    Field(description="Lower-case letters, digits and dashes."),
    HostBound("slug"),
]
HostName = Annotated[
    str,
    StringConstraints(
        max_length=254,
        # Labels of letters, digits, "-" and "_" (not at a label's end; "_" not in the last
        # label), dot-separated. Written without ambiguity so that backtracking engines (editors,
        # check-jsonschema, Python's re) stay linear: the former `{0,61}` form took 40 s on a
        # 41-character string. The 63-character label limit is not expressed.
        pattern=r"^([A-Za-z0-9_]([_-]*[A-Za-z0-9])*\.)*[A-Za-z0-9](-*[A-Za-z0-9])*\.?$",
    ),
    Field(description="A DNS name."),
    HostBound("host name"),
]
# A mail domain: lower-case DNS labels (letters, digits, inner dashes), at least two, no
# trailing dot; it is a key of the shared Postfix and Dovecot tables.
DOMAIN_PATTERN = r"^([a-z0-9](-*[a-z0-9])*\.)+[a-z0-9](-*[a-z0-9])*$"
MailDomain = Annotated[
    str,
    StringConstraints(max_length=253, pattern=DOMAIN_PATTERN),
    Field(
        description="A mail domain in lower case: labels of letters, digits and inner dashes, "
        "dot-separated, no trailing dot (e.g. alpine-books.example)."
    ),
    HostBound("mail domain"),
]
# A hosted mail address: a local part of letters, digits and `.`, `_`, `+`, `-` (no dot at
# either end, no two dots in a row), then a mail domain.  Postfix maps split on commas and
# white space: neither can occur.
MAIL_ADDRESS_PATTERN = (
    r"^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@([a-z0-9](-*[a-z0-9])*\.)+[a-z0-9](-*[a-z0-9])*$"
)
MailAddress = Annotated[
    str,
    StringConstraints(max_length=254, pattern=MAIL_ADDRESS_PATTERN),
    Field(
        description="A mail address: a local part of letters, digits, `.`, `_`, `+` and `-` "
        "(no leading, trailing or doubled dot), `@`, a mail domain in lower case."
    ),
    HostBound("mail address"),
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
HHMM = Annotated[
    str,
    StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description="A time of day, HH:MM (24 h, Europe/Paris)."),
    HostBound("time of day"),
]
# An absolute, normalised path in a safe character set: components of letters, digits and
# `.`, `_`, `+`, `@`, `-`, never `.` or `..`, no empty component, no trailing slash.  Written
# without look-around so that every regular expression engine reads it the same way.
SAFE_PATH_PATTERN = (
    r"^(/([A-Za-z0-9_+@-][A-Za-z0-9._+@-]*|\.[A-Za-z0-9_+@-][A-Za-z0-9._+@-]*"
    r"|\.\.[A-Za-z0-9._+@-]+))+$"
)
SafePath = Annotated[
    str,
    StringConstraints(max_length=1024, pattern=SAFE_PATH_PATTERN),
    Field(
        description="An absolute, normalised path: `/` then components of letters, digits, "
        "`.`, `_`, `+`, `@` and `-` (not `.` or `..`), no trailing slash; no spaces, quotes, "
        "`$`, globs or control characters."
    ),
    HostBound("absolute path"),
]
# A Unix user name (useradd's portable set).
USER_NAME_PATTERN = r"^[a-z_][a-z0-9_-]{0,31}$"
UserName = Annotated[
    str,
    StringConstraints(pattern=USER_NAME_PATTERN),
    Field(
        description="A Unix user name: a lower-case letter or `_`, then up to 31 lower-case "
        "letters, digits, `_` or `-`."
    ),
    HostBound("user name"),
]
# Free text that lands on one line of a host file (e.g. the comment field of /etc/passwd):
# printable, no control character, no `:` or `,` (passwd field separators).
ONE_LINE_PATTERN = r"^[^\x00-\x1F\x7F:,]+$"
OneLine = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=ONE_LINE_PATTERN),
    Field(
        description="Text on one line: no control characters (CR, LF, NUL, tab...), no `:` "
        "or `,`; at most 200 characters."
    ),
    HostBound("one line of text"),
]

# An OpenSSH public key line: type, base64 key, optional comment of printable ASCII (no CR,
# LF, NUL or other control character, and no Unicode line break such as U+2028 or U+0085:
# authorized_keys and known_hosts are line based, and so are the reads of them).
SSH_PUBLIC_KEY_RE = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com)"
    r" [A-Za-z0-9+/]+={0,3}( [ -~]*)?$"
)
SshPublicKey = Annotated[
    str,
    StringConstraints(max_length=16384, pattern=SSH_PUBLIC_KEY_RE.pattern),
    Field(
        description="An OpenSSH public key line: type, base64 key, optional comment of "
        "printable ASCII only; one line: no control character (CR, LF, NUL, tab) and no "
        "Unicode line separator anywhere."
    ),
    HostBound("authorized key line"),
]


AMOUNT_TEXT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_AMOUNT_TEXT = re.compile(AMOUNT_TEXT_PATTERN.strip("^$"))


def _amount(value: object) -> object:
    """An amount is a YAML number, or text in plain decimal notation ("10.00") that keeps its
    digits; anything else (booleans, "1e3", " 12") is refused, as the JSON Schema refuses it."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        if _AMOUNT_TEXT.fullmatch(value) is None:
            raise ValueError('a number is expected, e.g. 10 or "10.00"')
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError('a number is expected, e.g. 10 or "10.00"')
    return Decimal(str(value))


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    Field(description='A number (money, gigabytes), or its decimal text ("10.00"), kept exact.'),
]


_DAY_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(value: object) -> object:
    """A calendar day as YAML writes it (a date) or as JSON carries it ("2026-10-20"). pydantic
    alone would read "0" or "1700000000" as a Unix time (1970-01-01...) and a datetime as its
    day; the JSON Schema's `format: date` refuses both, and so does the model."""
    if isinstance(value, dt.datetime | int | float):
        raise ValueError("a date is expected, written YYYY-MM-DD (e.g. 2026-10-20)")
    if not isinstance(value, str):
        return value  # a date, or anything else for pydantic's own refusal
    if _DAY_TEXT.fullmatch(value) is None:
        raise ValueError("a date is expected, written YYYY-MM-DD (e.g. 2026-10-20)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a day of the calendar") from None


Day = Annotated[dt.date, BeforeValidator(_day)]

MOMENT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
_MOMENT_TEXT = re.compile(MOMENT_PATTERN)
_MOMENT_ERROR = "a date and time is expected, written YYYY-MM-DDTHH:MM (e.g. 2026-12-08T22:00)"


def _moment(value: object) -> object:
    """A date and time as YAML writes it (a datetime) or as text; like a Day, never a number
    (pydantic would read "1700000000" as a Unix time) and never a bare date."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date | int | float):
        raise ValueError(_MOMENT_ERROR)
    if not isinstance(value, str):
        return value
    if _MOMENT_TEXT.fullmatch(value) is None:
        raise ValueError(_MOMENT_ERROR)
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a moment of the calendar") from None


Moment = Annotated[
    dt.datetime,
    BeforeValidator(_moment),
    WithJsonSchema({"type": "string", "pattern": MOMENT_PATTERN}),
]


class Strict(BaseModel):
    """Base of every configuration record: unknown fields are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Derogable(Strict):
    """A section where the CGV allows another value "sur demande spécifique du client".

    A non-default value is accepted only when `request` cites a request of the same client.
    """

    request: RequestId | None = Field(
        default=None,
        description="The client request that backs a value differing from the CGV default.",
    )
