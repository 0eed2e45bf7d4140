"""DAG's own hosts (backup storages, shared mail hosts) as reconcile targets.

The reconcile engine plans client servers; DAG's hosts are targets `dag/<name>`, reached at
the address and host key of `policies/dag.yaml`, or those of the hosts override file under
the key `dag/<name>` (as the sandbox and the tests do).  These helpers read one resource
per host over the engine's `HostSession`, build the engine's `TargetPlan` and `HostResult`
values, and are shared by the backup and mail drivers until the engine grows such targets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.core import Change, Note, Target, Unknown
from dagsync.reconcile.plan import Plan, TargetPlan, observed_fingerprint
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus, host_status
from dagsync.reconcile.resource import CommandResult, Outcome, Status
from dagsync.reconcile.run import RunOptions, parallel
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import Endpoint, Overrides
from dagsync.reconcile.transport.session import HostSession

DAG = "dag"  # the "client" of DAG's own hosts in targets and override keys

DAG = "dag"  # the "client" of DAG's own hosts: `dag/<storage>`, `dag/<mail host>`
OVH_ACCOUNT = f"{DAG}/ovh-account"
OVH_KINDS = frozenset({"ovh"})
STORAGE_KINDS = frozenset({"backup"})
MAIL_KINDS = frozenset({"mail"})
MONITORING_KINDS = frozenset({"monitoring"})
SECURITY_KINDS = frozenset({"security"})

if TYPE_CHECKING:
    from dagsync.reconcile.run import Selection
    from dagsync.validate.repository import Repository


def dag_hosts(repo: Repository) -> dict[str, frozenset[str]]:
    """DAG's own targets, by key, with the kinds that make them."""
    return dag_hosts_of(repo.settings)


def dag_hosts_of(settings: Any) -> dict[str, frozenset[str]]:
    """DAG's own targets under `settings` (policies/dag.yaml), with their kinds."""
    hosts: dict[str, frozenset[str]] = {OVH_ACCOUNT: OVH_KINDS}
    hosts.update({f"{DAG}/{s.name}": STORAGE_KINDS for s in settings.backup_storages})
    hosts.update({f"{DAG}/{m.name}": MAIL_KINDS for m in settings.mail_hosts})
    monitoring = settings.monitoring.hosts if settings.monitoring else []
    hosts.update({f"{DAG}/{m.name}": MONITORING_KINDS for m in monitoring})
    hosts.update({f"{DAG}/{h.name}": SECURITY_KINDS for h in settings.security_hosts[:1]})
    return hosts


def fleet_of(settings: Any) -> dict[str, str]:
    """DAG's hosts rendered from every client, by key, with the field of each client's
    `digests.ClientPart` they take."""
    found = {f"{DAG}/{m.name}": "mail" for m in settings.mail_hosts}
    watchers = settings.monitoring.hosts if settings.monitoring else []
    found |= {f"{DAG}/{m.name}": "monitoring" for m in watchers}
    return found | {f"{DAG}/{h.name}": "security" for h in settings.security_hosts[:1]}


def dag_members(settings: Any) -> list[tuple[str, str]]:
    """DAG's own hosts as (name, role): backup storages, mail hosts, monitoring hosts."""
    watchers = settings.monitoring.hosts if settings.monitoring else []
    found = [(s.name, "backup storage") for s in settings.backup_storages]
    found += [(m.name, "mail host") for m in settings.mail_hosts]
    found += [(m.name, "monitoring host") for m in watchers]
    return found + [(h.name, "security host") for h in settings.security_hosts[:1]]


def selects_dag(selection: Selection, key: str) -> bool:
    """Does `--client dag` or `--server dag/<name>` (or no selection at all) name `key`?"""
    if not selection.clients and not selection.servers:
        return True
    if selection.servers:
        return key in selection.servers and (not selection.clients or DAG in selection.clients)
    return DAG in selection.clients


@dataclass
class Host:
    """One host of a run: where, what to read and how to parse it, what was read."""

    target: Target
    endpoint: Endpoint | None
    kind: str = ""
    read: str = ""
    parse: Callable[[CommandResult], Any] | None = None
    encode: Callable[[Any], Any] | None = None
    observed: Any = None  # parsed facts, Unknown, or None when unread
    error: str | None = None
    session: HostSession | None = None

    @property
    def reads(self) -> tuple[tuple[str, str], ...]:
        return ((self.kind, self.read),) if self.read else ()


def dag_target(name: str) -> Target:
    return Target(DAG, name)


