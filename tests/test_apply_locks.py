"""The run-wide apply lock and the release of a lock whose holder is provably gone
(issue 13, item 5), without test hosts: the run lock on this machine, `holder_gone` for a
dead process and a completed GitHub Actions run (a local stand-in for GitHub's API), the
host lock's break command run by a local `sh`, and `dagsync apply` refused with exit 2
before any host is touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import copy_repository
from dagsync.cli import main
from dagsync.reconcile import lock
from dagsync.reconcile.transport.session import HostSession


@pytest.fixture(autouse=True)
def lock_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "locks"
    monkeypatch.setenv(lock.LOCK_DIR_ENV, str(folder))
    return folder


HOLD = """
import sys, time
from pathlib import Path
from dagsync.reconcile import lock
with lock.run_lock(Path(sys.argv[1]), sys.argv[2:], lock.holder_info("dagsync apply --yes")):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def hold(started: list[subprocess.Popen[str]], root: Path, *clients: str) -> int:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), *clients], stdout=subprocess.PIPE, text=True
    )
    started.append(process)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process.pid


# --- the run lock ---------------------------------------------------------------------------


def test_a_second_run_of_an_overlapping_scope_is_refused_naming_the_first(
    tmp_path: Path, holder: list[subprocess.Popen[str]]
) -> None:
    pid = hold(holder, tmp_path, "alpine-books", "velo-savoie")
    with (
        pytest.raises(lock.ApplyLocked) as refused,
        lock.run_lock(tmp_path, ["velo-savoie"], "second"),
    ):
        pytest.fail("the second run must not get the lock")
    text = str(refused.value)
    assert text.startswith("another apply of velo-savoie is running on this machine: ")
    assert f"(pid {pid}, since " in text and "`dagsync apply --yes`" in text
    assert text.endswith("nothing was changed (its lock ends with its process)")
    assert refused.value.exit_code == 2
    with lock.run_lock(tmp_path, ["cime-conseil"], "other client"):
        pass  # another client's scope runs alongside
    with lock.run_lock(tmp_path / "elsewhere", ["velo-savoie"], "other repository"):
        pass  # the same client id in another repository too


def test_a_killed_runs_lock_is_free_at_once_not_after_a_ttl(
    tmp_path: Path, holder: list[subprocess.Popen[str]]
) -> None:
    hold(holder, tmp_path, "velo-savoie")
    holder[0].send_signal(signal.SIGKILL)
    holder[0].wait(10)
    started = time.monotonic()
    with lock.run_lock(tmp_path, ["velo-savoie"], "next"):
        assert time.monotonic() - started < 1.0


def test_a_refused_run_gives_back_the_locks_it_had_taken(
    tmp_path: Path, holder: list[subprocess.Popen[str]]
) -> None:
    hold(holder, tmp_path, "velo-savoie")
    with (
        pytest.raises(lock.ApplyLocked),
        lock.run_lock(tmp_path, ["alpine-books", "velo-savoie"], "both"),
    ):
        pass
    with lock.run_lock(tmp_path, ["alpine-books"], "alpine alone"):
        pass  # "alpine-books", taken first by the refused run, was released


