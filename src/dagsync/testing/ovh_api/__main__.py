"""``python -m dagsync.testing.ovh_api``: run the emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from dagsync.testing.ovh_api.auth import RateLimit
from dagsync.testing.ovh_api.errors import EmulatorError
from dagsync.testing.ovh_api.progress import Delay, Delays
from dagsync.testing.ovh_api.server import OvhEmulator

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dagsync.testing.ovh_api",
        description="OVH API v1 emulator on 127.0.0.1 (test infrastructure, never production).",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    parser.add_argument("--fixture", help="account fixture, YAML or JSON (default: empty account)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each pending state lasts")
    parser.add_argument("--polls", type=int, default=1, help="reads each pending state survives")
    parser.add_argument("--rate-limit", type=float, help="requests per minute per consumer key")
    return parser


def banner(emulator: OvhEmulator) -> str:
    lines = [
        f"OVH API emulator listening on {emulator.url}",
        f'python-ovh: ovh.client.ENDPOINTS["emulator"] = "{emulator.url}"',
        "Accepted credentials (application key, application secret, consumer key, state):",
    ]
    apps = emulator.account.applications
    for credential in emulator.credentials():
        secret = apps[credential.application_key].secret
        lines.append(
            f"  {credential.application_key} {secret} {credential.consumer_key} {credential.state}"
        )
    lines.append("Stop with Ctrl-C or SIGTERM.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    limit = None if args.rate_limit is None else RateLimit(per_minute=args.rate_limit)
    try:
        emulator = OvhEmulator(
            args.fixture,
            port=args.port,
            delays=Delays.uniform(Delay(seconds=args.delay, polls=args.polls)),
            rate_limit=limit,
        ).start()
    except (EmulatorError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print(banner(emulator), flush=True)
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
