"""Plan and apply backups across servers and DAG's storage hosts.

A server's borg key is generated on the server, and its storage must authorise that key
before the server can initialise its repository there.  So, per apply:

1. every selected server and its storage host are locked and read in parallel (one SSH
   connection each, kept for the whole apply); the plan is computed from those facts;
2. *prepare*, on the servers in parallel: SSH key, passphrase, the storage's host key;
3. *authorise*, on each storage: the `borg` user and its `authorized_keys`, rendered whole
   with the keys read back from the servers (a line for each server, restricted to its
   own repository);
4. *finish*, on the servers in parallel: initialise the repository if missing, escrow the
   passphrase and repository key (see `dagsync.reconcile.escrow`), then the job script and
   the cron file.

A storage host is a target `dag/<name>`; it is reached at the address and host key of
`policies/dag.yaml`, or those of the hosts override file under the key `dag/<name>` (as the
sandbox and the tests do).  The plan is the engine's `Plan`, rendered by its renderers.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.model.policy import BackupStorage
from dagsync.reconcile import escrow as escrows
from dagsync.reconcile.backup import resource as res
from dagsync.reconcile.backup import storage as storages
from dagsync.reconcile.backup.apply import (
    apply_change,
    ordered,
    read_secrets_command,
    split_secrets,
)
from dagsync.reconcile.backup.job import SSH_KEY_FILE
from dagsync.reconcile.core import Change, Target, Unknown
from dagsync.reconcile.daghosts import (
    DAG,
    Host,
    close_all,
    dag_endpoint,
    dag_target,
    host_result,
    observe_all,
    selects_dag,
    target_plan,
)
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.report import ApplyReport, HostResult
from dagsync.reconcile.resource import Outcome, Status
from dagsync.reconcile.run import RunOptions, Selection, parallel
from dagsync.reconcile.shell import UnsafeValue
from dagsync.reconcile.transport.inventory import Endpoint, Overrides, endpoint
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository


@dataclass
class Run:
    """Everything one plan or apply of backups works on."""

    servers: dict[str, tuple[Host, res.BackupDesired | None]] = field(default_factory=dict)
    storages: dict[str, tuple[Host, storages.StorageSpec | None]] = field(default_factory=dict)
    declared: dict[str, list[str]] = field(default_factory=dict)  # storage -> server keys
    full: bool = True  # no selection: keys of servers gone from git are removed
    # Storages applied whole (`--client dag`, `--server dag/<storage>`): every server they
    # keep is read for its key (a "source", not planned), and undeclared keys are removed.
    whole: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)  # server keys read only for their key

    def hosts(self) -> list[Host]:
        return [h for h, _ in self.servers.values()] + [h for h, _ in self.storages.values()]


def storage_endpoint(storage: BackupStorage, overrides: Overrides) -> Endpoint:
    address = storage.address or storage.host
    return dag_endpoint(storage.name, "backup storage", address, storage.host_key, overrides)


# --- building ------------------------------------------------------------------------------


def _storage_host(
    storage: BackupStorage, overrides: Overrides
) -> tuple[Host, storages.StorageSpec | None]:
    host = Host(dag_target(storage.name), None, storages.STORAGE_KIND)
    try:
        where = storage_endpoint(storage, overrides)
    except DagsyncError as exc:
        host.error = str(exc)
        return host, None
    spec = storages.StorageSpec(
        storage.name, where.address, where.port, where.host_key, storage.repository_root
    )
    host.endpoint = where
    host.read, host.parse = storages.storage_read(spec), storages.storage_parse
    host.encode = storages.storage_encode
    return host, spec


def build(repo: Repository, selection: Selection, overrides: Overrides) -> Run:

    run = Run(full=not selection.clients and not selection.servers)
    storages = {s.name: s for s in repo.settings.backup_storages}
    run.whole = {n for n in storages if selects_dag(selection, f"{DAG}/{n}")}
    if selection.clients or selection.servers:  # named: reached even when it keeps nothing
        for name in sorted(run.whole):
            run.storages[name] = _storage_host(storages[name], overrides)
    for config, server in repo.servers():
        key = f"{config.id}/{server.name}"
        run.declared.setdefault(server.backup.storage, []).append(key)
        if not selection.wants(config.id, server.name):
            if server.backup.storage not in run.whole:
                continue
            run.sources.add(key)
        storage = storages.get(server.backup.storage)
        if storage is None:
            raise DagsyncError(
                f"{key}: backup storage `{server.backup.storage}` is not in policies/dag.yaml"
            )
        if storage.name not in run.storages:
            run.storages[storage.name] = _storage_host(storage, overrides)
        spec = run.storages[storage.name][1]
        host = Host(
            Target(config.id, server.name, production=server.role.value == "production"),
            endpoint(key, server, overrides),
            res.KIND,
            parse=res.parse,
            encode=res.encode,
        )
        try:
            desired = res.desired(config.client, server, spec) if spec else None
        except UnsafeValue as exc:  # this server fails, not the whole run
            desired, host.error = None, f"not planned: {exc}"
        if desired is None:
            host.error = host.error or f"backup storage {storage.name} cannot be reached: " + (
                run.storages[storage.name][0].error or ""
            )
        else:
            host.read = res.read(desired)
        run.servers[key] = (host, desired)
    return run


# --- reading -------------------------------------------------------------------------------


def observe(
    run: Run, options: RunOptions, creds: Any, *, keep: bool, holder: str | None = None
) -> None:
    observe_all(run.hosts(), options, creds, keep=keep, holder=holder)


# --- planning ------------------------------------------------------------------------------


def _escrow_state(escrow: escrows.Escrow, key: str) -> res.EscrowState:
    if not escrow.supported:
        return res.EscrowState(None, None)
    return res.EscrowState(escrow.describe(), escrows.escrowed_digest(escrow, key))


def _public_keys(run: Run, storage: str) -> dict[str, str | None]:
    keys: dict[str, str | None] = {}
    for key in run.declared.get(storage, []):
        if key in run.servers:
            host, _ = run.servers[key]
            if isinstance(host.observed, res.BackupObserved):
                keys[key] = host.observed.public_key
    return keys


def storage_desired(
    run: Run, name: str, keys: Mapping[str, str | None]
) -> storages.StorageDesired | None:
    host, spec = run.storages[name]
    if spec is None or not isinstance(host.observed, storages.StorageObserved):
        return None
    declared = set(run.declared.get(name, []))
    kept = [
        line
        for path, line in host.observed.by_path().items()
        if _owner(spec, path) not in keys
        and (_owner(spec, path) in declared or not (run.full or name in run.whole))
    ]
    return storages.storage_desired(spec, keys, kept)


def _owner(spec: storages.StorageSpec, path: str) -> str:
    return path.removeprefix(spec.root.rstrip("/") + "/")


def compute_plan(run: Run, escrow: escrows.Escrow, now: dt.datetime) -> Plan:
    targets = []
    for name, (host, _) in run.storages.items():
        wanted = storage_desired(run, name, _public_keys(run, name))
        items = storages.storage_diff(wanted, host.observed) if wanted else None
        targets.append(target_plan(host, items))
    for key, (host, desired) in run.servers.items():
        if key in run.sources:
            continue
        items = None
        if desired is not None and isinstance(host.observed, res.BackupObserved):
            storage = run.storages[desired.storage.name][0]
            facts = (
                storage.observed
                if isinstance(storage.observed, storages.StorageObserved)
                else (Unknown(storage.error or "storage not read"))
            )
            items = res.diff(desired, host.observed, facts, _escrow_state(escrow, key), now)
        targets.append(target_plan(host, items))
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Plan(tuple(sorted(targets, key=lambda t: t.target.key)), created)


def plan(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    *,
    now: dt.datetime | None = None,
) -> Plan:
    """Read every selected server and its storage (nothing changed); the backup plan."""
    run = build(repo, selection, overrides)
    observe(run, options, credentials(repo.settings.ssh_user, overrides), keep=False)
    escrow = escrows.resolve(repo.settings.passphrase_escrow, repo.root)
    return compute_plan(run, escrow, now or dt.datetime.now(dt.UTC))


# --- applying ------------------------------------------------------------------------------


def _changes(planned: Mapping[str, TargetPlan], host: Host) -> tuple[Change, ...]:
    target = planned.get(host.target.key)
    return target.changes if target else ()


def _prepare(host: Host, changes: Sequence[Change]) -> list[Outcome]:
    if host.session is None:
        return []
    outcomes: list[Outcome] = []
    for change in ordered(changes, res.PREPARE):
        outcomes.append(apply_change(host.session, change))
        if outcomes[-1].status is not Status.APPLIED:
            break
    return outcomes


def _read_public_key(host: Host) -> str | None:
    if host.session is None:
        return None
    result = host.session.run(f"head -n1 {SSH_KEY_FILE}.pub")
    return " ".join(result.stdout.split()[:2]) if result.ok and result.stdout.strip() else None


def _authorise(
    run: Run, name: str, fresh: Mapping[str, str | None], planned: Mapping[str, TargetPlan]
) -> tuple[list[Change], list[Outcome]]:
    """The storage's changes recomputed with the keys generated by this apply, applied."""
    host, _ = run.storages[name]
    if host.session is None or not _changes(planned, host):
        return list(_changes(planned, host)), []
    keys = {
        **_public_keys(run, name),
        **{k: v for k, v in fresh.items() if k in run.declared.get(name, [])},
    }
    desired = storage_desired(run, name, keys)
    if desired is None:
        return list(_changes(planned, host)), []
    items = storages.storage_diff(replace(desired, pending=()), host.observed)
    changes = [c for c in items if isinstance(c, Change)]
    return changes, storages.apply_storage(host.session, changes)