def test_apply_is_refused_with_exit_2_before_any_host_is_touched(
    tmp_path: Path,
    holder: list[subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_repository(tmp_path / "repo")
    hold(holder, root, "velo-savoie")
    touched: list[str] = []

    def refuse_to_connect(self: HostSession) -> HostSession:
        touched.append(self.target.key)
        raise AssertionError("a host was touched")

    monkeypatch.setattr(HostSession, "open", refuse_to_connect)
    code = main(["apply", "--repo", str(root), "--yes", "--any-commit", "--no-record"])
    err = capsys.readouterr().err
    assert code == 2
    assert "dagsync: error: another apply of velo-savoie is running on this machine" in err
    assert "nothing was changed" in err
    assert touched == []


# --- a holder that is provably gone ---------------------------------------------------------


def _dead_holder() -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from dagsync.reconcile import lock; print(lock.holder_info('x'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_holder_whose_process_ended_is_gone_and_a_live_one_is_not() -> None:
    dead = _dead_holder()
    pid = json.loads(dead)["pid"]
    assert lock.holder_gone(dead) == f"its process {pid} on this machine has ended"
    assert lock.holder_gone(lock.holder_info("me")) is None


def test_a_reused_pid_is_seen_through_its_start_time() -> None:
    info = json.loads(lock.holder_info("me"))
    info["start"] -= 1
    assert lock.holder_gone(json.dumps(info)) == (
        f"its process {os.getpid()} on this machine has ended (the pid is now another process)"
    )


@pytest.mark.parametrize(
    "change",
    [{"boot": "another-boot"}, {"by": "ops@another-machine"}, {"pid": "12"}, {"boot": ""}],
    ids=["another boot", "another machine", "pid not a number", "no boot id"],
)
def test_a_holder_elsewhere_or_unreadable_is_never_judged_gone(change: dict[str, str]) -> None:
    info = json.loads(_dead_holder()) | change
    assert lock.holder_gone(json.dumps(info)) is None
    assert lock.holder_gone("not json") is None
    assert lock.holder_gone("[1, 2]") is None


class GitHub:
    """A stand-in for GitHub's API: the status of each run attempt, and who asked."""

    def __init__(self, statuses: dict[str, str]) -> None:
        self.statuses = statuses
        self.asked: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.asked.append((self.path, self.headers.get("Authorization", "")))
                status = outer.statuses.get(self.path)
                body = json.dumps({"status": status}).encode()
                self.send_response(200 if status else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHub]:
    api = GitHub(
        {
            "/repos/dag/config/actions/runs/101/attempts/1": "completed",
            "/repos/dag/config/actions/runs/102/attempts/2": "in_progress",
        }
    )
    monkeypatch.setenv("GITHUB_API_URL", api.url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_token")
    monkeypatch.setenv("GITHUB_REPOSITORY", "dag/config")
    yield api
    api.close()


def _ci_holder(repository: str, run_id: str, attempt: str) -> str:
    ci = {"provider": "github", "repository": repository, "run_id": run_id, "attempt": attempt}
    return json.dumps({"by": "runner@gh-7", "pid": 1, "since": "x", "boot": "b", "ci": ci})


def test_a_ci_run_that_github_reports_completed_is_gone(github: GitHub) -> None:
    assert lock.holder_gone(_ci_holder("dag/config", "101", "1")) == (
        "its CI run 101 (attempt 1) of dag/config has completed"
    )
    assert lock.holder_gone(_ci_holder("dag/config", "102", "2")) is None  # still running
    assert lock.holder_gone(_ci_holder("dag/config", "103", "1")) is None  # unknown: not gone
    assert github.asked == [
        ("/repos/dag/config/actions/runs/101/attempts/1", "Bearer ghs_token"),
        ("/repos/dag/config/actions/runs/102/attempts/2", "Bearer ghs_token"),
        ("/repos/dag/config/actions/runs/103/attempts/1", "Bearer ghs_token"),
    ]


def test_a_ci_holder_of_another_repository_or_without_a_token_is_not_asked_about(
    github: GitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lock.holder_gone(_ci_holder("someone/else", "101", "1")) is None
    assert lock.holder_gone(_ci_holder("dag/config", "101/../../x", "1")) is None
    monkeypatch.delenv("GITHUB_TOKEN")
    assert lock.holder_gone(_ci_holder("dag/config", "101", "1")) is None
    assert github.asked == []


def test_holder_info_names_the_github_run_it_belongs_to(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "dag/config"),
        ("GITHUB_RUN_ID", "4242"),
        ("GITHUB_RUN_ATTEMPT", "3"),
        ("GITHUB_JOB", "apply"),
    ):
        monkeypatch.setenv(name, value)
    info = json.loads(lock.holder_info("dagsync apply"))
    assert info["ci"] == {
        "provider": "github",
        "repository": "dag/config",
        "run_id": "4242",
        "attempt": "3",
        "job": "apply",
    }
    assert info["pid"] == os.getpid() and info["boot"] and isinstance(info["start"], int)


# --- breaking a gone holder's host lock (the host side, run by a local sh) -------------------


@pytest.fixture
def host_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "var-lib-dagsync"
    monkeypatch.setattr(lock, "LOCK_DIR", str(folder))
    monkeypatch.setattr(lock, "LOCK_FILE", str(folder / "apply.lock"))
    monkeypatch.setattr(lock, "HOLDER_FILE", str(folder / "apply.holder"))
    return folder


def _orphan(holder_text: str) -> subprocess.Popen[bytes]:
    """A host lock whose holder's connection never closed (a dead runner, a dead network):
    its stdin stays open, only the TTL would end it."""
    process = subprocess.Popen(
        ["sh", "-c", lock.acquire_command(holder_text, 900)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stdout.readline() == b"LOCKED\n"
    return process


def _try_lock() -> int:
    return subprocess.run(
        ["sh", "-c", lock.acquire_command("next", 60)], input=b"", capture_output=True, check=False
    ).returncode


def test_the_break_command_ends_the_holder_it_names_and_only_that_one(host_lock: Path) -> None:
    dead = _dead_holder()
    orphan = _orphan(dead)
    try:
        assert _try_lock() == lock.BUSY
        subprocess.run(["sh", "-c", lock.break_command('{"by": "someone else"}')], check=True)
        assert _try_lock() == lock.BUSY  # the holder file names another run: left alone
        started = time.monotonic()
        subprocess.run(["sh", "-c", lock.break_command(dead + "\n")], check=True)
        orphan.wait(10)
        assert time.monotonic() - started < 5  # at once, not after the 900 s TTL
        assert _try_lock() == 0
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)
        orphan.wait(10)
        for stream in (orphan.stdin, orphan.stdout):
            if stream is not None:
                stream.close()
