"""Where each server is reached, and with which pinned host key.

The sandbox's file is local, unreviewed state: `plan` and `apply` read it only in the explicit
sandbox mode (`DAGSYNC_SANDBOX=1`), never because it happens to exist; and any override file
(the sandbox's or `$DAGSYNC_HOSTS_FILE`) can only point at private test addresses and add
single private controller addresses as management ranges, never widen them.

By default: the server's first declared IP, its SSH port and the host key declared in git.
An override file (written by `dagsync sandbox up`, or named by `DAGSYNC_HOSTS_FILE`) maps
`client/server` to another address, port and host key, for test hosts; with it, strict
host-key checking uses the override's key.  It may also add management ranges (the
sandbox's own controller address) and name the SSH key and user to use:

    {"version": 1,
     "hosts": {"velo-savoie/web1": {"address": "10.203.0.11", "port": 22,
                                     "host_key": "ssh-ed25519 AAAA..."}},
     "management_ranges": ["10.203.0.1/32"],
     "ssh_key": "/path/to/id_ed25519", "ssh_user": "root"}

The SSH key: `DAGSYNC_SSH_KEY` holds the private key's TEXT (as CI secrets give it),
`DAGSYNC_SSH_KEY_FILE` a path to it; with neither, the override file's `ssh_key`, else the
ssh-agent.  The key is parsed before any host is contacted; no error ever quotes it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dagsync.errors import DagsyncError
from dagsync.model.base import SSH_PUBLIC_KEY_RE
from dagsync.model.server import Server
from dagsync.reconcile.resource import Net

HOSTS_FILE_ENV = "DAGSYNC_HOSTS_FILE"
SANDBOX_ENV = "DAGSYNC_SANDBOX"  # "1": plan and apply target the sandbox's test hosts
SANDBOX_DIR = ".dagsync-sandbox"
SANDBOX_HOSTS_FILE = f"{SANDBOX_DIR}/hosts.json"
SSH_USER_ENV = "DAGSYNC_SSH_USER"
SSH_KEY_ENV = "DAGSYNC_SSH_KEY"
SSH_KEY_FILE_ENV = "DAGSYNC_SSH_KEY_FILE"


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    host_key: str  # "ssh-ed25519 AAAA...", pinned
    source: str  # "declared" or the override file


@dataclass(frozen=True)
class Credentials:
    user: str
    key_file: Path | None  # None: the key's text below, or ssh-agent
    key_text: str | None = field(default=None, repr=False)  # from $DAGSYNC_SSH_KEY


@dataclass(frozen=True)
class Overrides:
    path: Path | None = None
    hosts: Mapping[str, Endpoint] = field(default_factory=dict)
    management_ranges: tuple[Net, ...] = ()
    ssh_key: Path | None = None
    ssh_user: str | None = None
    acme: tuple[tuple[str, str], ...] = ()  # ACME issuer -> directory URL (a test CA)


def sandbox_mode() -> bool:
    """Whether the caller asked for the sandbox (`DAGSYNC_SANDBOX=1`)."""
    return os.environ.get(SANDBOX_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def overrides_path(root: Path) -> Path | None:
    """The override file in effect: `$DAGSYNC_HOSTS_FILE`, else, in sandbox mode only, the
    sandbox's, else none (the declared hosts)."""
    named = os.environ.get(HOSTS_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise DagsyncError(f"{HOSTS_FILE_ENV}={named}: no such file")
        return path
    sandbox = root / SANDBOX_HOSTS_FILE
    if not sandbox_mode():
        return None
    if not sandbox.is_file():
        raise DagsyncError(
            f"{SANDBOX_ENV}=1 but the sandbox is not up (no {SANDBOX_HOSTS_FILE}): "
            "run `dagsync sandbox up` first"
        )
    # lazy: importing it here keeps dagsync.gitops out of this module's load
    from dagsync.gitops.tracked import tracked_state_files

    if SANDBOX_HOSTS_FILE in tracked_state_files(root):
        raise DagsyncError(
            f"{SANDBOX_HOSTS_FILE} is tracked by git: the sandbox's file is local state that "
            f"nobody reviews; `git rm --cached {SANDBOX_HOSTS_FILE}`, then `dagsync sandbox up`"
        )
    return sandbox


def ignored_sandbox_notice(root: Path) -> str | None:
    """A notice when the sandbox's file exists but is not used (no sandbox mode)."""
    if sandbox_mode() or os.environ.get(HOSTS_FILE_ENV):
        return None
    if not (root / SANDBOX_HOSTS_FILE).is_file():
        return None
    return (
        f"note: {SANDBOX_HOSTS_FILE} is ignored: this run targets the servers declared in git; "
        f"set {SANDBOX_ENV}=1 to target the sandbox"
    )


def load_overrides(path: Path | None) -> Overrides:
    if path is None:
        return Overrides()
    try:
        data = json.loads(path.read_text())
        hosts = {key: _endpoint(value, path) for key, value in data.get("hosts", {}).items()}
        ranges = tuple(_controller(r) for r in data.get("management_ranges", []))
        acme = tuple((str(k), _acme_directory(v)) for k, v in data.get("acme", {}).items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DagsyncError(f"{path}: not a hosts override file ({exc})") from exc
    key = data.get("ssh_key")
    user = data.get("ssh_user")
    return Overrides(path, hosts, ranges, Path(key) if key else None, user, tuple(sorted(acme)))


def _acme_directory(value: object) -> str:
    """An ACME directory an override may name for an issuer: a test CA (pebble) at a private
    address over HTTPS, never another public CA."""
    url = urlsplit(str(value))
    try:
        address = ip_address(url.hostname or "")
    except ValueError:
        address = None
    if (
        url.scheme != "https"
        or address is None
        or not address.is_private
        or not (re.fullmatch(r"[A-Za-z0-9/._-]*", url.path) and not url.query and not url.fragment)
    ):
        raise ValueError(
            f"ACME directory {str(value)[:60]!r} is refused: an override file may only point "
            "an issuer at a test CA, https://<private address>:<port>/<path>"
        )
    return url.geturl()


def _controller(value: object) -> Net:
    """A management range an override may add: one private address (the sandbox's
    controller), never a network: an override can never widen who reaches SSH."""
    net = ip_network(str(value))
    if net.num_addresses != 1 or not net.is_private or net.is_unspecified:
        raise ValueError(
            f"management range {str(value)[:50]!r} is refused: an override file may only add "
            "one private address (a /32 or /128), never widen the management ranges"
        )
    return net


def _endpoint(value: Mapping[str, Any], path: Path) -> Endpoint:
    host_key = " ".join(str(value["host_key"]).split()[:2])
    if not SSH_PUBLIC_KEY_RE.match(host_key):
        raise ValueError(f"host_key {host_key[:40]!r} is not an OpenSSH public key")
    address = ip_address(str(value["address"]))
    if not address.is_private or address.is_unspecified:
        raise ValueError(
            f"address {str(address)!r} is refused: an override file only points at private "
            "test addresses"
        )
    return Endpoint(str(address), int(value.get("port", 22)), host_key, str(path))


def endpoint(key: str, server: Server, overrides: Overrides) -> Endpoint:
    """The override for `client/server` if there is one, else what git declares."""
    if key in overrides.hosts:
        return overrides.hosts[key]
    host_key = " ".join(server.ssh.host_key.split()[:2])
    return Endpoint(str(server.ips[0]), server.ssh.port, host_key, "declared")
