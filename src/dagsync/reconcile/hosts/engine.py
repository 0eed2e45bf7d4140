"""Plan and apply over many hosts in parallel; a failing host never stops the others.

plan:  per host, in parallel: connect, read every fact in one round trip, close; then the
       pure diff.
apply: per host, in parallel: connect, take the lock, read; if another (live) apply holds
       any host, release every host and stop (ApplyLocked, exit 2: nothing changed); build
       (or check) the plan; confirm; per host, in parallel, on the same connection: apply,
       release, close.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from dagsync.errors import DagsyncError
from dagsync.reconcile.core import Change, DiffOptions, DiffRefused, Note, Unknown
from dagsync.reconcile.hosts.desired import HostDesired
from dagsync.reconcile.hosts.registry import HOST_RESOURCES, host_resource
from dagsync.reconcile.hosts.work import Observation, Work, works_from_plan, works_from_repository
from dagsync.reconcile.lock import ApplyLocked
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus, host_status
from dagsync.reconcile.resource import ApplyOptions, CommandResult, Outcome, Status
from dagsync.reconcile.run import RunOptions, Selection, parallel
from dagsync.reconcile.transport import facts
from dagsync.reconcile.transport.errors import HostError, LockHeld
from dagsync.reconcile.transport.inventory import Credentials, Overrides
from dagsync.reconcile.transport.session import REFUSED_EXIT, HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository

T = TypeVar("T")
R = TypeVar("R")


# --- reading -------------------------------------------------------------------------------


def read_facts(session: HostSession, reads: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Every fact in one round trip, for the root key and the observer alike (an observer
    session sends the batch as one `batch` request, which its forced command runs as this
    very script).  A host whose observer wrapper predates batches refuses it: then each
    read goes as a request of its own, until the next apply updates the wrapper."""
    if not reads:
        return {}
    command, nonce = facts.batch(reads)
    result = session.run(command)
    sections: Mapping[str, Any] = facts.split(result.stdout, result.stderr, nonce)
    if session.observer and not sections and _refused_batch(result):
        sections = {kind: session.run(read) for kind, read in reads}
        result = CommandResult(0, "", "")
    observed: dict[str, Any] = {}
    for kind, _ in reads:
        section = sections.get(kind)
        if section is None:
            why = result.stderr.strip()[-200:] or f"exit code {result.exit_code}"
            observed[kind] = Unknown(f"no output from the read command ({why})")
        else:
            observed[kind] = host_resource(kind).parse(section)
    return observed


def _refused_batch(result: CommandResult) -> bool:

    return result.exit_code == REFUSED_EXIT and "refused: not one of the plan's reads" in (
        result.stderr
    )


def _observe(
    work: Work, creds: Credentials, options: RunOptions, *, keep: bool, lock_holder: str | None
) -> Observation:
    if work.error is not None:
        return Observation(work, error=work.error)  # not even connected to
    session = HostSession(work.target, work.endpoint, creds, options.timeouts)
    observation = Observation(work)
    try:
        session.open()
        if lock_holder is not None:
            session.lock(lock_holder, options.lock_ttl)
        observation.observed = read_facts(session, work.reads)
    except HostError as exc:
        observation.error = str(exc)
        observation.locked = isinstance(exc, LockHeld)
    if keep and observation.error is None:
        observation.session = session
    else:
        session.close()
    return observation


# --- diff ----------------------------------------------------------------------------------


def diff_host(
    desired: HostDesired, observed: Mapping[str, Any], options: DiffOptions
) -> tuple[list[Change], list[Note], list[tuple[str, str]]]:
    changes: list[Change] = []
    notes: list[Note] = list(desired.notes)
    unknown: list[tuple[str, str]] = []
    for kind, state in desired.states:
        value = observed.get(kind, Unknown("not read"))
        if isinstance(value, Unknown):
            unknown.append((kind, value.reason))
            continue
        for item in host_resource(kind).diff(state, value, options):
            (changes if isinstance(item, Change) else notes).append(item)  # type: ignore[arg-type]
    return changes, notes, unknown


