"""What is checked before test hosts come up: whether they can run here at all, valid names
and network, nothing stale in the way."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from dagsync.testing.hosts.network import Network
from dagsync.testing.hosts.system import _PATH, TestHostsError, _link_exists, _netns_list, _run

MAX_HOSTS = 200
TOOLS = ("ip", "unshare", "nsenter", "mount", "sshd", "ssh", "ssh-keygen")
# Mounted over inside each host: a state folder below them would be hidden from its sshd.
_SHADOWED = ("/etc", "/var", "/root", "/srv", "/home", "/run", "/proc", "/sys", "/dev")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_LINK_NAME_MAX = 15


def _validate(names: Sequence[str], net: Network, state_dir: Path) -> None:
    if not 1 <= len(names) <= MAX_HOSTS:
        raise TestHostsError(f"between 1 and {MAX_HOSTS} hosts, not {len(names)}")
    bad = [n for n in names if not _NAME.match(n)]
    if bad or len(set(names)) != len(names):
        raise TestHostsError(f"host names must be unique lowercase hostnames: {list(names)}")
    try:
        ipaddress.IPv4Network(f"{net.prefix}.0/24")
    except ValueError as exc:
        raise TestHostsError(
            f"network must be the first three octets of a /24: {net.prefix!r}"
        ) from exc
    for link in (net.bridge, net.veth(len(names))):
        if len(link) > _LINK_NAME_MAX:
            raise TestHostsError(f"link name {link!r} is longer than {_LINK_NAME_MAX} characters")
    resolved = str(state_dir.resolve())
    if re.search(r"[\s\"'\\]", resolved):
        raise TestHostsError(f"state folder {resolved!r} must not contain spaces or quotes")
    if any(resolved == s or resolved.startswith(s + "/") for s in _SHADOWED):
        raise TestHostsError(f"state folder {resolved} is under a path the hosts mount over")


def _refuse_stale(names: Sequence[str], net: Network, state_dir: Path) -> None:
    hint = f"run: {down_command(state_dir, net)}"
    if _link_exists(net.bridge):
        raise TestHostsError(f"bridge {net.bridge} already exists (stale test hosts?); {hint}")
    taken = set(_netns_list()) & {net.namespace(i) for i in range(1, len(names) + 1)}
    if taken:
        raise TestHostsError(f"network namespaces already exist: {sorted(taken)}; {hint}")
    if state_dir.exists() and any(state_dir.iterdir()):
        raise TestHostsError(f"state folder {state_dir} is not empty; {hint}")


def down_command(state_dir: Path, net: Network) -> str:
    """The shell command that removes this set of hosts (with the stale folder or without)."""
    flags = f"--network {net.prefix} --bridge {net.bridge} --ns-prefix {net.ns_prefix}"
    return f"python -m dagsync.testing.hosts down --state {state_dir} {flags} --veth-prefix {net.veth_prefix}"


@cache
def skip_reason() -> str | None:
    """Why test hosts cannot run here, or None when they can (for ``pytest.skip``)."""
    if os.geteuid() != 0:
        return "test hosts need root (network namespaces, mounts)"
    missing = [tool for tool in TOOLS if shutil.which(tool, path=_PATH) is None]
    if missing:
        return f"test hosts need these commands: {', '.join(missing)}"
    with tempfile.TemporaryDirectory(prefix="dagsync-probe-") as tmp:
        return _probe_namespaces(Path(tmp))


def _probe_namespaces(tmp: Path) -> str | None:
    for sub in ("lower", "upper", "work", "merged"):
        (tmp / sub).mkdir()
    script = (
        f"mount -n -t tmpfs tmpfs {tmp}/merged && umount -n {tmp}/merged && "
        f"mount -n -t overlay overlay -o lowerdir={tmp}/lower,upperdir={tmp}/upper,"
        f"workdir={tmp}/work {tmp}/merged && "
        "ip link add dsprobe0 type bridge && ip link add dsprobe1 type veth peer name dsprobe2"
    )
    argv = ["unshare", "--mount", "--uts", "--net", "--propagation", "private", "sh", "-c"]
    try:
        proc = _run([*argv, script], check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create namespaces: {exc}"
    if proc.returncode != 0:
        return f"namespaces, overlayfs or veth unavailable: {proc.stderr.strip()}"
    return None