def _escrow(host: Host, change: Change, escrow: escrows.Escrow) -> Outcome:
    assert host.session is not None
    p = change.payload
    result = host.session.run(read_secrets_command(str(p["repository"]), int(p["port"])))
    try:
        if not result.ok:
            raise ValueError(f"exit code {result.exit_code}: {result.stderr.strip()[-300:]}")
        passphrase, key = split_secrets(result.stdout)
        path = escrows.write(escrow, str(p["key"]), str(p["repository"]), passphrase, key)
    except (ValueError, escrows.EscrowError) as exc:
        return Outcome(change, Status.FAILED, f"escrow failed: {exc}")
    return Outcome(change, Status.APPLIED, f"copy in {path}")


def _finish(
    host: Host, changes: Sequence[Change], escrow: escrows.Escrow, storage_ok: bool
) -> list[Outcome]:
    if host.session is None:
        return []
    outcomes: list[Outcome] = []
    for change in ordered(changes, res.FINISH):
        if change.resource in ("repository", "escrow") and not storage_ok:
            outcomes.append(Outcome(change, Status.FAILED, "the storage did not authorise the key"))
            continue
        if change.resource == "escrow":
            outcomes.append(_escrow(host, change, escrow))
        else:
            outcomes.append(apply_change(host.session, change))
        if outcomes[-1].status is Status.FAILED and change.resource in ("repository", "escrow"):
            break
    return outcomes


