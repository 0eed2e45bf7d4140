"""The consumer-key access rules dagsync needs, and the request for a key with them.

:data:`ACCESS_RULES` is the one table of the consumer-key rules dagsync needs; every signed
call checks that the table covers it (a dagsync bug otherwise), and
``dagsync ovh credentials`` prints it and requests a key with exactly those rules.
:data:`READ_ONLY_RULES` are its GET rules, derived from it: the rules of the consumer key
that plans (pull requests, the nightly drift check) use, which cannot change anything.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

from dagsync.ovhapi.errors import OvhUnexpectedResponse

if TYPE_CHECKING:
    from dagsync.ovhapi.client import OvhApi

__all__ = [
    "ACCESS_RULES",
    "READ_ONLY_RULES",
    "AccessRule",
    "ConsumerKeyRequest",
    "request_consumer_key",
    "required_rule",
]


@dataclass(frozen=True)
class AccessRule:
    """A consumer-key access rule; ``*`` matches anything, ``/`` included."""

    method: str
    path: str
    why: str = field(default="", compare=False)

    def covers(self, method: str, path: str) -> bool:
        pattern = re.escape(self.path).replace(r"\*", ".*")
        return self.method == method and re.fullmatch(pattern, unquote(path)) is not None

    def as_json(self) -> dict[str, str]:
        return {"method": self.method, "path": self.path}

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


_SERVER = "/dedicated/server"
_BACKUP = "/dedicated/server/*/features/backupFTP"
ACCESS_RULES: Final = (
    AccessRule("GET", _SERVER, "list the account's dedicated servers"),
    AccessRule("GET", f"{_SERVER}/*", "read servers, IPs, service infos, tasks, backup storage"),
    AccessRule("PUT", f"{_SERVER}/*", "switch OVH monitoring; change backup-storage protocols"),
    AccessRule("POST", _BACKUP, "activate the backup storage"),
    AccessRule("POST", f"{_BACKUP}/access", "allow an IP block on the backup storage"),
    AccessRule("DELETE", f"{_BACKUP}/access/*", "remove an undeclared backup-storage access"),
    AccessRule("GET", "/ip/*", "read edge firewalls, their rules, mitigation, reverse DNS"),
    AccessRule("POST", "/ip/*/firewall", "put an address on the edge firewall"),
    AccessRule("PUT", "/ip/*/firewall/*", "enable the edge firewall of an address"),
    AccessRule("POST", "/ip/*/firewall/*/rule", "create edge firewall rules"),
    AccessRule("DELETE", "/ip/*/firewall/*/rule/*", "delete edge firewall rules"),
    AccessRule("POST", "/ip/*/reverse", "set reverse DNS"),
    AccessRule("DELETE", "/ip/*/reverse/*", "remove reverse DNS"),
)
"""The minimal access rules of dagsync's consumer key: the one table, used by every call."""

READ_ONLY_RULES: Final = tuple(rule for rule in ACCESS_RULES if rule.method == "GET")
"""The GET rules of :data:`ACCESS_RULES`: a consumer key with only these can plan, not apply."""


def required_rule(method: str, path: str) -> AccessRule:
    """The rule of :data:`ACCESS_RULES` that covers ``method path`` (a dagsync bug if none)."""
    path = path.split("?", 1)[0]
    for rule in ACCESS_RULES:
        if rule.covers(method, path):
            return rule
    raise ValueError(f"{method} {path} is not covered by ovhapi.ACCESS_RULES: add a rule there")


# -- consumer keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerKeyRequest:
    """A requested key: usable once the user has validated it at ``validation_url``."""

    consumer_key: str = field(repr=False)
    validation_url: str
    state: str


def request_consumer_key(
    api: OvhApi,
    *,
    allowed_ips: Sequence[str] = (),
    redirection: str | None = None,
    read_only: bool = False,
) -> ConsumerKeyRequest:
    """``POST /auth/credential`` with exactly :data:`ACCESS_RULES` (or, ``read_only``,
    :data:`READ_ONLY_RULES`) (unsigned; never repeated after an uncertain failure, which would
    leave a second pending key)."""
    rules = READ_ONLY_RULES if read_only else ACCESS_RULES
    body = {
        "accessRules": [rule.as_json() for rule in rules],
        "redirection": redirection,
        "allowedIPs": [str(ipaddress.ip_network(ip, strict=False)) for ip in allowed_ips] or None,
    }
    raw = api.call("POST", "/auth/credential", body=body, signed=False)
    try:
        return ConsumerKeyRequest(
            str(raw["consumerKey"]), str(raw["validationUrl"]), str(raw["state"])
        )
    except (KeyError, TypeError) as error:
        raise OvhUnexpectedResponse(
            f"POST /auth/credential: unexpected answer ({error!r})"
        ) from None
