"""The secrets that agents and bouncers present to their local API, derived from one master
secret (HMAC-SHA256), so nothing secret is stored in git or on DAG's side besides that one
value: the same model and master secret always render the same files, which makes a
second apply a no-op and lets `plan` compare digests.

The master secret comes from the environment (`DAGSYNC_SECURITY_SECRET`, a CI secret like the
observer's key); it is never logged, and neither is anything derived from it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from dagsync.errors import DagsyncError

SECRET_ENV = "DAGSYNC_SECURITY_SECRET"
MIN_SECRET_BYTES = 32
DAGSYNC_MACHINE = "dagsync"  # the security host's own machine in each scope (`dagsync block`)


class MissingSecret(DagsyncError):
    """No usable master secret for the security services' credentials."""


@dataclass(frozen=True)
class Secrets:
    master: bytes

    def __post_init__(self) -> None:
        if len(self.master) < MIN_SECRET_BYTES:
            raise MissingSecret(
                f"the security master secret must hold at least {MIN_SECRET_BYTES} bytes"
            )

    def __repr__(self) -> str:  # never print the secret
        return "Secrets(<hidden>)"

    def _derive(self, purpose: str, scope: str, name: str) -> str:
        message = "\x00".join((purpose, scope, name)).encode()
        return hmac.new(self.master, message, hashlib.sha256).hexdigest()

    def machine_password(self, scope: str, name: str) -> str:
        return self._derive("machine", scope, name)

    def bouncer_key(self, scope: str, name: str) -> str:
        return self._derive("bouncer", scope, name)[:48]


def from_environment(environ: dict[str, str] | None = None) -> Secrets:
    value = (os.environ if environ is None else environ).get(SECRET_ENV, "")
    if not value:
        raise MissingSecret(f"set {SECRET_ENV} (at least {MIN_SECRET_BYTES} bytes)")
    return Secrets(value.encode())
