"""What a driver is: the context every driver is given and the row it has in the table.

The table itself (`DRIVERS`) and the selection of its rows live in `dagsync.reconcile.drivers`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dagsync.reconcile.hosts.kinds import HOST_KINDS
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport

if TYPE_CHECKING:
    from dagsync.reconcile.run import RunOptions, Selection
    from dagsync.reconcile.transport.inventory import Overrides
    from dagsync.validate.repository import Repository

KINDS = (*HOST_KINDS, "backup", "mail", "ovh", "observer", "monitoring", "security")
DRIVER_CLIENT = "dagsync"  # the "client" of the target that stands for a whole driver

Confirm = Callable[[Plan], bool]


@dataclass(frozen=True)
class Context:
    """What every driver is given: the repository, the selection, where hosts are, how."""

    repo: Repository
    selection: Selection
    overrides: Overrides
    options: RunOptions
    kinds: frozenset[str] = frozenset(KINDS)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    commit: str | None = None


@dataclass(frozen=True)
class Driver:
    """One row of the table."""

    name: str
    kinds: tuple[str, ...]  # what `--only` names
    change_kinds: tuple[str, ...]  # the `kind` of its changes, reads and fingerprints
    plan: Callable[[Context], Plan]
    apply: Callable[[Context, Confirm, Plan | None], ApplyReport]
    concerns: Callable[[Context], bool] = lambda ctx: True  # does the selection reach it?
    available: Callable[[], bool] = lambda: True

    def owns(self, kind: str) -> bool:
        """Is a change (read, fingerprint) of this kind this driver's? `x-*` is a prefix."""
        return any(
            kind == k or (k.endswith("*") and kind.startswith(k[:-1])) for k in self.change_kinds
        )
