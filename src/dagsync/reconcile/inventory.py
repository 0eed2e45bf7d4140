"""Where each server is reached, and with which pinned host key.

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
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from ..errors import DagsyncError
from ..model import Server
from ..model.base import SSH_PUBLIC_KEY_RE
from .resource import Net

HOSTS_FILE_ENV = "DAGSYNC_HOSTS_FILE"
SANDBOX_DIR = ".dagsync-sandbox"
SANDBOX_HOSTS_FILE = f"{SANDBOX_DIR}/hosts.json"
SSH_USER_ENV = "DAGSYNC_SSH_USER"
SSH_KEY_ENV = "DAGSYNC_SSH_KEY"


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    host_key: str  # "ssh-ed25519 AAAA...", pinned
    source: str  # "declared" or the override file


@dataclass(frozen=True)
class Credentials:
    user: str
    key_file: Path | None  # None: ssh-agent


@dataclass(frozen=True)
class Overrides:
    path: Path | None = None
    hosts: Mapping[str, Endpoint] = field(default_factory=dict)
    management_ranges: tuple[Net, ...] = ()
    ssh_key: Path | None = None
    ssh_user: str | None = None


def overrides_path(root: Path) -> Path | None:
    """The override file in effect: `$DAGSYNC_HOSTS_FILE`, else the sandbox's, else none."""
    named = os.environ.get(HOSTS_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise DagsyncError(f"{HOSTS_FILE_ENV}={named}: no such file")
        return path
    sandbox = root / SANDBOX_HOSTS_FILE
    return sandbox if sandbox.is_file() else None


def load_overrides(path: Path | None) -> Overrides:
    if path is None:
        return Overrides()
    try:
        data = json.loads(path.read_text())
        hosts = {key: _endpoint(value, path) for key, value in data.get("hosts", {}).items()}
        ranges = tuple(ip_network(r) for r in data.get("management_ranges", []))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DagsyncError(f"{path}: not a hosts override file ({exc})") from exc
    key = data.get("ssh_key")
    return Overrides(path, hosts, ranges, Path(key) if key else None, data.get("ssh_user"))


def _endpoint(value: Mapping[str, Any], path: Path) -> Endpoint:
    host_key = " ".join(str(value["host_key"]).split()[:2])
    if not SSH_PUBLIC_KEY_RE.match(host_key):
        raise ValueError(f"host_key {host_key[:40]!r} is not an OpenSSH public key")
    return Endpoint(str(value["address"]), int(value.get("port", 22)), host_key, str(path))


def endpoint(key: str, server: Server, overrides: Overrides) -> Endpoint:
    """The override for `client/server` if there is one, else what git declares."""
    if key in overrides.hosts:
        return overrides.hosts[key]
    host_key = " ".join(server.ssh.host_key.split()[:2])
    return Endpoint(str(server.ips[0]), server.ssh.port, host_key, "declared")


def credentials(default_user: str, overrides: Overrides) -> Credentials:
    """User and key: the environment first, then the override file, then the company
    settings' user with ssh-agent."""
    user = os.environ.get(SSH_USER_ENV) or overrides.ssh_user or default_user
    key = os.environ.get(SSH_KEY_ENV)
    key_file = Path(key) if key else overrides.ssh_key
    if key_file is not None and not key_file.is_file():
        raise DagsyncError(f"SSH key {key_file} does not exist (from ${SSH_KEY_ENV} or overrides)")
    return Credentials(user, key_file)
