"""The OVH driver's run: the selected servers, what is read of them, and their plan.

:func:`build` selects the declared servers (their desired state), :func:`observe` reads the
OVH account and each selected server through the API (nothing changed; an inventory error
blocks the rest of its client), and :func:`compute_plan` is the pure plan of what was read:
one target per server and, for a run over the whole repository, the account target.
:mod:`.driver` connects, plans and applies with them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.shapes import DedicatedServer
from dagsync.reconcile.core import Note, Unknown
from dagsync.reconcile.ovh import firewall
from dagsync.reconcile.ovh.desired import ACCOUNT_TARGET, ServerDesired, server_desired
from dagsync.reconcile.ovh.diff import (
    KIND_BACKUP,
    KIND_INVENTORY,
    KIND_REVERSE,
    account_notes,
    address_problems,
    placement_problems,
    server_diff,
)
from dagsync.reconcile.ovh.observe import (
    ServerObserved,
    encode,
    list_account,
    observe_server,
    read_server,
)
from dagsync.reconcile.plan import Plan, TargetPlan, fingerprint
from dagsync.reconcile.run import Selection
from dagsync.validate.repository import Repository

NOT_READ = Unknown("not read")


@dataclass
class Entry:
    """One selected server: desired, what was read, or why it is not planned."""

    desired: ServerDesired
    server: DedicatedServer | Unknown | None = None
    observed: ServerObserved | None = None
    error: str | None = None
    skipped: str | None = None


@dataclass
class Run:
    ovh_account: str
    declared: frozenset[str]  # every service name the repository declares
    full: bool  # no selection: the account target is planned too
    entries: list[Entry] = field(default_factory=list)
    account: tuple[str, ...] | Unknown = NOT_READ
    not_set_up: bool = False  # no OVH configuration at all: nothing is planned


def build(repo: Repository, selection: Selection) -> Run:
    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.daghosts import OVH_ACCOUNT, selects_dag

    ranges = repo.settings.management_ranges
    run = Run(
        repo.settings.ovh_account,
        frozenset(s.ovh.service_name for _, s in repo.servers()),
        full=selects_dag(selection, OVH_ACCOUNT),  # no selection, `--client dag`, ...
    )
    for config, server in repo.servers():
        if selection.wants(config.id, server.name):
            run.entries.append(
                Entry(server_desired(config.id, server, ranges, repo.settings.monitoring))
            )
    return run


# -- reading ----------------------------------------------------------------------------------


def _block_clients(run: Run) -> None:
    """A client with an inventory error: its other servers are skipped."""
    broken = {e.desired.target.client: e for e in run.entries if e.error}
    for entry in run.entries:
        culprit = broken.get(entry.desired.target.client)
        if culprit is not None and culprit is not entry and entry.skipped is None:
            entry.skipped = (
                f"skipped: {culprit.desired.ssh_target.key} has an inventory error, and nothing "
                f"of client {culprit.desired.target.client} is changed until it is fixed"
            )
            entry.observed = None


def _active(run: Run) -> list[Entry]:
    return [
        e
        for e in run.entries
        if not (e.error or e.skipped or e.desired.error or e.desired.unmanaged)
    ]


def _observe_entry(api: OvhApi, entry: Entry) -> None:
    entry.server = read_server(api, entry.desired.service_name)
    if isinstance(entry.server, Unknown):
        return
    problems = placement_problems(entry.desired, entry.server)
    if not problems:
        entry.observed = observe_server(api, entry.desired, entry.server)
        if not isinstance(entry.observed.blocks, Unknown):
            problems = address_problems(entry.desired, entry.observed.blocks)
    if problems:
        entry.error = "; ".join(problems)


def observe(api: OvhApi, run: Run) -> None:
    run.account = list_account(api)
    if isinstance(run.account, Unknown):
        return
    for entry in _active(run):
        if entry.desired.service_name not in run.account:
            entry.error = (
                f"{entry.desired.service_name} is not in the OVH account {run.ovh_account}: "
                f"check `ovh.service_name` of {entry.desired.ssh_target.key}"
            )
    _block_clients(run)
    for entry in _active(run):
        _observe_entry(api, entry)
    _block_clients(run)


# -- planning ---------------------------------------------------------------------------------


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _fingerprints(observed: ServerObserved) -> dict[str, str]:
    return {
        KIND_INVENTORY: fingerprint(encode(observed.server)),
        firewall.KIND: fingerprint([[a, encode(e)] for a, e in observed.edges]),
        KIND_REVERSE: fingerprint([[a, encode(r)] for a, r in observed.reverses]),
        KIND_BACKUP: fingerprint(encode(observed.backup)),
    }


def _unplanned(entry: Entry, run: Run) -> TargetPlan | None:
    """The target plan of a server that is not diffed, or ``None``."""
    base = TargetPlan(entry.desired.target, entry.desired.service_name)
    desired = entry.desired
    if desired.unmanaged:
        return replace(base, notes=(Note(KIND_INVENTORY, desired.unmanaged),))
    error = desired.error or entry.error or entry.skipped
    if error:
        return replace(base, error=error)
    for value in (run.account, entry.server):
        if isinstance(value, Unknown):
            return replace(base, unknown=((KIND_INVENTORY, value.reason),))
    return None if entry.observed else replace(base, unknown=((KIND_INVENTORY, "not read"),))


def entry_plan(entry: Entry, run: Run) -> TargetPlan:
    unplanned = _unplanned(entry, run)
    if unplanned is not None or entry.observed is None:
        return unplanned or TargetPlan(entry.desired.target, entry.desired.service_name)
    diff = server_diff(entry.desired, entry.observed)
    blocks = entry.observed.blocks
    unknown = ((KIND_INVENTORY, blocks.reason),) if isinstance(blocks, Unknown) else ()
    return TargetPlan(
        entry.desired.target,
        entry.desired.service_name,
        changes=diff.changes,
        notes=diff.notes,
        unknown=unknown + diff.unknown,
        fingerprints=_fingerprints(entry.observed),
    )


def account_plan(run: Run) -> TargetPlan:
    base = TargetPlan(ACCOUNT_TARGET, run.ovh_account)
    if isinstance(run.account, Unknown):
        return replace(base, unknown=((KIND_INVENTORY, run.account.reason),))
    return replace(
        base,
        notes=tuple(account_notes(run.account, run.declared)),
        fingerprints={KIND_INVENTORY: fingerprint(sorted(run.account))},
    )


NOT_SET_UP = (
    "OVH is not set up here (no OVH_* variable, no ovh.conf): the OVH resources were not "
    "planned. `dagsync ovh credentials` shows how to set it up"
)


def compute_plan(run: Run) -> Plan:
    if run.not_set_up:
        note = Note(KIND_INVENTORY, NOT_SET_UP)
        return Plan((TargetPlan(ACCOUNT_TARGET, run.ovh_account, notes=(note,)),), now())
    targets = [account_plan(run)] if run.full else []
    targets += [entry_plan(e, run) for e in run.entries]
    return Plan(tuple(sorted(targets, key=lambda t: t.target.key)), now())
