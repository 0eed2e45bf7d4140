"""The protocol every host resource kind satisfies, and what it is given.

A resource kind is four pure functions and one executor:

- `desired(inputs)`: the state the model asks for (no I/O);
- `read(desired)`: the shell command that reads the live state (a command builder), and
  `parse(result)`: its pure parser, returning the observed state or `Unknown`;
- `diff(desired, observed, options)`: the changes (and notes, e.g. a refusal), empty when
  the host already conforms;
- `apply(executor, changes, options)`: the only part that acts, through an `Executor`.

`encode(observed)` gives a JSON value of the observed state, which the plan fingerprints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dagsync.model.client import Client
from dagsync.model.monitoring import Monitoring
from dagsync.model.server import Server
from dagsync.reconcile.core import Change, DiffOptions, Note, Target, Unknown

if TYPE_CHECKING:
    from dagsync.reconcile.escrow import Escrow

Net = IPv4Network | IPv6Network


@dataclass(frozen=True)
class BlockedEntry:
    """One blocked network as it lands on a server, with where it comes from."""

    network: Net
    client: str
    reason: str


@dataclass(frozen=True)
class ServerInputs:
    """Everything the desired state of one server may depend on (plain values, no I/O)."""

    target: Target
    client: Client
    server: Server
    management_ranges: tuple[Net, ...]
    blocked: tuple[BlockedEntry, ...]
    now: dt.datetime  # aware
    # DAG's keys of policies/dag.yaml ("type base64"): no client key may be one of them
    dag_keys: frozenset[str] = frozenset()
    # The client's requests (id, summary): a plan names the request behind each change
    requests: tuple[tuple[str, str], ...] = ()

    # ACME issuer -> directory URL where the override file names a test CA (pebble)
    acme: tuple[tuple[str, str], ...] = ()
    # DAG's monitoring (policies/dag.yaml): the exporters it scrapes, the firewall openings
    monitoring: Monitoring | None = None

    def request_summary(self, request_id: str) -> str | None:
        return dict(self.requests).get(request_id)

    def because(self, why: str, request: str | None) -> str:
        """What a plan shows under a change: why, and the client's request that asked for it
        (`<why> (<REQ-id>: <summary>)`, the summary from requests.yaml)."""
        if request is None:
            return why
        summary = self.request_summary(request)
        return f"{why} ({request}: {summary})" if summary else f"{why} ({request})"


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it ended."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Executor(Protocol):
    """What an apply may do on one host: run commands (quoted by the caller) on the session's
    connection, or on a fresh connection (to prove access survives a change)."""

    @property
    def target(self) -> Target: ...

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult: ...

    def run_fresh(self, command: str, *, timeout: float | None = None) -> CommandResult: ...


class Status(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    """What became of one change."""

    change: Change
    status: Status
    message: str = ""


@dataclass(frozen=True)
class ApplyOptions:
    allow_destroy: bool = False
    confirm_timeout: float = 30.0  # seconds before an unconfirmed firewall change rolls back
    fresh_connect_timeout: float = 5.0
    # where generated secrets (database passwords) are copied, outside git; None: nowhere
    escrow: Escrow | None = None


D = TypeVar("D")
Obs = TypeVar("Obs")


class HostResource(Protocol[D, Obs]):
    """A kind of resource on a server, reconciled over SSH."""

    @property
    def KIND(self) -> str: ...

    def desired(self, inputs: ServerInputs) -> tuple[D, tuple[Note, ...]]: ...

    def read(self, desired: D) -> str: ...

    def parse(self, result: CommandResult) -> Obs | Unknown: ...

    def encode(self, observed: Obs) -> Any: ...

    def diff(self, desired: D, observed: Obs, options: DiffOptions) -> Sequence[Change | Note]: ...

    def apply(
        self, executor: Executor, changes: Sequence[Change], options: ApplyOptions
    ) -> list[Outcome]: ...
