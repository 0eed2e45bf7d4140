"""The OVH API emulator that `dagsync sandbox up` starts in the background (and `down` stops).

It is `python -m dagsync.testing.ovh_api`, seeded with the account the repository declares
(`dagsync.sandbox.ovh`); its banner names the URL and the credentials.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.transport.inventory import SANDBOX_DIR

if TYPE_CHECKING:
    from dagsync.validate.repository import Repository

OVH_FIXTURE = f"{SANDBOX_DIR}/ovh-account.json"
OVH_LOG = f"{SANDBOX_DIR}/ovh-emulator.log"
OVH_SANDBOX_MODULE = "dagsync.sandbox.ovh"
EMULATOR_MODULE = "dagsync.testing.ovh_api"
EMULATOR_START_TIMEOUT = 15.0


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


@dataclass(frozen=True)
class Emulator:
    pid: int
    url: str
    application_key: str
    application_secret: str
    consumer_key: str

    def environment(self) -> dict[str, str]:
        return {
            "DAGSYNC_OVH_URL": self.url,
            "OVH_APPLICATION_KEY": self.application_key,
            "OVH_APPLICATION_SECRET": self.application_secret,
            "OVH_CONSUMER_KEY": self.consumer_key,
        }


def ovh_sandbox_available() -> bool:

    try:
        return importlib.util.find_spec(OVH_SANDBOX_MODULE) is not None
    except ModuleNotFoundError:
        return False


def start_emulator(root: Path, repo: Repository) -> Emulator:
    """`python -m dagsync.testing.ovh_api` in the background, seeded with the repository's
    account; returns once it listens (its banner names the URL and the credentials)."""

    fixture = importlib.import_module(OVH_SANDBOX_MODULE).account_fixture(repo)
    write_json(root / OVH_FIXTURE, fixture)
    log = root / OVH_LOG
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                EMULATOR_MODULE,
                "--port",
                "0",
                "--fixture",
                str(root / OVH_FIXTURE),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + EMULATOR_START_TIMEOUT
    while time.monotonic() < deadline:
        found = parse_banner(log.read_text(errors="replace"), proc.pid)
        if found is not None:
            return found
        if proc.poll() is not None:
            raise DagsyncError(f"the OVH emulator exited: {log.read_text()[-500:]}")
        time.sleep(0.05)
    stop_process(proc.pid)
    raise DagsyncError(f"the OVH emulator did not start in {EMULATOR_START_TIMEOUT:g} s")


def parse_banner(text: str, pid: int) -> Emulator | None:
    """The URL and the first validated credentials of the emulator's banner, once complete."""
    url = re.search(r"listening on (http://127\.0\.0\.1:\d+/1\.0)", text)
    if url is None or "Stop with" not in text:
        return None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[3] == "validated":
            return Emulator(pid, url.group(1), fields[0], fields[1], fields[2])
    raise DagsyncError("the OVH emulator offers no validated consumer key")


def is_emulator(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return EMULATOR_MODULE.encode() in cmdline


def stop_process(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL; reaps it when it is our child (tests)."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        if not is_emulator(pid):
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not is_emulator(pid):
                return
            time.sleep(0.02)
    raise DagsyncError(f"the OVH emulator (pid {pid}) does not stop")


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # not our child: init reaps it
        os.waitpid(pid, os.WNOHANG)
