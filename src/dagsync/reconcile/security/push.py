"""`dagsync block` at once: a decision pushed to the local APIs that hold the client's servers.

The scopes say where a block of client C must reach (`scope.scopes_of_client`): the
`network` scope for a client that shares network-wide, its own scope otherwise, each of its
servers' scopes for a client that opted out.  The bouncers pull it within their poll
interval; git keeps the record (the blocklist entry `dagsync block` writes for review).
The refusals of a blocklist entry apply first (`model.reserved.blocked_problem`: wider than
`blocklist_widest`, DAG's ranges and hosts, any server of the network).
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

from dagsync.errors import DagsyncError
from dagsync.model.reserved import blocked_problem
from dagsync.reconcile.security import crowdsec
from dagsync.reconcile.security.install import Step
from dagsync.reconcile.security.scope import Scope, scopes_of_client
from dagsync.reconcile.shell import join, one_line
from dagsync.validate.repository import Repository

DEFAULT_DURATION = "168h"  # a week: long enough for the reviewed git entry to land


def refused(repo: Repository, client: str, network: IPv4Network | IPv6Network) -> str | None:
    """Why the decision may not be pushed, or None."""
    servers = [
        (f"server {c.id}/{s.name}", ip) for c in repo.clients for s in c.servers for ip in s.ips
    ]
    return blocked_problem(network, repo.settings, servers)


def block_steps(
    all_scopes: tuple[Scope, ...],
    client: str,
    network: IPv4Network | IPv6Network,
    reason: str,
    duration: str = DEFAULT_DURATION,
) -> list[Step]:
    """One `cscli decisions add` per scope of `client`, run on the security host."""
    chosen = scopes_of_client(all_scopes, client)
    if not chosen:
        raise DagsyncError(f"client {client} has no server in any CrowdSec scope")
    text = one_line(f"dagsync block ({client}): {reason}", "reason")
    single = network.prefixlen == network.max_prefixlen
    target = ("--ip", str(network.network_address)) if single else ("--range", str(network))
    return [
        Step(
            f"decision {network} -> {scope.key}",
            join(
                "cscli",
                "-c",
                crowdsec.lapi_config_path(scope),
                "--error",
                "decisions",
                "add",
                *target,
                "--type",
                "ban",
                "--duration",
                duration,
                "--reason",
                text,
            ),
        )
        for scope in chosen
    ]
