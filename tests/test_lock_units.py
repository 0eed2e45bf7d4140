"""The apply lock's holder command run by a local `sh` (no root: its folder is moved under a
temporary directory): one holder at a time, the second refused with the first one's name,
released on close, on a killed holder and after its TTL; hostile holder text stays data."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagsync.reconcile import lock

HOLDER = json.dumps(
    {
        "by": "ops@laptop",
        "pid": 4242,
        "since": "2026-11-24T09:58:00+00:00",
        "command": "dagsync apply --yes",
    }
)


@pytest.fixture
def lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "var-lib-dagsync"
    monkeypatch.setattr(lock, "LOCK_DIR", str(folder))
    monkeypatch.setattr(lock, "LOCK_FILE", str(folder / "apply.lock"))
    monkeypatch.setattr(lock, "HOLDER_FILE", str(folder / "apply.holder"))
    return folder


class Holder:
    """The acquire command left running, as the session keeps it on its own channel."""

    def __init__(self, holder: str, ttl: int = 60) -> None:
        self.process = subprocess.Popen(
            ["sh", "-c", lock.acquire_command(holder, ttl)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def first_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().decode().rstrip("\n")

    def release(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(10)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        if holder.process.poll() is None:
            os.killpg(holder.process.pid, signal.SIGKILL)
            holder.process.wait(10)
        for stream in (holder.process.stdin, holder.process.stdout, holder.process.stderr):
            if stream is not None:
                stream.close()


def take(holders: list[Holder], holder: str, ttl: int = 60) -> Holder:
    started = Holder(holder, ttl)
    holders.append(started)
    return started


def attempt(holder: str) -> subprocess.CompletedProcess[str]:
    command = lock.acquire_command(holder, 60)
    return subprocess.run(
        ["sh", "-c", command], input="", capture_output=True, text=True, timeout=10, check=False
    )


def test_the_first_apply_holds_the_lock_and_the_second_is_refused_with_its_name(
    lock_dir: Path, holders: list[Holder]
) -> None:
    first = take(holders, HOLDER)
    assert first.first_line() == "LOCKED"
    assert (lock_dir / "apply.holder").read_text() == HOLDER + "\n"
    second = attempt('{"by": "anna@ci"}')
    assert (second.returncode, second.stdout) == (lock.BUSY, f"HELD\n{HOLDER}\n")
    _, _, rest = second.stdout.partition("\n")
    assert lock.describe_holder("velo-savoie/web1", rest, 600) == (
        "velo-savoie/web1 is locked by another apply: ops@laptop (pid 4242, since "
        "2026-11-24T09:58:00+00:00, `dagsync apply --yes`); wait for it to finish (a lock left "
        "by a killed run is released when its connection drops, or after 600 s at most)"
    )
    assert first.release() == 0
    third = take(holders, '{"by": "anna@ci"}')
    assert third.first_line() == "LOCKED"
    assert (lock_dir / "apply.holder").read_text() == '{"by": "anna@ci"}\n'


_RUNNER = """
import subprocess, sys, time
holder = subprocess.Popen(["sh", "-c", sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(holder.stdout.readline().decode().strip(), flush=True)
time.sleep(60)
"""


def test_a_killed_run_releases_the_lock_when_its_pipe_closes(lock_dir: Path) -> None:
    """As when a killed apply's SSH connection drops: the holder's stdin closes, it ends."""
    runner = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, lock.acquire_command(HOLDER, 60)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert runner.stdout is not None
        assert runner.stdout.readline().strip() == "LOCKED"
        assert attempt("next").returncode == lock.BUSY
        runner.kill()
        runner.wait(10)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(10)
        if runner.stdout is not None:
            runner.stdout.close()
    deadline = time.monotonic() + 10
    while (answer := attempt("next")).returncode == lock.BUSY and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answer.stdout == "LOCKED\n"  # taken then released at once: its stdin was empty
    assert answer.returncode == 0


def test_a_holder_past_its_ttl_lets_go_by_itself(lock_dir: Path, holders: list[Holder]) -> None:
    first = take(holders, HOLDER, ttl=1)
    assert first.first_line() == "LOCKED"
    assert first.process.wait(10) == 124  # `timeout` ended the holder
    assert take(holders, "next").first_line() == "LOCKED"


def test_a_hostile_holder_text_is_stored_verbatim_and_never_run(
    lock_dir: Path, holders: list[Holder], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    hostile = f"x'; touch {marker}; echo '$(touch {marker})`touch {marker}`\" \\ | > *"
    first = take(holders, hostile)
    assert first.first_line() == "LOCKED"
    assert (lock_dir / "apply.holder").read_text() == hostile + "\n"
    assert attempt("other").stdout == f"HELD\n{hostile}\n"
    assert not marker.exists()


def test_a_refusal_without_a_readable_holder_file_still_names_the_host(
    lock_dir: Path, holders: list[Holder]
) -> None:
    first = take(holders, HOLDER)
    assert first.first_line() == "LOCKED"
    (lock_dir / "apply.holder").unlink()
    refused = attempt("other")
    assert (refused.returncode, refused.stdout) == (lock.BUSY, "HELD\n")
    assert str(lock.refused("velo-savoie/db1", "", 900)) == (
        "velo-savoie/db1 is locked by another apply: an unknown holder; wait for it to finish "
        "(a lock left by a killed run is released when its connection drops, or after 900 s "
        "at most)"
    )


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("  legacy holder text \n", "legacy holder text"),
        ('{"by": "anna@ci"}', '{"by": "anna@ci"}'),  # a field missing: shown as written
        ("[1, 2]", "[1, 2]"),
        ("", "an unknown holder"),
    ],
)
def test_a_holder_file_that_is_not_ours_is_shown_as_it_is(text: str, who: str) -> None:
    assert lock.describe_holder("c/s", text, 5).startswith(
        f"c/s is locked by another apply: {who}; wait for it to finish"
    )


def test_holder_info_names_user_machine_pid_time_and_command() -> None:
    info = json.loads(lock.holder_info("dagsync apply --yes"))
    assert info["by"] == f"{getpass.getuser()}@{socket.gethostname()}"
    assert info["pid"] == os.getpid()
    assert info["command"] == "dagsync apply --yes"
    assert len(info["since"]) == 25 and info["since"].endswith("+00:00")
    assert json.loads(lock.holder_info())["command"] == " ".join(sys.argv)
    assert abs(time.time() - _epoch(info["since"])) < 60


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def test_the_ttl_is_an_integer_and_the_holder_one_argument() -> None:
    command = lock.acquire_command("a b", 12)
    assert command.endswith(
        f"'a b' {lock.HOLDER_FILE} 12\nrc=$?\n"
        f"if [ $rc -eq 75 ]; then echo HELD; cat {lock.HOLDER_FILE} 2>/dev/null; fi\nexit $rc\n"
    )
