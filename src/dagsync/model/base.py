"""Shared pieces of the configuration model: the strict base class and small value types."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

REQUEST_ID_PATTERN = r"^REQ-[0-9]{4}-[0-9]{3,}$"

RequestId = Annotated[
    str,
    StringConstraints(pattern=REQUEST_ID_PATTERN),
    Field(description="A request id of this client's requests.yaml, e.g. REQ-2026-004."),
]
Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
    Field(description="Lower-case letters, digits and dashes."),
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
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
HHMM = Annotated[
    str,
    StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description="A time of day, HH:MM (24 h, Europe/Paris)."),
]

SSH_PUBLIC_KEY_RE = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com)"
    r" [A-Za-z0-9+/]+={0,3}( .*)?$"
)
SshPublicKey = Annotated[
    str,
    StringConstraints(pattern=SSH_PUBLIC_KEY_RE.pattern),
    Field(description="An OpenSSH public key line: type, base64 key, optional comment."),
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
