"""The command line of the test hosts: ``python -m dagsync.testing.hosts up|down|status``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dagsync.testing import hosts
from dagsync.testing.hosts.lab import up
from dagsync.testing.hosts.network import (
    DEFAULT_BRIDGE,
    DEFAULT_NS_PREFIX,
    DEFAULT_VETH_PREFIX,
    Network,
    unique_network,
)
from dagsync.testing.hosts.system import TestHostsError, _link_exists, _netns_list
from dagsync.testing.hosts.teardown import _targets, down, netns_pids


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dagsync.testing.hosts", description=hosts.__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up_cmd = sub.add_parser("up", help="start N test hosts (or --names) and leave them running")
    up_cmd.add_argument("n", type=int, nargs="?")
    up_cmd.add_argument("--names", help="comma-separated host names instead of h1..hN")
    status_cmd = sub.add_parser("status", help="list the namespaces and their processes")
    for cmd in (up_cmd, sub.add_parser("down", help="stop and remove"), status_cmd):
        required = cmd is not status_cmd
        cmd.add_argument("--state", type=Path, required=required, help="state folder")
        cmd.add_argument(
            "--network", default=None, help="/24 prefix (up: a free one of this run's own)"
        )
        cmd.add_argument("--bridge", default=None, help=f"bridge name ({DEFAULT_BRIDGE})")
        cmd.add_argument(
            "--ns-prefix", default=None, help=f"namespace prefix ({DEFAULT_NS_PREFIX})"
        )
        cmd.add_argument("--veth-prefix", default=None, help=f"veth prefix ({DEFAULT_VETH_PREFIX})")
    return parser


def _network_from(args: argparse.Namespace) -> Network | None:
    given = {
        "prefix": args.network,
        "bridge": args.bridge,
        "ns_prefix": args.ns_prefix,
        "veth_prefix": args.veth_prefix,
    }
    chosen = {k: v for k, v in given.items() if v is not None}
    return Network(**chosen) if chosen else None


def _cmd_up(args: argparse.Namespace) -> int:
    names = args.names.split(",") if args.names else None
    started = time.monotonic()
    lab = up(
        args.n,
        state_dir=args.state,
        names=names,
        network=_network_from(args) or unique_network("cli"),
    )
    for host in lab.hosts:
        print(f"{host.name}\t{host.address}\t{host.namespace}\tsshd pid {host.sshd_pid}")
    elapsed = time.monotonic() - started
    print(
        f"up {len(lab.hosts)} hosts in {elapsed:.2f} s; ssh -F {lab.ssh_config} {lab.hosts[0].name}"
    )
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    started = time.monotonic()
    down(args.state, _network_from(args))
    print(f"down in {time.monotonic() - started:.2f} s")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state_dir = Path(args.state).absolute() if args.state else Path("/nonexistent")
    net, namespaces, _ = _targets(state_dir, _network_from(args))
    existing = set(_netns_list())
    print(f"bridge {net.bridge}: {'present' if _link_exists(net.bridge) else 'absent'}")
    for ns in namespaces:
        state = f"{len(netns_pids([ns]))} processes" if ns in existing else "absent"
        print(f"{ns}\t{state}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"up": _cmd_up, "down": _cmd_down, "status": _cmd_status}
    try:
        return commands[args.command](args)
    except TestHostsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
