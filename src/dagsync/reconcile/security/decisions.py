"""`dagsync security decisions`: the live decisions of the local APIs, and the long-lived ones
proposed as blocklist entries, so that nothing blocked for good lives only in a database.

The decisions are read on DAG's security host over SSH (`cscli decisions list -o json` of
each scope's local API).  Everything in them is server-supplied: a value that is not an IP
address or network is dropped, every text is escaped (`text.visible`).  A decision is
long-lived when at least `min_hours` of it remain (an agent's ban lasts 4 h; `dagsync block`
pushes a week; a ban made by hand with `cscli` may last any time).  Each is proposed for one
client: the one whose server raised it (the alert's machine), else the first client of its
scope, or the client asked for; not when that client's blocklist already covers it, nor when
a blocklist entry may not hold it (`push.refused`: DAG's ranges and hosts, the network's
servers, wider than allowed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.daghosts import dag_endpoint, dag_target
from dagsync.reconcile.security import crowdsec, push
from dagsync.reconcile.security.desired import security_host
from dagsync.reconcile.security.scope import Scope, scopes, scopes_of_client
from dagsync.reconcile.security.text import visible
from dagsync.reconcile.shell import join
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository

BEGIN, END = "@@dagsync-scope", "@@dagsync-end"
DEFAULT_MIN_HOURS = 24.0
_DURATION = re.compile(r"(-?)(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:[\d.]+ms)?")


@dataclass(frozen=True)
class Decision:
    scope: str  # the CrowdSec scope key: which servers it reaches
    value: str  # the banned address or network
    origin: str  # crowdsec (an agent), cscli (by hand or `dagsync block`), ...
    scenario: str  # the reason it carries
    machine: str  # the machine that raised the alert
    remaining: float | None  # seconds left; None when unreadable

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "value": self.value,
            "origin": self.origin,
            "scenario": self.scenario,
            "machine": self.machine,
            "remaining_seconds": self.remaining,
        }


@dataclass(frozen=True)
class Proposal:
    client: str
    network: IPv4Network | IPv6Network
    reason: str
    decision: Decision


def list_script(chosen: Sequence[Scope]) -> str:
    """Each scope's decisions between markers (a JSON string never holds a bare newline)."""
    lines = []
    for scope in chosen:
        config = crowdsec.lapi_config_path(scope)
        cscli = join("cscli", "-c", config, "--error", "decisions", "list", "-o", "json")
        lines.append(f"echo {BEGIN} {scope.key}; {cscli} --limit 0 || echo error; echo; echo {END}")
    return "\n".join(lines) + "\n"


def seconds(text: str) -> float | None:
    """A Go duration (`167h59m58.8s`, `-2m`) in seconds; None when it is not one."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()[1:]):
        return None
    sign, hours, minutes, secs = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)
    return -total if sign else total


def _decisions(scope: str, alerts: Any) -> list[Decision]:
    out: list[Decision] = []
    for alert in alerts if isinstance(alerts, list) else []:
        if not isinstance(alert, dict):
            continue
        machine = visible(str(alert.get("machine_id") or ""))
        for raw in alert.get("decisions") or []:
            if not isinstance(raw, dict) or str(raw.get("type", "ban")) != "ban":
                continue
            try:
                value = str(ip_network(str(raw.get("value", "")), strict=False))
            except ValueError:
                continue  # not an address: nothing a blocklist could hold
            out.append(
                Decision(
                    scope,
                    value,
                    visible(str(raw.get("origin") or "")),
                    visible(str(raw.get("scenario") or "")),
                    machine,
                    seconds(str(raw.get("duration") or "")),
                )
            )
    return out


def parse(output: str) -> tuple[list[Decision], list[str]]:
    """The decisions of `list_script`'s output, and the scopes that could not be read."""
    found: list[Decision] = []
    failed: list[str] = []
    for block in output.split(f"{BEGIN} ")[1:]:
        key, _, rest = block.partition("\n")
        body = rest.split(END, 1)[0].strip()
        scope = visible(key.strip())
        if body == "null" or not body:
            continue  # no decision
        try:
            found += _decisions(scope, json.loads(body))
        except ValueError:
            failed.append(scope)
    return found, failed


def read(
    repo: Repository, overrides: Overrides, client: str | None
) -> tuple[list[Decision], list[str]]:
    """The live decisions of every scope (of `client`'s scopes only), over SSH."""
    host, _ = security_host(repo.settings)
    all_scopes = scopes(repo.clients, host.first_port)
    chosen = scopes_of_client(all_scopes, client) if client else all_scopes
    if not chosen:
        return [], []
    endpoint = dag_endpoint(host.name, "security host", host.address, host.host_key, overrides)
    session = HostSession(
        dag_target(host.name), endpoint, credentials(repo.settings.ssh_user, overrides)
    ).open()
    try:
        result = session.run("sh -s", stdin=list_script(chosen).encode())
    finally:
        session.close()
    if not result.ok:
        raise DagsyncError(f"reading the decisions failed: {visible(result.stderr.strip()[-300:])}")
    return parse(result.stdout)


def _client_of(repo: Repository, decision: Decision, client: str | None) -> str | None:
    if client:
        return client
    host, _ = security_host(repo.settings)
    scope = next(
        (s for s in scopes(repo.clients, host.first_port) if s.key == decision.scope), None
    )
    if scope is None:
        return None
    raised = next((m.client for m in scope.members if m.name == decision.machine), None)
    return raised or sorted(m.client for m in scope.members)[0]


def _covered(repo: Repository, client: str, network: IPv4Network | IPv6Network) -> bool:
    for entry in repo.client(client).client.network.blocklist:
        if entry.address.version == network.version and network.subnet_of(entry.address):  # type: ignore[arg-type]
            return True
    return False


def proposals(
    repo: Repository,
    found: Sequence[Decision],
    client: str | None = None,
    min_hours: float = DEFAULT_MIN_HOURS,
) -> list[Proposal]:
    """The long-lived decisions not yet in git, each for one client (see the module)."""
    out: list[Proposal] = []
    widest_first = sorted(found, key=lambda d: (ip_network(d.value).prefixlen, d.value, d.scope))
    for decision in widest_first:
        if decision.remaining is None or decision.remaining < min_hours * 3600:
            continue
        owner = _client_of(repo, decision, client)
        network = ip_network(decision.value)
        if owner is None or any(
            p.client == owner
            and p.network.version == network.version
            and network.subnet_of(p.network)  # type: ignore[arg-type]
            for p in out
        ):
            continue  # one proposal already covers it
        if _covered(repo, owner, network) or push.refused(repo, owner, network):
            continue
        hours = decision.remaining / 3600
        why = decision.scenario or decision.origin or "no reason given"
        reason = (
            f"CrowdSec decision ({decision.origin}: {why}), {hours:.0f} h left when kept in git"
        )
        out.append(Proposal(owner, network, reason[:300], decision))
    return out