def target_plan(observation: Observation, options: DiffOptions) -> TargetPlan:
    work = observation.work
    base = TargetPlan(
        work.target,
        work.endpoint.address,
        reads=work.reads,
        notes=work.desired.notes if work.desired else (),
    )
    if observation.error is not None or work.desired is None:
        return replace(base, error=observation.error or "no desired state")
    try:
        changes, notes, unknown = diff_host(work.desired, observation.observed, options)
    except DiffRefused as exc:
        return replace(base, error=f"not planned: {exc}", fingerprints=observation.fingerprints())
    return replace(
        base,
        changes=tuple(changes),
        notes=tuple(notes),
        unknown=tuple(unknown),
        fingerprints=observation.fingerprints(),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def build_plan(
    observations: Iterable[Observation],
    options: DiffOptions,
    *,
    commit: str | None,
    overrides: Overrides,
) -> Plan:
    targets = tuple(
        sorted((target_plan(o, options) for o in observations), key=lambda t: t.target.key)
    )
    return Plan(
        targets,
        _now(),
        commit,
        options.allow_destroy,
        str(overrides.path) if overrides.path else None,
    )


# --- plan ----------------------------------------------------------------------------------


def plan(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    *,
    now: dt.datetime | None = None,
    commit: str | None = None,
    alongside: Callable[[], None] | None = None,
) -> Plan:
    """Read every selected server (no lock, nothing changed) and compute the plan.

    `alongside` runs while the hosts are being read (the repository's validation); if it
    raises, the reads are discarded and its error propagates.
    """
    moment = now or dt.datetime.now(dt.UTC)
    works = works_from_repository(repo, selection, overrides, moment, options.kinds)
    creds = credentials(repo.settings.ssh_user, overrides)
    workers = max(1, min(options.parallel, len(works)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_observe, w, creds, options, keep=False, lock_holder=None) for w in works
        ]
        if alongside is not None:
            alongside()
        observations = [f.result() for f in futures]
    return build_plan(
        observations, DiffOptions(options.allow_destroy), commit=commit, overrides=overrides
    )


# --- apply ---------------------------------------------------------------------------------


@contextmanager
def _sessions(observations: Sequence[Observation]) -> Iterator[None]:
    try:
        yield
    finally:
        for observation in observations:
            if observation.session is not None:
                observation.session.close()


def apply(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    confirm: Callable[[Plan], bool],
    *,
    saved: Plan | None = None,
    now: dt.datetime | None = None,
    commit: str | None = None,
) -> ApplyReport:
    """Lock and read every host, plan (or check a saved plan), confirm, apply in parallel."""
    started = _now()
    moment = now or dt.datetime.now(dt.UTC)
    if saved is not None:
        works = works_from_plan(repo, saved, overrides, moment, options.kinds, selection)
    else:
        works = works_from_repository(repo, selection, overrides, moment, options.kinds)
    creds = credentials(repo.settings.ssh_user, overrides)
    holder = options.holder or "dagsync apply"
    observations = parallel(
        lambda w: _observe(w, creds, options, keep=True, lock_holder=holder),
        works,
        options.parallel,
    )
    _all_locks_or_none(observations)
    with _sessions(observations):
        current = build_plan(
            observations, DiffOptions(options.allow_destroy), commit=commit, overrides=overrides
        )
        chosen = _check_saved(saved, current, options) if saved is not None else current
        if chosen.has_changes and not confirm(chosen):
            raise DagsyncError("apply cancelled: nothing was changed")
        planned = {t.target.key: t for t in chosen.targets}
        results = parallel(
            lambda o: _apply_host(o, planned.get(o.work.target.key), options),
            observations,
            options.parallel,
        )
    return ApplyReport(chosen, tuple(sorted(results, key=lambda r: r.target.key)), started, _now())


def _all_locks_or_none(observations: Sequence[Observation]) -> None:
    """Another (live) apply holds some host: let go of every host and stop, nothing changed,
    so that two applies started together never split the hosts between them."""
    held = [o for o in observations if o.locked]
    if not held:
        return
    for observation in observations:
        if observation.session is not None:
            observation.session.close()
            observation.session = None
    raise ApplyLocked(
        f"another apply holds {len(held)} of the {len(observations)} host(s) of this run "
        f"({held[0].error}); every lock this run took was released and nothing was changed"
    )


def _check_saved(saved: Plan, current: Plan, options: RunOptions) -> Plan:
    """The plan computed now (`current`) if it is exactly the saved one for every host that
    could be read: same read commands, fingerprints of what was read, changes and payloads.
    The changes applied are always `current`'s, never the file's."""
    destructive = [c for t in saved.targets for c in t.changes if c.destructive]
    if destructive and not options.allow_destroy:
        raise DagsyncError(
            f"the plan deletes {len(destructive)} resource(s) "
            f"({destructive[0].summary}): apply it with --allow-destroy"
        )
    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.compare import saved_differences

    by_key = {t.target.key: t for t in saved.targets}
    problems = []
    for fresh in current.targets:
        if fresh.error is not None:
            continue  # reported as failed for this host
        old = by_key[fresh.target.key]
        problems += saved_differences(
            replace(saved, targets=(old,)), replace(current, targets=(fresh,))
        )
    if problems:
        raise DagsyncError(
            "the servers no longer match the saved plan, nothing was applied: "
            + "; ".join(problems)
            + ". Run `dagsync plan` again."
        )
    return current


def _apply_host(
    observation: Observation, planned: TargetPlan | None, options: RunOptions
) -> HostResult:
    target = observation.work.target
    started = time.monotonic()
    if observation.error is not None or observation.session is None:
        return HostResult(target, HostStatus.FAILED, message=observation.error or "not connected")
    unread = "; ".join(f"{k}: {r}" for k, r in planned.unknown) if planned else ""
    unread = f"could not read {unread}" if unread else ""
    outcomes: list[Outcome] = []
    message = planned.error if planned is not None and planned.error else ""  # DiffRefused
    if planned is not None and planned.changes and not message:
        try:
            outcomes = _apply_changes(observation.session, planned.changes, options.apply)
        except HostError as exc:
            message = str(exc)
        done = {id(o.change) for o in outcomes}
        outcomes += [
            Outcome(c, Status.SKIPPED, "not attempted")
            for c in planned.changes
            if id(c) not in done
        ]
    broken = observation.session.broken_lock or ""  # a gone run's lock, released: said
    observation.session.close()
    observation.session = None
    status = host_status(outcomes)
    if message or (unread and status in (HostStatus.APPLIED, HostStatus.UNCHANGED)):
        status = HostStatus.FAILED
    text = "; ".join(m for m in (message, unread, broken) if m)
    return HostResult(target, status, tuple(outcomes), text, time.monotonic() - started)


def _apply_changes(
    session: HostSession, changes: Sequence[Change], options: ApplyOptions
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for resource in HOST_RESOURCES:
        mine = [c for c in changes if c.kind == resource.KIND]
        if not mine:
            continue
        outcomes += resource.apply(session, mine, options)
        if any(o.status is Status.ROLLED_BACK for o in outcomes):
            break  # DAG's access was lost and restored: change nothing else on this host
    return outcomes
