"""Stand-ins for the SSH boundary, so that the engine, the session, confirm-and-rollback, the
backup driver and `backup verify` can be tested without root or test hosts.

- `FakeExecutor` is an `Executor` (what a resource's `apply` gets): it records every command
  and answers each with the next scripted reply.
- `FakeNetwork` replaces `dagsync.reconcile.transport.session.connect`: each address is a `FakeHost`
  whose connections record commands and answer them (scripted replies, or a responder that
  reads the command), and whose lock stream says `LOCKED`, `HELD` or nothing at all.
- `facts_reply` answers the engine's one-round-trip read (`dagsync.reconcile.transport.facts.batch`)
  with recorded outputs, the way a host's shell would.
- `FakeClock` replaces a module's `time` so that waits take no time and are recorded.

A reply is a `CommandResult`, an exception to raise (a timeout, a lost connection), or a
function of the command. A command nobody scripted fails the test with the command in the
message: the tests assert the exact sequence of commands sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from dagsync.reconcile.core import Target
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.transport.errors import CommandTimeout, Unreachable
from dagsync.reconcile.transport.inventory import Credentials, Endpoint

Reply = CommandResult | BaseException | Callable[[str], CommandResult]


def ok(stdout: str = "", stderr: str = "") -> CommandResult:
    return CommandResult(0, stdout, stderr)


def failed(code: int, stderr: str = "", stdout: str = "") -> CommandResult:
    return CommandResult(code, stdout, stderr)


@dataclass(frozen=True)
class Call:
    """One command as it was sent."""

    command: str
    stdin: bytes | None = None
    timeout: float | None = None
    fresh: bool = False  # sent over a new connection (`run_fresh`)


def _answer(reply: Reply, command: str) -> CommandResult:
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, CommandResult):
        return reply
    return reply(command)


class FakeExecutor:
    """An `Executor` answering `run` and `run_fresh` from two queues of replies."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        fresh: Iterable[Reply] = (),
        target: Target | None = None,
    ) -> None:
        self._target = target or Target("velo-savoie", "web1", production=True)
        self.replies = list(replies)
        self.fresh_replies = list(fresh)
        self.calls: list[Call] = []

    @property
    def target(self) -> Target:
        return self._target

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        self.calls.append(Call(command, stdin, timeout))
        if not self.replies:
            raise AssertionError(f"unexpected command: {command[:200]!r}")
        return _answer(self.replies.pop(0), command)

    def run_fresh(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.calls.append(Call(command, None, timeout, fresh=True))
        if not self.fresh_replies:
            raise AssertionError(f"unexpected command on a fresh connection: {command[:200]!r}")
        return _answer(self.fresh_replies.pop(0), command)

    @property
    def commands(self) -> list[str]:
        return [c.command for c in self.calls]


# --- the engine's batched read ---------------------------------------------------------------

_NONCE = re.compile(r"@@([0-9a-f]+) ")


def facts_reply(
    sections: Mapping[str, CommandResult], *, stray_stderr: str = ""
) -> Callable[[str], CommandResult]:
    """Answer a `facts.batch` script: each named section with its recorded result; a name
    missing from `sections` gets no section at all (as when the script is cut short)."""

    def answer(command: str) -> CommandResult:
        found = _NONCE.search(command)
        if found is None:
            raise AssertionError(f"not a batched read: {command[:200]!r}")
        tag = f"@@{found[1]}"
        out, err = [], [stray_stderr] if stray_stderr else []
        for name, result in sections.items():
            out.append(
                f"{tag} begin {name}\n{result.stdout}\n{tag} end {name} {result.exit_code}\n"
            )
            err.append(f"{tag} begin {name}\n{result.stderr}\n{tag} end {name}\n")
        return CommandResult(0, "".join(out), "".join(err))

    return answer


# --- connections -------------------------------------------------------------------------------


@dataclass
class FakeStream:
    """The lock holder's command: scripted first line, rest and exit code."""

    host: FakeHost
    command: str
    lines: list[str | BaseException]
    rest: tuple[str, int] = ("", 0)
    closed_with: list[float] = field(default_factory=list)

    def readline(self, timeout: float) -> str:
        self.host.log.append(f"readline {timeout:g}")
        if not self.lines:
            raise CommandTimeout(f"{self.host.address}: no answer in {timeout} s")
        line = self.lines.pop(0)
        if isinstance(line, BaseException):
            raise line
        return line

    def read_rest(self, timeout: float) -> tuple[str, int]:
        self.host.log.append(f"read_rest {timeout:g}")
        return self.rest

    def close(self, timeout: float = 10.0) -> int:
        self.closed_with.append(timeout)
        self.host.log.append(f"release {timeout:g}")
        return self.rest[1]


@dataclass
class FakeHost:
    """One address: what its connections answer, and everything that happened to it."""

    address: str
    replies: list[Reply] = field(default_factory=list)
    fresh_replies: list[Reply] = field(default_factory=list)
    refuse: BaseException | None = None  # raised by connect()
    lock_lines: list[str | BaseException] = field(default_factory=lambda: ["LOCKED"])
    lock_rest: tuple[str, int] = ("", 0)
    log: list[str] = field(default_factory=list)  # connect, run, stream, close, in order
    calls: list[Call] = field(default_factory=list)
    streams: list[FakeStream] = field(default_factory=list)

    @property
    def commands(self) -> list[str]:
        return [c.command for c in self.calls]


class FakeConnection:
    """What `dagsync.reconcile.transport.ssh.connect` returns, for one `FakeHost`."""

    def __init__(self, host: FakeHost, fresh: bool) -> None:
        self.host = host
        self.fresh = fresh
        self.closed = False

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float | None = 120.0
    ) -> CommandResult:
        if self.closed:
            raise Unreachable(f"the connection to {self.host.address} is closed")
        self.host.calls.append(Call(command, stdin, timeout, self.fresh))
        self.host.log.append("run fresh" if self.fresh else "run")
        queue = self.host.fresh_replies if self.fresh else self.host.replies
        if not queue:
            raise AssertionError(f"{self.host.address}: unexpected command {command[:200]!r}")
        return _answer(queue.pop(0), command)

    def stream(self, command: str) -> FakeStream:
        self.host.log.append("stream")
        stream = FakeStream(self.host, command, list(self.host.lock_lines), self.host.lock_rest)
        self.host.streams.append(stream)
        return stream

    def close(self) -> None:
        self.closed = True
        self.host.log.append("close fresh" if self.fresh else "close")


