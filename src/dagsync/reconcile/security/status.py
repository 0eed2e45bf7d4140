"""The security services in `dagsync status`: each server's last AIDE check and ClamAV scan
(the reports the daily jobs keep, read over SSH) and its public IPs in the DNS blocklists of
`policies/dag.yaml` (looked up from here, with dnspython).

Every name a report holds is escaped by the parsers (`text.visible`); a report that cannot
be read is "unknown", never clean.  A server whose flag is off (by request) is not checked
for that service.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from dagsync.reconcile.core import Target
from dagsync.reconcile.daghosts import Host, observe_all
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import RunOptions
from dagsync.reconcile.security import aide, antivirus, reputation
from dagsync.reconcile.security.text import visible
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.inventory import Overrides, endpoint
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository

KIND = "security-status"


@dataclass(frozen=True)
class SecurityStatus:
    target: str
    integrity: aide.Integrity | None = None  # None: file integrity not watched (flag off)
    scan: antivirus.Detections | None = None  # None: no antivirus scan (flag off)
    listings: tuple[reputation.Lookup, ...] = ()  # the listed and unknown lookups
    error: str | None = None  # the server could not be read

    def lines(self) -> list[str]:
        if self.error is not None:
            return [f"{self.target}: security reports unknown ({self.error})"]
        out = self.integrity.lines(self.target) if self.integrity else []
        out += self.scan.lines(self.target) if self.scan else []
        out += [lookup.line() for lookup in self.listings]
        return out

    @property
    def healthy(self) -> bool:
        return not self.lines()

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "integrity": asdict(self.integrity) if self.integrity else None,
            "antivirus": asdict(self.scan) if self.scan else None,
            "reputation": [asdict(r) for r in self.listings],
            "error": self.error,
        }


def read_script(nonce: str) -> str:
    """Both reports between markers no file name can forge (a nonce)."""
    return (
        f"echo @@{nonce} aide; cat {q(aide.LAST_CHECK)} 2>/dev/null; echo; "
        f"echo @@{nonce} clamav; cat {q(antivirus.LAST_SCAN)} 2>/dev/null; true\n"
    )


def parse(nonce: str, result: CommandResult) -> dict[str, str] | str:
    """The two reports' texts, or why the read failed."""
    if not result.ok:
        return f"reading the reports failed ({result.exit_code})"
    parts: dict[str, str] = {}
    for block in result.stdout.split(f"@@{nonce} ")[1:]:
        name, _, text = block.partition("\n")
        parts[name.strip()] = text
    return parts


def _status(
    target: str, read: Any, error: str | None, intrusion: bool, scan: bool
) -> SecurityStatus:
    if error is not None or not isinstance(read, dict):
        reason = error or (read if isinstance(read, str) else "not read")
        return SecurityStatus(target, error=visible(reason))
    integrity = aide.parse_report(read.get("aide", "")) if intrusion else None
    detections = antivirus.parse_scan(read.get("clamav", "")) if scan else None
    return SecurityStatus(target, integrity, detections)


def read(
    repo: Repository,
    overrides: Overrides,
    options: RunOptions,
    client: str | None = None,
    port: int = 53,
) -> list[SecurityStatus]:
    """Every server of `repo` (of `client`): its reports, its addresses' reputation."""
    nonce = secrets.token_hex(8)
    configs = [repo.client(client)] if client else list(repo.clients)
    hosts: list[tuple[Host, Any]] = []
    for config in configs:
        for server in config.servers:
            key = f"{config.id}/{server.name}"
            host = Host(Target(config.id, server.name), endpoint(key, server, overrides), KIND)
            host.read, host.parse = read_script(nonce), partial(parse, nonce)
            hosts.append((host, server))
    watched = [h for h, s in hosts if s.security.intrusion_detection or s.security.antivirus]
    observe_all(watched, options, credentials(repo.settings.ssh_user, overrides), keep=False)
    settings = repo.settings.ip_reputation
    lookups: dict[str, list[reputation.Lookup]] = {}
    if settings is not None:
        ask = reputation.resolver([str(r) for r in settings.resolvers], port)
        checked = [
            (f"{c.id}/{s.name}", str(ip))
            for c in configs
            for s in c.servers
            if s.security.ip_reputation_monitoring
            for ip in s.ips
        ]
        for found in reputation.check(ask, checked, [str(z) for z in settings.blocklists]):
            if found.state != "clean":
                lookups.setdefault(found.target, []).append(found)
    out = []
    for host, server in hosts:
        flags = server.security
        status = (
            _status(
                host.target.key,
                host.observed,
                host.error,
                flags.intrusion_detection,
                flags.antivirus,
            )
            if host in watched
            else SecurityStatus(host.target.key)
        )
        out.append(
            SecurityStatus(
                status.target,
                status.integrity,
                status.scan,
                tuple(lookups.get(host.target.key, ())),
                status.error,
            )
        )
    return out


def render_text(rows: Sequence[SecurityStatus]) -> str:
    lines = [line for row in rows for line in row.lines()]
    clean = sum(1 for row in rows if row.healthy)
    lines.append(f"security: {clean} of {len(rows)} server(s) with nothing to report")
    return "\n".join(lines) + "\n"


def as_json(rows: Sequence[SecurityStatus]) -> list[dict[str, Any]]:
    return [row.as_json() for row in rows]


def render_json(rows: Sequence[SecurityStatus]) -> str:
    return json.dumps({"version": 1, "security": as_json(rows)}, indent=2, sort_keys=True) + "\n"
