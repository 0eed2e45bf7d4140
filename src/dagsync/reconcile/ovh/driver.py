"""Plan and apply the OVH resources of the declared servers, in the backup driver's shape.

plan:  read DAG's OVH account (its server list) and the resources of each selected server
       through the OVH API, nothing changed; then the pure diff. One target per declared
       server, ``<client>/<server>@ovh`` (transport ``ovh``, address: the service name), and
       for a run over the whole repository the account, ``dag/ovh-account``, whose notes
       name the account's servers that no client declares.
apply: the same reads and plan, ``confirm(plan)``, then each server's changes in order,
       with the access check of :mod:`.apply` after edge-firewall changes.

Inventory: a declared server missing from the account, found in another datacenter or
range, or declaring an address that is not its own, is an error for that server; nothing
else of that client is read further or changed (its other servers are reported skipped)
until git or the account is fixed. Credentials come from the environment or ``ovh.conf``
(:func:`dagsync.ovhapi.connect`): where OVH is not set up at all, nothing is planned and the
account target says so; incomplete or refused credentials make every target unknown.
The run's selection, reads and pure plan live in :mod:`.planning`; this module connects,
plans and applies.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from dagsync.errors import DagsyncError
from dagsync.ovhapi.client import OvhApi, connect, resolve_credentials
from dagsync.ovhapi.credentials import ENV_VARS, URL_ENV, config_files
from dagsync.ovhapi.errors import OvhError
from dagsync.reconcile.core import Change, Target, Transport, Unknown
from dagsync.reconcile.ovh.apply import AccessCheck, OvhOptions, apply_server
from dagsync.reconcile.ovh.observe import EdgeObserved
from dagsync.reconcile.ovh.planning import Entry, Run, build, compute_plan, now, observe
from dagsync.reconcile.plan import Plan, TargetPlan, stale_resources
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus, host_status
from dagsync.reconcile.resource import Outcome, Status
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import Overrides, endpoint
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository

__all__ = [
    "apply",
    "check_saved",
    "configured",
    "plan",
    "set_up",
    "ssh_access_check",
]


def configured() -> bool:
    """Whether OVH credentials are available (environment or ``ovh.conf``)."""
    try:
        resolve_credentials()
    except OvhError:
        return False
    return True


def set_up() -> bool:
    """Whether OVH is set up at all: an ``OVH_*`` or ``DAGSYNC_OVH_URL`` variable, or an
    ``ovh.conf`` file. Without any, OVH resources are not planned (a note says so); with
    incomplete credentials, they are unknown (an error that names what is missing)."""
    names = (*ENV_VARS.values(), URL_ENV)
    return any(os.environ.get(n) for n in names) or any(f.is_file() for f in config_files())


def _connect(api: OvhApi | None, run: Run, rate: float | None) -> OvhApi | None:
    if api is not None:
        return api
    if not set_up():
        run.not_set_up = True
        return None
    try:
        return connect() if rate is None else connect(max_rate_per_minute=rate)
    except OvhError as error:
        run.account = Unknown(str(error))
        return None


def plan(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    *,
    api: OvhApi | None = None,
    max_rate_per_minute: float | None = None,
) -> Plan:
    """Read the OVH account and the selected servers (nothing changed); the OVH plan.

    Without ``api``, it connects with the credentials of the environment or ``ovh.conf``
    (``max_rate_per_minute`` bounds the client, e.g. higher for a local emulator)."""
    run = build(repo, selection)
    connected = _connect(api, run, max_rate_per_minute)
    if connected is not None:
        observe(connected, run)
    return compute_plan(run)


# -- applying ---------------------------------------------------------------------------------


def ssh_access_check(repo: Repository, overrides: Overrides, options: RunOptions) -> AccessCheck:
    """A fresh SSH connection (pinned host key, DAG's user and key) to the server works."""

    servers = {f"{c.id}/{s.name}": s for c, s in repo.servers()}

    def check(target: Target) -> bool:
        server = servers.get(target.key)
        if server is None:
            return False
        try:
            creds = credentials(repo.settings.ssh_user, overrides)
            where = endpoint(target.key, server, overrides)
            session = HostSession(target, where, creds, options.timeouts).open()
        except (HostError, DagsyncError):
            return False
        try:
            return session.run("true").ok
        except HostError:
            return False
        finally:
            session.close()

    return check


def _previous(entry: Entry) -> dict[str, EdgeObserved]:
    edges = entry.observed.edges if entry.observed else ()
    return {a: e for a, e in edges if isinstance(e, EdgeObserved)}


def _not_attempted(changes: Sequence[Change], outcomes: list[Outcome]) -> list[Outcome]:
    done = {id(o.change) for o in outcomes}
    return outcomes + [
        Outcome(c, Status.SKIPPED, "not attempted") for c in changes if id(c) not in done
    ]


def _result(
    api: OvhApi | None,
    entry: Entry | None,
    planned: TargetPlan,
    check: AccessCheck,
    options: OvhOptions,
) -> HostResult:
    started = time.monotonic()
    target = planned.target
    if planned.error:
        skipped = entry is not None and entry.skipped is not None
        status = HostStatus.SKIPPED if skipped else HostStatus.FAILED
        return HostResult(target, status, message=planned.error)
    outcomes: list[Outcome] = []
    if planned.changes and api is not None and entry is not None:
        outcomes = apply_server(
            api, entry.desired.ssh_target, planned.changes, _previous(entry), check, options
        )
    outcomes = _not_attempted(planned.changes, outcomes)
    status = host_status(outcomes)
    unread = "; ".join(f"{k}: {r}" for k, r in planned.unknown)
    if unread and status in (HostStatus.APPLIED, HostStatus.UNCHANGED):
        status = HostStatus.FAILED
    message = f"could not read {unread}" if unread else ""
    return HostResult(target, status, tuple(outcomes), message, time.monotonic() - started)


def check_saved(saved: Plan, fresh: Plan) -> None:
    """Refuse a saved plan whose OVH targets no longer match the account (or git)."""
    now = {t.target.key: t for t in fresh.targets}
    problems = []
    for old in (t for t in saved.targets if t.target.transport is Transport.OVH):
        new = now.get(old.target.key)
        if new is None:
            problems.append(f"{old.target.key} is no longer planned")
            continue
        stale = stale_resources(old, new.fingerprints)
        if stale or old.changes != new.changes:
            what = ", ".join(stale) or "its changes"
            problems.append(f"{old.target.key}: {what} changed since the plan was computed")
    if problems:
        raise DagsyncError(
            "the OVH account no longer matches the saved plan, nothing was applied: "
            + "; ".join(problems)
            + ". Run `dagsync plan` again."
        )


def apply(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    confirm: Callable[[Plan], bool],
    *,
    api: OvhApi | None = None,
    max_rate_per_minute: float | None = None,
    ovh_options: OvhOptions | None = None,
    check_access: AccessCheck | None = None,
    saved: Plan | None = None,
) -> ApplyReport:
    """Read, plan, confirm, then converge each server (``check_access`` defaults to a fresh
    SSH connection: :func:`ssh_access_check`; ``ovh_options`` bounds the waits). With
    ``saved``, its OVH targets must still match what is read (:func:`check_saved`)."""
    started = now()
    run = build(repo, selection)
    connected = _connect(api, run, max_rate_per_minute)
    if connected is not None:
        observe(connected, run)
    chosen = compute_plan(run)
    if saved is not None:
        check_saved(saved, chosen)
    if chosen.has_changes and not confirm(chosen):
        raise DagsyncError("apply cancelled: nothing was changed")
    check = check_access or ssh_access_check(repo, overrides, options)
    entries = {e.desired.target.key: e for e in run.entries}
    results = [
        _result(connected, entries.get(t.target.key), t, check, ovh_options or OvhOptions())
        for t in chosen.targets
    ]
    return ApplyReport(chosen, tuple(results), started, now())
