"""The security services in `dagsync plan` and `apply` (docs/security-services.md): DAG's
security host `dag/<name>` with one CrowdSec local API per scope, and every client server of
the selection with its agent, firewall bouncer, AIDE and ClamAV, as its `security:` flags say.

`plan` reads (nothing locked or changed): one read per target (`hostplan.read`, the same
script everywhere, which the observer key may run), compared with the setup rendered from the
model and the master secret.  A changed or missing file, a stopped agent, bouncer or local
API, a missing package or AIDE database is a change.  `apply` locks and reads every target,
plans again, confirms, then applies the security host first (the agents and bouncers log in
to it), then the servers in parallel.

Without the master secret (`DAGSYNC_SECURITY_SECRET`) nothing can be compared (the
credential files derive from it): the plan says so in a note on `dag/<security host>` and
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from dagsync.errors import DagsyncError
from dagsync.reconcile.core import Action, Change, Detail, Note, Target
from dagsync.reconcile.daghosts import (
    DAG,
    Host,
    close_all,
    dag_endpoint,
    dag_target,
    host_result,
    observe_all,
    target_plan,
)
from dagsync.reconcile.extras import read_extras
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.report import ApplyReport, HostResult
from dagsync.reconcile.resource import Executor, Outcome, Status
from dagsync.reconcile.run import RunOptions, Selection, parallel
from dagsync.reconcile.security import aide, hostplan
from dagsync.reconcile.security.credentials import MissingSecret, Secrets, from_environment
from dagsync.reconcile.security.desired import desired
from dagsync.reconcile.security.hostplan import KIND, SecurityObserved, TargetSetup
from dagsync.reconcile.security.text import visible
from dagsync.reconcile.transport.inventory import Endpoint, Overrides, endpoint
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository

STEP_TIMEOUT = 600.0  # an AIDE initialisation of a whole server takes minutes


@dataclass
class Run:
    """The targets of one plan or apply, each with its setup."""

    targets: list[tuple[Host, TargetSetup]]
    note: str | None = None  # why nothing was planned
    note_target: Target | None = None  # where that is said: the security host


def _host(target: Target, where: Callable[[], Endpoint]) -> Host:
    host = Host(target, None, KIND, hostplan.read(), hostplan.parse, hostplan.encode)
    try:
        host.endpoint = where()
    except DagsyncError as exc:
        host.error = str(exc)
    return host


def concerned(repo: Repository, selection: Selection) -> bool:
    """Any plan of clients reaches the security host (its local APIs enrol every server); a
    plan of some servers reaches the servers it names."""
    declared = repo.settings.security_hosts
    if not declared:
        return False
    if selection.servers:
        named = f"{DAG}/{declared[0].name}" in selection.servers
        return named or any(selection.wants(c.id, s.name) for c, s in repo.servers())
    return True


def build(
    repo: Repository, selection: Selection, overrides: Overrides, secrets: Secrets | None = None
) -> Run:
    if secrets is None:
        try:
            secrets = from_environment()
        except MissingSecret as exc:
            name = repo.settings.security_hosts[0].name
            return Run([], f"security services not planned: {exc}", dag_target(name))
    model = desired(repo, secrets)
    watched = read_extras(overrides.path).aide_watched or aide.WATCHED
    run = Run([])
    key = f"{DAG}/{model.host.name}"
    if not selection.servers or key in selection.servers:
        host = _host(
            dag_target(model.host.name),
            lambda: dag_endpoint(
                model.host.name,
                "security host",
                model.host.address,
                model.host.host_key,
                overrides,
            ),
        )
        run.targets.append((host, hostplan.host_setup(model.security)))
    for config, server in repo.servers():
        if not selection.wants(config.id, server.name):
            continue
        name = f"{config.id}/{server.name}"
        target = Target(config.id, server.name, production=server.role.value == "production")
        host = _host(target, partial(endpoint, name, server, overrides))
        flags = server.security
        setup = hostplan.server_setup(
            model.servers[name], flags.intrusion_detection, flags.antivirus, watched
        )
        run.targets.append((host, setup))
    return run


def _change(setup: TargetSetup, observed: SecurityObserved) -> list[Change]:
    lines = hostplan.pending(setup, observed)
    if not lines:
        return []
    action = Action.CREATE if not observed.files and not observed.daemons else Action.UPDATE
    if setup.crowdsec.target == "security-host":
        what = "CrowdSec local APIs (checked by crowdsec -t before activation)"
    else:
        names = [("agent and " if setup.aide else "") + "bouncer"]
        names += ["AIDE"] if setup.aide else []
        names += ["ClamAV"] if setup.antivirus else []
        what = f"CrowdSec {', '.join(names)} (checked by the tools' test modes before activation)"
    summary = f"{what}: {len(lines)} item(s)"
    details = tuple(Detail("~", line) for line in lines)
    return [Change(KIND, action, "security", summary, details, {"pending": lines})]


def _plan(run: Run) -> Plan:
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if run.note is not None and run.note_target is not None:
        note = TargetPlan(run.note_target, "", notes=(Note(KIND, run.note),))
        return Plan((note,), created)
    targets = []
    for host, setup in run.targets:
        observed = host.observed
        items = _change(setup, observed) if isinstance(observed, SecurityObserved) else None
        targets.append(target_plan(host, items))
    return Plan(tuple(targets), created)


def plan(repo: Repository, selection: Selection, overrides: Overrides, options: RunOptions) -> Plan:
    """Read every target (nothing changed) and plan it."""
    run = build(repo, selection, overrides)
    hosts = [h for h, _ in run.targets]
    if hosts:
        creds = credentials(repo.settings.ssh_user, overrides)
        observe_all(hosts, options, creds, keep=False)
    return _plan(run)


def run_steps(executor: Executor, setup: TargetSetup, change: Change) -> Outcome:
    """Run the change's steps in order; the first that fails stops them."""
    lines = list(change.payload.get("pending", ()))
    done = []
    for step in hostplan.apply_steps(setup, lines):
        if step.stdin is None:
            result = executor.run("sh -s", stdin=step.script.encode(), timeout=STEP_TIMEOUT)
        else:
            result = executor.run(step.script, stdin=step.stdin, timeout=STEP_TIMEOUT)
        if not result.ok:
            error = visible(result.stderr.strip()[-600:])  # the host's words, escaped
            return Outcome(
                change, Status.FAILED, f"{step.what} failed ({result.exit_code}): {error}"
            )
        done.append(step.what)
    return Outcome(change, Status.APPLIED, f"{len(done)} step(s): {', '.join(done)[:400]}")


def apply(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    confirm: Callable[[Plan], bool],
) -> ApplyReport:
    """Lock and read every target, plan, confirm, apply: the security host first."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    run = build(repo, selection, overrides)
    hosts = [h for h, _ in run.targets]
    try:
        if hosts:
            creds = credentials(repo.settings.ssh_user, overrides)
            holder = options.holder or "dagsync apply (security)"
            observe_all(hosts, options, creds, keep=True, holder=holder)
        chosen = _plan(run)
        if chosen.has_changes and not confirm(chosen):
            raise DagsyncError("apply cancelled: nothing was changed")
        planned = {t.target.key: t.changes for t in chosen.targets}
        setups = {h.target.key: s for h, s in run.targets}

        def one(host: Host) -> HostResult:
            changes = planned.get(host.target.key, ())
            done = (
                [run_steps(host.session, setups[host.target.key], c) for c in changes]
                if host.session and changes
                else []
            )
            return host_result(host, changes, done, time.monotonic() - clock)

        first = [h for h in hosts if h.target.client == DAG]
        results = [one(h) for h in first]
        results += parallel(one, [h for h in hosts if h not in first], options.parallel)
    finally:
        close_all(hosts)
    finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return ApplyReport(replace(chosen), tuple(results), started, finished)
