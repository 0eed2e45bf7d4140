"""`dagsync sandbox up|down|status`: one local test host per server of the repository.

`up` starts the hosts (network namespaces with their own sshd, see `dagsync.testing.hosts`)
under `.dagsync-sandbox/` (gitignored) and writes `.dagsync-sandbox/hosts.json`, the hosts
override file that `plan` and `apply` pick up: each server's address and host key become
its test host's, the controller's bridge address joins the management ranges (so the
firewall keeps it in), and the test hosts' SSH key is used.  So, as root:

    dagsync sandbox up && dagsync plan && dagsync apply --yes
    dagsync sandbox down
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DagsyncError
from .reconcile.inventory import SANDBOX_DIR, SANDBOX_HOSTS_FILE
from .repository import load_repository

if TYPE_CHECKING:
    from .testing.hosts import Network

NETWORK_PREFIX = "10.203.0"
STATE = f"{SANDBOX_DIR}/hosts"


def default_network() -> Network:
    from .testing.hosts import Network

    return Network(NETWORK_PREFIX, bridge="dssbx0", ns_prefix="dssbx-", veth_prefix="dssbxv")


def host_name(client: str, server: str, index: int) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", f"{client}-{server}".lower()).strip("-")
    return name[:50] or f"s{index}"


def up(root: Path, network: Network | None = None) -> str:
    from .testing import hosts

    reason = hosts.skip_reason()
    if reason:
        raise DagsyncError(f"the sandbox cannot start here: {reason}")
    if (root / SANDBOX_HOSTS_FILE).exists():
        raise DagsyncError("the sandbox is already up: `dagsync sandbox down` first")
    repo = load_repository(root, validate=False)
    pairs = [(c.id, s.name) for c, s in repo.servers()]
    keys = [f"{client}/{server}" for client, server in pairs]
    if not keys:
        raise DagsyncError("the repository declares no server")
    names = [host_name(client, server, i) for i, (client, server) in enumerate(pairs, 1)]
    net = network or default_network()
    try:
        lab = hosts.up(state_dir=root / STATE, names=names, network=net)
    except hosts.TestHostsError as exc:
        raise DagsyncError(f"the sandbox could not start: {exc}") from exc
    overrides = {
        "version": 1,
        "hosts": {
            key: {"address": h.address, "port": h.port, "host_key": h.host_key_public}
            for key, h in zip(keys, lab.hosts, strict=True)
        },
        "management_ranges": [f"{net.prefix}.1/32"],
        "ssh_key": str(lab.client_key),
        "ssh_user": "root",
    }
    (root / SANDBOX_HOSTS_FILE).write_text(json.dumps(overrides, indent=2) + "\n")
    lines = [f"{k:<32} {h.address}  ({h.name})" for k, h in zip(keys, lab.hosts, strict=True)]
    return "\n".join(
        [
            *lines,
            f"sandbox up: {len(keys)} test hosts; now run `dagsync plan` "
            "and `dagsync apply`; `dagsync sandbox down` removes everything",
        ]
    )


def down(root: Path) -> str:
    """Remove the hosts (the state folder knows their network) and the override file."""
    from .testing import hosts

    state = root / STATE
    if state.exists():
        try:
            hosts.down(state)
        except hosts.TestHostsError as exc:
            raise DagsyncError(f"the sandbox could not be removed: {exc}") from exc
    (root / SANDBOX_HOSTS_FILE).unlink(missing_ok=True)
    folder = root / SANDBOX_DIR
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return "sandbox down: test hosts and override file removed"


def status(root: Path) -> str:
    path = root / SANDBOX_HOSTS_FILE
    if not path.exists():
        return "sandbox: down"
    data = json.loads(path.read_text())
    rows = [f"{key:<32} {value['address']}" for key, value in data["hosts"].items()]
    return "\n".join([f"sandbox: up ({len(rows)} hosts, override file {path})", *rows])
