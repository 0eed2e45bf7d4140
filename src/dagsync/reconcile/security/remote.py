"""`dagsync block --now`: the push of `push.block_steps`, run on DAG's security host over
SSH (the host key pinned from policies/dag.yaml or the hosts override file, like the mail and
storage hosts).  No master secret is needed: `cscli` on the security host uses each scope's
own credentials there."""

from __future__ import annotations

from ipaddress import ip_network

from dagsync.errors import DagsyncError
from dagsync.reconcile.daghosts import dag_endpoint, dag_target
from dagsync.reconcile.security import push
from dagsync.reconcile.security.desired import security_host
from dagsync.reconcile.security.scope import scopes
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository


def push_block(
    repo: Repository, client: str, address: str, reason: str, overrides: Overrides
) -> list[str]:
    """Push the decision to every local API holding the client's servers; returns what was
    done, one line per scope.  Raises DagsyncError when refused or when a push fails."""
    network = ip_network(address.strip(), strict=True)
    if why := push.refused(repo, client, network):
        raise DagsyncError(f"refused: {why}")
    host, _ = security_host(repo.settings)
    endpoint = dag_endpoint(host.name, "security host", host.address, host.host_key, overrides)
    creds = credentials(repo.settings.ssh_user, overrides)
    steps = push.block_steps(scopes(repo.clients, host.first_port), client, network, reason)
    session = HostSession(dag_target(host.name), endpoint, creds).open()
    try:
        for step in steps:
            result = session.run("sh -s", stdin=step.script.encode())
            if result.exit_code != 0:
                raise DagsyncError(f"{step.what} failed: {result.stderr.strip()[-300:]}")
    finally:
        session.close()
    return [f"pushed: {step.what}" for step in steps]