class FakeNetwork:
    """Replaces `connect`: one `FakeHost` per address; an address not declared is unreachable."""

    def __init__(self, *hosts: FakeHost) -> None:
        self.hosts = {h.address: h for h in hosts}
        self.connects: list[tuple[str, int, str, float]] = []

    def __getitem__(self, address: str) -> FakeHost:
        return self.hosts[address]

    def connect(
        self, endpoint: Endpoint, credentials: Credentials, timeout: float
    ) -> FakeConnection:
        self.connects.append((endpoint.address, endpoint.port, credentials.user, timeout))
        host = self.hosts.get(endpoint.address)
        if host is None:
            raise Unreachable(f"cannot connect to {endpoint.address}:{endpoint.port}: no route")
        fresh = _open(host)
        host.log.append("connect fresh" if fresh else "connect")
        if host.refuse is not None:
            raise host.refuse
        return FakeConnection(host, fresh)


def _open(host: FakeHost) -> bool:
    """Is a (non-fresh) connection of `host` still open?  Then a new one is a fresh one."""
    opened = sum(1 for e in host.log if e == "connect")
    closed = sum(1 for e in host.log if e == "close")
    return opened > closed


# --- time ----------------------------------------------------------------------------------------


class FakeClock:
    """A module's `time`: `sleep` advances `monotonic` at once and is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
