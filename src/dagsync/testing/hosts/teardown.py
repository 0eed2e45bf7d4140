"""Removing a set of test hosts: its processes, namespaces, links, claim and state folder, from
the state folder alone (after a crash) or from the names of its network."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from dagsync.testing.hosts.host import _LAUNCHED
from dagsync.testing.hosts.network import STATE_FILE, Network, _release
from dagsync.testing.hosts.system import TestHostsError, _ip_batch, _link_exists, _netns_list


def _load_state(state_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((state_dir / STATE_FILE).read_text())
    return loaded


def _netns_inode(ns: str) -> tuple[int, int] | None:
    try:
        st = Path("/run/netns", ns).stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def netns_pids(namespaces: Sequence[str]) -> list[int]:
    """PIDs whose network namespace is one of ``namespaces`` (``ip netns pids``, in one pass)."""
    wanted = {inode for ns in namespaces if (inode := _netns_inode(ns)) is not None}
    pids: list[int] = []
    for entry in os.scandir("/proc") if wanted else ():
        if not entry.name.isdigit():
            continue
        try:
            st = Path(entry.path, "ns/net").stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in wanted:
            pids.append(int(entry.name))
    return pids


def _signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reap(pids: Sequence[int]) -> None:
    """Wait for those of ``pids`` that this process launched, so none stays a zombie."""
    for pid in pids:
        if (proc := _LAUNCHED.pop(pid, None)) is not None:
            proc.wait(timeout=5)


def _kill_namespaces(namespaces: Sequence[str]) -> None:
    killed: set[int] = set()
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        pids = netns_pids(namespaces)
        killed.update(pids)
        _signal_all(pids, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            time.sleep(0.01)
            pids = netns_pids(namespaces)
        if not pids:
            break
    if left := netns_pids(namespaces):
        raise TestHostsError(f"processes survive in test host namespaces: {left}")
    _reap(sorted(killed))


def _targets(state_dir: Path, net: Network | None) -> tuple[Network, list[str], list[str]]:
    """Namespaces and veths to delete: from the state file, else by name pattern."""
    if (state_dir / STATE_FILE).exists():
        state = _load_state(state_dir)
        net = net or Network(**state["network"])
        indexes = range(1, len(state["names"]) + 1)
        return net, [net.namespace(i) for i in indexes], [net.veth(i) for i in indexes]
    if net is None:  # no state and no network named: nothing is provably ours
        return Network(), [], []
    ns_re = re.compile(re.escape(net.ns_prefix) + r"\d+")
    namespaces = [ns for ns in _netns_list() if ns_re.fullmatch(ns)]
    veth_re = re.compile(re.escape(net.veth_prefix) + r"\d+")
    veths = [p.name for p in Path("/sys/class/net").iterdir() if veth_re.fullmatch(p.name)]
    return net, namespaces, veths


def down(state_dir: Path, network: Network | None = None) -> None:
    """Remove everything a test-host set made: processes, namespaces, links, state folder.

    Works from the state folder alone (after a crash); ``network`` overrides it, and is needed
    only when the state file is gone.  Safe to call twice.
    """
    state_dir = Path(state_dir).absolute()
    net, namespaces, veths = _targets(state_dir, network)
    listed = set(_netns_list())
    existing = [ns for ns in namespaces if ns in listed]
    _kill_namespaces(existing)
    # Unmounting the namespaces lets the kernel free them (and their veth pairs) in one batch,
    # far faster than deleting each veth; stragglers are deleted explicitly.
    _ip_batch([f"netns del {ns}" for ns in existing], force=True)
    _wait_links_gone(veths, 5.0)
    links = [v for v in veths if _link_exists(v)] + ([net.bridge] if namespaces or veths else [])
    if (state_dir / STATE_FILE).exists() or network is not None:
        links = [*dict.fromkeys([*links, net.bridge])]
    _ip_batch([f"link del {link}" for link in links if _link_exists(link)], force=True)
    if left := [link for link in links if _link_exists(link)]:
        raise TestHostsError(f"links survive teardown: {left}")
    _release(net, state_dir)
    _remove_state_dir(state_dir)


def _wait_links_gone(links: Sequence[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_link_exists(link) for link in links) and time.monotonic() < deadline:
        time.sleep(0.005)


def _remove_state_dir(state_dir: Path) -> None:
    if not state_dir.exists():
        return
    if not (state_dir / STATE_FILE).exists() and any(state_dir.iterdir()):
        raise TestHostsError(f"{state_dir} is not a test-hosts state folder; left in place")
    shutil.rmtree(state_dir)
