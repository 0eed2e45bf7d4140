"""Where a set of test hosts lives: its names and /24 (``Network``), one of this run's own
(``unique_network``), the claim on that /24 under ``/run/dagsync-testhosts``, and the bridge,
namespaces and veths that make it."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import secrets
import subprocess
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from dagsync.testing.hosts.system import TestHostsError, _ip_batch, _run

DEFAULT_NETWORK = "10.201.0"
DEFAULT_BRIDGE = "dsbr0"
DEFAULT_NS_PREFIX = "ds-"
DEFAULT_VETH_PREFIX = "dsv"
STATE_FILE = "state.json"
CLAIMS = Path("/run/dagsync-testhosts")  # one file per /24 in use by a set of test hosts
_TAG = re.compile(r"^[a-z]{1,4}$")


@dataclass(frozen=True)
class Network:
    """Where a set of test hosts lives; distinct values let sessions run side by side."""

    prefix: str = DEFAULT_NETWORK  # a /24: bridge .1, host i at .(10+i)
    bridge: str = DEFAULT_BRIDGE
    ns_prefix: str = DEFAULT_NS_PREFIX
    veth_prefix: str = DEFAULT_VETH_PREFIX

    def address(self, index: int) -> str:
        return f"{self.prefix}.{10 + index}"

    def namespace(self, index: int) -> str:
        return f"{self.ns_prefix}{index}"

    def veth(self, index: int) -> str:
        return f"{self.veth_prefix}{index}"


DEFAULT = Network()


def subnets_in_use() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of this machine's own addresses and routes (its root namespace), and
    the /24s claimed by test hosts: a test network must overlap none of them."""
    used: list[ipaddress.IPv4Network] = []
    for argv in (
        ["ip", "-j", "-4", "addr", "show"],
        ["ip", "-j", "-4", "route", "show", "table", "all"],
    ):
        try:
            out = _run(argv, check=False, timeout=10).stdout
            entries = json.loads(out or "[]")
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
            continue
        for entry in entries:
            for info in entry.get("addr_info", []):
                with suppress(ValueError, KeyError):
                    used.append(
                        ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                    )
            if (dst := entry.get("dst")) and dst != "default":
                with suppress(ValueError):
                    used.append(ipaddress.IPv4Network(dst, strict=False))
    with suppress(OSError):
        for claim in CLAIMS.iterdir():
            with suppress(ValueError):
                used.append(ipaddress.IPv4Network(claim.name.replace("_", "/")))
    return used


def unique_network(tag: str, avoid: Sequence[ipaddress.IPv4Network] = ()) -> Network:
    """Names and a /24 of this run's own, so that test runs and sandboxes never collide.

    ``tag`` (1-4 lowercase letters) says who uses it (``bkp``, ``sbx``...); a random run id
    makes the link and namespace names unique (``dbkp3f9a`` bridge, ``dbkp3f9a-1`` namespace,
    ``dbkp3f9av1`` veth: at most 15 characters), and the /24 is drawn from 10.200-254.x.0 among
    those that no address, route or claim of the machine overlaps, nor ``avoid`` (the
    sandbox's declared sources), which ``up`` claims.
    """
    if not _TAG.match(tag):
        raise ValueError(f"a network tag is 1-4 lowercase letters, not {tag!r}")
    run = f"d{tag}{secrets.token_hex(2)}"
    used = [*subnets_in_use(), *avoid]
    draw = random.SystemRandom()
    for _ in range(1000):
        candidate = ipaddress.IPv4Network(
            f"10.{draw.randint(200, 254)}.{draw.randint(0, 255)}.0/24"
        )
        if not any(candidate.overlaps(u) for u in used):
            prefix = str(candidate.network_address).rsplit(".", 1)[0]
            return Network(prefix, bridge=run, ns_prefix=f"{run}-", veth_prefix=f"{run}v")
    raise TestHostsError("no free /24 left in 10.200.0.0-10.254.255.0 for test hosts")


def _claim_path(net: Network) -> Path:
    return CLAIMS / f"{net.prefix}.0_24"


def _claim(net: Network, state_dir: Path) -> None:
    """Reserve the network's /24 for this state folder, atomically; a claim whose state folder
    is gone is stale and taken over.  Refuses a /24 the machine itself uses."""
    subnet = ipaddress.IPv4Network(f"{net.prefix}.0/24")
    CLAIMS.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = _claim_path(net)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = path.read_text(errors="replace").strip()
            if owner == str(state_dir) or not (Path(owner) / STATE_FILE).exists():
                path.unlink(missing_ok=True)  # ours from a crashed run, or stale
                continue
            raise TestHostsError(
                f"{subnet} is used by the test hosts of {owner}; choose another network "
                "(dagsync.testing.hosts.unique_network)"
            ) from None
        with os.fdopen(fd, "w") as out:
            out.write(f"{state_dir}\n")
        break
    others = [u for u in subnets_in_use() if u.overlaps(subnet) and u != subnet]
    if others:
        _release(net, state_dir)
        raise TestHostsError(
            f"{subnet} overlaps this machine's {', '.join(map(str, others))}; "
            "choose another network (dagsync.testing.hosts.unique_network)"
        )


def _release(net: Network, state_dir: Path) -> None:
    path = _claim_path(net)
    with suppress(OSError):
        if path.read_text(errors="replace").strip() == str(state_dir):
            path.unlink()


def _create_network(names: Sequence[str], net: Network) -> None:
    root_side = [
        f"link add {net.bridge} type bridge",
        f"addr add {net.prefix}.1/24 dev {net.bridge}",
    ]
    root_side.append(f"link set {net.bridge} up")
    for i in range(1, len(names) + 1):
        ns, veth = net.namespace(i), net.veth(i)
        root_side += [f"netns add {ns}", f"link add {veth} type veth peer name eth0 netns {ns}"]
        root_side.append(f"link set {veth} master {net.bridge} up")
    _ip_batch(root_side)
    for i in range(1, len(names) + 1):  # no default route: nothing leaves the /24
        inside = ["link set lo up", f"addr add {net.address(i)}/24 dev eth0", "link set eth0 up"]
        _ip_batch(inside, netns=net.namespace(i))
