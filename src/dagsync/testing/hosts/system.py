"""The system commands the test hosts run (``ip``, ``ssh-keygen``...), and their error."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from dagsync.errors import DagsyncError

_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class TestHostsError(DagsyncError):
    """A test host could not be created, reached or removed."""

    __test__: ClassVar[bool] = False


def _run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30.0,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and proc.returncode != 0:
        raise TestHostsError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _ip_batch(commands: Sequence[str], *, netns: str | None = None, force: bool = False) -> None:
    if not commands:
        return
    argv = ["ip", *(["-n", netns] if netns else []), *(["-force"] if force else []), "-batch", "-"]
    _run(argv, stdin="\n".join(commands) + "\n", check=not force)


def run_in_namespace(namespace: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a test host's network namespace only (``ip netns exec``), unchecked."""
    return _run(["ip", "netns", "exec", namespace, *argv], check=False)


def _keygen(path: Path, comment: str) -> None:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _netns_list() -> list[str]:
    out = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _read_logs(*paths: Path) -> str:
    parts = [f"--- {p.name}:\n{p.read_text(errors='replace')}" for p in paths if p.exists()]
    return "\n".join(parts) or "(no log)"