def apply(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    confirm: Callable[[Plan], bool],
    *,
    now: dt.datetime | None = None,
) -> ApplyReport:
    """Lock and read, plan, confirm, then prepare / authorise / finish (module docstring)."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    run = build(repo, selection, overrides)
    escrow = escrows.resolve(repo.settings.passphrase_escrow, repo.root)
    observe(
        run,
        options,
        credentials(repo.settings.ssh_user, overrides),
        keep=True,
        holder=options.holder or "dagsync apply (backups)",
    )
    try:
        chosen = compute_plan(run, escrow, now or dt.datetime.now(dt.UTC))
        if chosen.has_changes and not confirm(chosen):
            raise DagsyncError("apply cancelled: nothing was changed")
        results = _apply_all(run, chosen, escrow, options, clock)
    finally:
        close_all(run.hosts())
    finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return ApplyReport(
        chosen, tuple(sorted(results, key=lambda r: r.target.key)), started, finished
    )


def _apply_all(
    run: Run, chosen: Plan, escrow: escrows.Escrow, options: RunOptions, clock: float
) -> list[HostResult]:
    planned = {t.target.key: t for t in chosen.targets}
    servers = [h for h, _ in run.servers.values()]
    prepared = dict(
        zip(
            (h.target.key for h in servers),
            parallel(lambda h: _prepare(h, _changes(planned, h)), servers, options.parallel),
            strict=True,
        )
    )
    fresh = {
        h.target.key: _read_public_key(h)
        for h in servers
        if any(o.change.resource == "ssh key" for o in prepared[h.target.key])
    }
    authorised = {name: _authorise(run, name, fresh, planned) for name in run.storages}
    results = [
        host_result(h, *authorised[n], time.monotonic() - clock)
        for n, (h, _) in run.storages.items()
    ]

    def finish(host: Host) -> list[Outcome]:
        desired = run.servers[host.target.key][1]
        if desired is None:
            return []
        name = desired.storage.name
        ok = run.storages[name][0].error is None and all(
            o.status is Status.APPLIED for o in authorised[name][1]
        )
        return _finish(host, _changes(planned, host), escrow, ok)

    finished = parallel(finish, servers, options.parallel)
    for host, done in zip(servers, finished, strict=True):
        if host.target.key in run.sources:
            continue
        outcomes = prepared[host.target.key] + done
        results.append(
            host_result(host, _changes(planned, host), outcomes, time.monotonic() - clock)
        )
    return results
