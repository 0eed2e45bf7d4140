"""Building the work of the hosts' engine: which hosts to reach, where they are, the commands
that read their facts and their desired state (from the repository, or from a saved plan
checked against it); and what was read of each host (Observation)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.core import Target, Unknown
from dagsync.reconcile.hosts.desired import HostDesired, host_desired, server_inputs
from dagsync.reconcile.hosts.kinds import HOST_KINDS
from dagsync.reconcile.hosts.registry import host_resource
from dagsync.reconcile.plan import Plan, observed_fingerprint
from dagsync.reconcile.run import Selection
from dagsync.reconcile.shell import UnsafeValue
from dagsync.reconcile.transport.inventory import Endpoint, Overrides, endpoint
from dagsync.reconcile.transport.session import HostSession
from dagsync.validate.repository import Repository


@dataclass(frozen=True)
class Work:
    """One host to reach: where, and the commands that read its facts."""

    target: Target
    endpoint: Endpoint
    reads: tuple[tuple[str, str], ...]
    desired: HostDesired | None = None
    error: str | None = None  # why this host cannot be planned (it alone fails)


@dataclass
class Observation:
    """What was read from one host (or why nothing could be)."""

    work: Work
    observed: dict[str, Any] = field(default_factory=dict)  # kind -> state or Unknown
    error: str | None = None
    session: HostSession | None = None
    locked: bool = False  # another apply holds this host's lock

    def fingerprints(self) -> dict[str, str]:
        out = {}
        for kind, value in self.observed.items():
            encoded = value if isinstance(value, Unknown) else host_resource(kind).encode(value)
            out[kind] = observed_fingerprint(encoded)
        return out


def only_kinds(desired: HostDesired, kinds: frozenset[str] | None) -> HostDesired:
    """The desired state restricted to `kinds` (with their notes); unchanged for None."""
    if kinds is None:
        return desired
    return replace(
        desired,
        states=tuple((k, s) for k, s in desired.states if k in kinds),
        notes=tuple(n for n in desired.notes if n.kind in kinds or n.kind not in HOST_KINDS),
    )


def works_from_repository(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    now: dt.datetime,
    kinds: frozenset[str] | None = None,
) -> list[Work]:
    out = []
    for inputs in server_inputs(repo, selection, now, overrides.management_ranges, overrides.acme):
        where = endpoint(inputs.target.key, inputs.server, overrides)
        try:
            desired = only_kinds(host_desired(inputs), kinds)
        except UnsafeValue as exc:  # a value no renderer writes: this server fails, not the run
            out.append(Work(inputs.target, where, (), error=f"not planned: {exc}"))
            continue
        out.append(Work(inputs.target, where, desired.reads(), desired))
    return out


def works_from_plan(
    repo: Repository,
    saved: Plan,
    overrides: Overrides,
    now: dt.datetime | None = None,
    kinds: frozenset[str] | None = None,
    selection: Selection | None = None,
) -> list[Work]:
    """The hosts of a saved plan that have changes, each computed again from the repository.

    Only the target names come from the file: where a host is, what is read on it and what
    would change are the repository's.  A saved read command that is not the repository's
    refuses the plan here, before any host is reached, so none of the file's commands ever
    runs."""
    keys = {t.target.key for t in saved.targets if t.changes and not t.error}
    if not keys:
        return []
    works = {
        w.target.key: w
        for w in works_from_repository(
            repo, selection or Selection(), overrides, now or dt.datetime.now(dt.UTC), kinds
        )
    }
    out = []
    for planned in saved.targets:
        key = planned.target.key
        if key not in keys:
            continue
        work = works.get(key)
        if work is None:
            raise DagsyncError(f"{key} is in the plan but not in the repository")
        if work.error is None and dict(planned.reads) != dict(work.reads):
            a, b = dict(planned.reads), dict(work.reads)
            differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            raise DagsyncError(
                f"the saved plan's read commands of {key} ({', '.join(differ)}) are not the "
                "ones the repository gives: no host was reached, nothing was applied. Run "
                "`dagsync plan` again."
            )
        out.append(work)
    return out