def dag_endpoint(
    name: str,
    what: str,
    address: IPv4Address | str | None,
    host_key: str | None,
    overrides: Overrides,
) -> Endpoint:
    """Where DAG's host `name` is: the override `dag/<name>`, else policies/dag.yaml."""
    key = f"{DAG}/{name}"
    if key in overrides.hosts:
        return overrides.hosts[key]
    if not host_key or not address:
        raise DagsyncError(
            f"{what} {name}: no address and host_key in policies/dag.yaml (nor "
            f"`{key}` in the hosts override file): refusing to connect"
        )
    return Endpoint(str(address), 22, " ".join(host_key.split()[:2]), "declared")


def observe_host(
    host: Host, options: RunOptions, creds: Any, *, keep: bool, holder: str | None
) -> None:
    """Connect (and lock, for an apply), run the read command, parse it."""
    if host.error is not None or host.endpoint is None or host.parse is None:
        return
    session = HostSession(host.target, host.endpoint, creds, options.timeouts)
    try:
        session.open()
        if holder is not None:
            session.lock(holder, options.lock_ttl)
        host.observed = host.parse(session.run(host.read))
    except HostError as exc:
        host.error = str(exc)
    if keep and host.error is None:
        host.session = session
    else:
        session.close()


def observe_all(
    hosts: Sequence[Host], options: RunOptions, creds: Any, *, keep: bool, holder: str | None = None
) -> None:
    parallel(
        lambda h: observe_host(h, options, creds, keep=keep, holder=holder), hosts, options.parallel
    )


def close_all(hosts: Iterable[Host]) -> None:
    for host in hosts:
        if host.session is not None:
            host.session.close()
            host.session = None


def target_plan(host: Host, items: Sequence[Change | Note] | None) -> TargetPlan:
    address = host.endpoint.address if host.endpoint else ""
    base = TargetPlan(host.target, address, reads=host.reads)
    if host.error is not None:
        return replace(base, error=host.error)
    if isinstance(host.observed, Unknown) or host.observed is None:
        reason = host.observed.reason if isinstance(host.observed, Unknown) else "not read"
        return replace(base, unknown=((host.kind, reason),))
    items = items or ()
    encoded = host.encode(host.observed) if host.encode else None
    return replace(
        base,
        changes=tuple(i for i in items if isinstance(i, Change)),
        notes=tuple(i for i in items if isinstance(i, Note)),
        fingerprints={host.kind: observed_fingerprint(encoded)},
    )


def host_result(
    host: Host, changes: Sequence[Change], outcomes: Sequence[Outcome], seconds: float
) -> HostResult:
    """Applied / failed / unchanged; planned changes without an outcome are "not attempted"."""
    if host.error is not None:
        return HostResult(host.target, HostStatus.FAILED, message=host.error)
    done = {id(o.change) for o in outcomes}
    every = list(outcomes) + [
        Outcome(c, Status.SKIPPED, "not attempted") for c in changes if id(c) not in done
    ]
    return HostResult(host.target, host_status(every), tuple(every), seconds=seconds)


# --- one plan and one report for `dagsync plan` / `apply` ----------------------------------

_RANK = {
    HostStatus.UNCHANGED: 0,
    HostStatus.SKIPPED: 1,
    HostStatus.APPLIED: 2,
    HostStatus.ROLLED_BACK: 3,
    HostStatus.FAILED: 4,
}


def _merge_target(a: TargetPlan, b: TargetPlan) -> TargetPlan:
    errors = "; ".join(e for e in (a.error, b.error) if e) or None
    return TargetPlan(
        a.target,
        a.address or b.address,
        a.changes + b.changes,
        a.notes + b.notes,
        a.unknown + b.unknown,
        errors,
        a.reads + b.reads,
        {**a.fingerprints, **b.fingerprints},
    )


def merge_plans(first: Plan, *others: Plan) -> Plan:
    """One plan from the engine's and these drivers': targets of the same key are joined."""
    by_key = {t.target.key: t for t in first.targets}
    for plan in others:
        for target in plan.targets:
            key = target.target.key
            by_key[key] = _merge_target(by_key[key], target) if key in by_key else target
    return replace(first, targets=tuple(by_key[k] for k in sorted(by_key)))


def merge_reports(first: ApplyReport, *others: ApplyReport) -> ApplyReport:
    """One report: the results of a host joined, its status the worst of them."""
    by_key = {r.target.key: r for r in first.results}
    for report in others:
        for r in report.results:
            old = by_key.get(r.target.key)
            if old is None:
                by_key[r.target.key] = r
                continue
            status = max(old.status, r.status, key=_RANK.__getitem__)
            message = "; ".join(m for m in (old.message, r.message) if m)
            by_key[r.target.key] = HostResult(
                r.target, status, old.outcomes + r.outcomes, message, old.seconds + r.seconds
            )
    plan = merge_plans(first.plan, *(r.plan for r in others))
    finished = max([first.finished_at, *(r.finished_at for r in others)])
    return ApplyReport(plan, tuple(by_key[k] for k in sorted(by_key)), first.started_at, finished)
