"""`dagsync block`'s push: the decision of `push.block_steps`, run on DAG's security host over
SSH (the host key pinned from policies/dag.yaml or the hosts override file, like the mail and
storage hosts).  No master secret is needed: `cscli` on the security host uses each scope's
own credentials there.

`NotReached` says the push could not start (no endpoint, no connection, the client's local
APIs not deployed by an apply yet): nothing was pushed.  Any other error is a push that
started and failed."""

from __future__ import annotations

from ipaddress import ip_network

from dagsync.errors import DagsyncError
from dagsync.reconcile.daghosts import dag_endpoint, dag_target
from dagsync.reconcile.security import crowdsec, push
from dagsync.reconcile.security.desired import security_host
from dagsync.reconcile.security.scope import scopes, scopes_of_client
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository


class NotReached(DagsyncError):
    """The push could not start: nothing was pushed."""


def push_block(
    repo: Repository, client: str, address: str, reason: str, overrides: Overrides
) -> list[str]:
    """Push the decision to every local API holding the client's servers; returns what was
    done, one line per scope.  Raises NotReached when the push cannot start, DagsyncError
    when refused or when a push fails."""
    network = ip_network(address.strip(), strict=True)
    if why := push.refused(repo, client, network):
        raise DagsyncError(f"refused: {why}")
    host, _ = security_host(repo.settings)
    all_scopes = scopes(repo.clients, host.first_port)
    steps = push.block_steps(all_scopes, client, network, reason)
    try:
        endpoint = dag_endpoint(host.name, "security host", host.address, host.host_key, overrides)
        creds = credentials(repo.settings.ssh_user, overrides)
        session = HostSession(dag_target(host.name), endpoint, creds).open()
    except (DagsyncError, HostError) as exc:
        raise NotReached(str(exc)) from exc
    try:
        configs = [crowdsec.lapi_config_path(s) for s in scopes_of_client(all_scopes, client)]
        probe = session.run(" && ".join(f"[ -f {q(c)} ]" for c in configs))
        if probe.exit_code != 0:
            raise NotReached(
                f"the local APIs of {client} are not deployed on dag/{host.name} yet "
                "(`dagsync apply --only security` deploys them)"
            )
        for step in steps:
            result = session.run("sh -s", stdin=step.script.encode())
            if result.exit_code != 0:
                raise DagsyncError(f"{step.what} failed: {result.stderr.strip()[-300:]}")
    finally:
        session.close()
    return [f"pushed: {step.what}" for step in steps]
