"""The explicit table of drivers that `dagsync plan` and `dagsync apply` run, in this order.

| driver | `--only` kinds                  | targets                                    | module                           |
|--------|---------------------------------|--------------------------------------------|----------------------------------|
| hosts  | firewall, accounts, root-access, vhosts, tls, databases | the client servers, over SSH               | dagsync.reconcile.hosts.engine         |
| backup | backup                          | the client servers, `dag/<storage>`        | dagsync.reconcile.backup.driver            |
| mail   | mail                            | `dag/<mail host>`                          | dagsync.reconcile.mail.resource |
| ovh    | ovh                             | `<client>/<server>@ovh`, `dag/ovh-account` | dagsync.reconcile.ovh.driver     |
| observer | observer                      | the client servers, DAG's storage and mail hosts | ...resources.observer      |
| monitoring | monitoring                    | `dag/<monitoring host>`                    | dagsync.reconcile.monitoring.driver |
| security | security                      | the client servers (CrowdSec agent and bouncer, AIDE, ClamAV), `dag/<security host>` (local APIs) | dagsync.reconcile.security.driver |

Every driver has the same shape: `plan(context) -> Plan` reads (nothing is locked or
changed) and `apply(context, confirm, saved) -> ApplyReport` locks and reads its targets,
computes its plan again, calls `confirm` with it and applies it only if `confirm` accepts.

- `plan_all`: the selected drivers plan at once (threads; they only read) while the
  repository is validated; their plans merge into one `Combined` plan (a driver that
  cannot plan at all becomes one target `dagsync/<driver>` in error).
- `apply_all`: the combined plan is shown and confirmed once; then each driver whose part
  has changes applies in turn (drivers share each host's lock file, so never at once),
  with a `Check` as its `confirm`: the driver's fresh plan, computed under its locks, must
  have exactly the changes the user confirmed, else that driver is refused (the state moved)
  and the others carry on.  A saved plan (`apply --plan FILE`) is confirmed the same way;
  the host resources are checked against the fingerprints of what they were computed from.

Modules of the drivers are imported only when a driver runs, so `--only firewall` loads
neither borg's, the mail hosts' nor OVH's code.

What a driver is lives in `driverspec`, combining and confirming their plans in `combine`,
the override file's extra settings in `extras`; import those names from there.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dagsync.errors import DagsyncError
from dagsync.reconcile import combine as combining
from dagsync.reconcile.combine import (
    Combined,
)
from dagsync.reconcile.driverspec import KINDS, Confirm, Context, Driver
from dagsync.reconcile.extras import read_extras
from dagsync.reconcile.hosts.kinds import HOST_KINDS
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport

if TYPE_CHECKING:
    from dagsync.reconcile.run import RunOptions, Selection
    from dagsync.validate.repository import Repository


# --- the drivers ---------------------------------------------------------------------------


def _host_options(ctx: Context) -> RunOptions:
    return replace(ctx.options, kinds=ctx.kinds & frozenset(HOST_KINDS))


def _plan_hosts(ctx: Context) -> Plan:
    from dagsync.reconcile.hosts import engine

    return engine.plan(
        ctx.repo, ctx.selection, ctx.overrides, _host_options(ctx), now=ctx.now, commit=ctx.commit
    )


def _apply_hosts(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    """The hosts' apply, with where generated secrets (database passwords) are escrowed:
    resolved here, while the override file's environment (the sandbox's escrow) is set."""
    from dagsync.reconcile.escrow import for_repository
    from dagsync.reconcile.hosts import engine

    options = _host_options(ctx)
    escrow = for_repository(ctx.repo.settings.passphrase_escrow, ctx.repo.root)
    return engine.apply(
        ctx.repo,
        ctx.selection,
        ctx.overrides,
        replace(options, apply=replace(options.apply, escrow=escrow)),
        confirm,
        saved=saved,
        commit=ctx.commit,
    )


def _plan_backup(ctx: Context) -> Plan:
    from dagsync.reconcile.backup import driver

    return driver.plan(ctx.repo, ctx.selection, ctx.overrides, ctx.options, now=ctx.now)


def _apply_backup(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from dagsync.reconcile.backup import driver

    return driver.apply(ctx.repo, ctx.selection, ctx.overrides, ctx.options, confirm)


def _mail_clients(repo: Repository) -> list[Any]:
    from dagsync.reconcile.mail import resource as mail
    from dagsync.validate.load import load_clients

    policies = {client.id: policy for client, policy in load_clients(repo.root)}
    return mail.clients_of(repo, policies)


def _mail_concerned(ctx: Context) -> bool:
    """Every client's shared mail lives on the same hosts: a plan of all clients, or of
    clients one of which uses shared mail, reaches them; a plan of some servers does not."""
    from dagsync.reconcile.daghosts import DAG

    if ctx.selection.servers:
        mail_hosts = {f"{DAG}/{m.name}" for m in ctx.repo.settings.mail_hosts}
        return bool(mail_hosts & set(ctx.selection.servers))
    return (
        not ctx.selection.clients
        or DAG in ctx.selection.clients
        or any(
            c.client.mail.hosting.value == "shared"
            for c in ctx.repo.clients
            if c.id in ctx.selection.clients
        )
    )


def _plan_mail(ctx: Context) -> Plan:
    from dagsync.reconcile.mail import resource as mail

    clients = _mail_clients(ctx.repo)
    return mail.plan_hosts(ctx.repo, clients, ctx.overrides, ctx.options)


def _apply_mail(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from dagsync.reconcile.mail import resource as mail

    clients = _mail_clients(ctx.repo)
    return mail.apply_hosts(ctx.repo, clients, ctx.overrides, ctx.options, confirm)


# The OVH driver plugs in here (and only here): its module, its kinds of change.
OVH_PACKAGE = "dagsync.reconcile.ovh"
OVH_MODULE = f"{OVH_PACKAGE}.driver"
OVH_CHANGE_KINDS: tuple[str, ...] = ("ovh-*",)


def _ovh_available() -> bool:
    try:
        return importlib.util.find_spec(OVH_MODULE) is not None
    except ModuleNotFoundError:
        return False


def _ovh() -> Any:
    if not _ovh_available():
        raise DagsyncError(f"the OVH driver ({OVH_MODULE}) is not part of this dagsync yet")
    return importlib.import_module(OVH_MODULE)


def _ovh_api(ctx: Context) -> Any:
    """A client at the override file's rate (a local emulator needs no OVH-sized limit);
    None lets the driver connect with the defaults (and report why it cannot)."""
    rate = read_extras(ctx.overrides.path).ovh_rate_per_minute
    if rate is None:
        return None
    from dagsync.ovhapi.client import connect
    from dagsync.ovhapi.errors import OvhError

    try:
        return connect(max_rate_per_minute=rate, burst=max(5, int(rate // 60)))
    except OvhError:
        return None


def _plan_ovh(ctx: Context) -> Plan:
    ovh, api = _ovh(), _ovh_api(ctx)
    plan: Plan = ovh.plan(ctx.repo, ctx.selection, ctx.overrides, ctx.options, api=api)
    return plan


def _apply_ovh(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    ovh, api = _ovh(), _ovh_api(ctx)
    interval = read_extras(ctx.overrides.path).ovh_poll_interval
    options = None
    if interval is not None:
        options = importlib.import_module(f"{OVH_PACKAGE}.apply").OvhOptions(interval=interval)
    report: ApplyReport = ovh.apply(
        ctx.repo, ctx.selection, ctx.overrides, ctx.options, confirm, api=api, ovh_options=options
    )
    return report


def _plan_observer(ctx: Context) -> Plan:
    from dagsync.reconcile import observer

    return observer.plan(ctx)


def _apply_observer(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from dagsync.reconcile import observer

    return observer.apply_all(ctx, confirm, saved)


def _monitoring_inputs(ctx: Context) -> Any:
    from dagsync.reconcile import monitoring
    from dagsync.validate.reading import Collector, load_policies

    return monitoring.inputs(ctx.repo, load_policies(ctx.repo.root, Collector(None)).cgv)


def _monitoring_concerned(ctx: Context) -> bool:
    """The monitoring hosts watch every server: any plan of clients reaches them (their
    configuration is rendered from all clients); a plan of some servers reaches them only
    when it names one."""
    from dagsync.reconcile.daghosts import DAG

    hosts = ctx.repo.settings.monitoring.hosts if ctx.repo.settings.monitoring else []
    if ctx.selection.servers:
        return bool({f"{DAG}/{m.name}" for m in hosts} & set(ctx.selection.servers))
    return bool(hosts)


def _plan_monitoring(ctx: Context) -> Plan:
    from dagsync.reconcile.monitoring import driver as monitoring

    return monitoring.plan_hosts(_monitoring_inputs(ctx), ctx.overrides, ctx.options)


def _apply_monitoring(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from dagsync.reconcile.monitoring import driver as monitoring

    return monitoring.apply_hosts(_monitoring_inputs(ctx), ctx.overrides, ctx.options, confirm)


def _security_concerned(ctx: Context) -> bool:
    from dagsync.reconcile.security import driver as security

    return security.concerned(ctx.repo, ctx.selection)


def _plan_security(ctx: Context) -> Plan:
    from dagsync.reconcile.security import driver as security

    return security.plan(ctx.repo, ctx.selection, ctx.overrides, ctx.options)


def _apply_security(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
    from dagsync.reconcile.security import driver as security

    return security.apply(ctx.repo, ctx.selection, ctx.overrides, ctx.options, confirm)


DRIVERS: tuple[Driver, ...] = (
    Driver("hosts", HOST_KINDS, HOST_KINDS, _plan_hosts, _apply_hosts),
    Driver("backup", ("backup",), ("backup", "backup-storage"), _plan_backup, _apply_backup),
    Driver("mail", ("mail",), ("mail",), _plan_mail, _apply_mail, _mail_concerned),
    Driver("ovh", ("ovh",), OVH_CHANGE_KINDS, _plan_ovh, _apply_ovh, available=_ovh_available),
    Driver("observer", ("observer",), ("observer",), _plan_observer, _apply_observer),
    Driver(
        "monitoring",
        ("monitoring",),
        ("monitoring",),
        _plan_monitoring,
        _apply_monitoring,
        _monitoring_concerned,
    ),
    Driver(
        "security",
        ("security",),
        ("security",),
        _plan_security,
        _apply_security,
        _security_concerned,
    ),
)


def apply_all(
    ctx: Context,
    combined: Combined,
    confirm: Confirm,
    *,
    saved: bool = False,
    table: Sequence[Driver] = (),
) -> ApplyReport:
    """`combine.apply_all` over `table` (default: DRIVERS)."""
    return combining.apply_all(ctx, combined, confirm, saved=saved, table=table or DRIVERS)


def load_plan(text: str, source: str) -> Combined:
    """A saved combined plan, split along the rows of DRIVERS."""
    return Combined.loads(text, source, DRIVERS)


def driver(name: str, table: Sequence[Driver] = ()) -> Driver:
    """The row of `name` in `table` (default: DRIVERS)."""
    for row in table or DRIVERS:
        if row.name == name:
            return row
    raise DagsyncError(f"unknown driver {name!r} (known: {', '.join(d.name for d in DRIVERS)})")


def parse_kinds(values: Sequence[str]) -> frozenset[str]:
    """`--only firewall,accounts --only mail` -> the kinds; none given: every kind."""
    kinds = {k.strip() for value in values for k in value.split(",") if k.strip()}
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise DagsyncError(f"unknown kind(s) {', '.join(unknown)}: use {', '.join(KINDS)}")
    return frozenset(kinds) if kinds else frozenset(KINDS)


def selected(ctx: Context, *, explicit: bool = False) -> list[Driver]:
    """The drivers the kinds and the selection reach, in table order.

    A driver that is not available (not installed yet) is left out, unless its kind was
    named explicitly (`--only ovh`): then it is kept, and fails saying why.
    """
    out = []
    for row in DRIVERS:
        if not set(row.kinds) & ctx.kinds or not row.concerns(ctx):
            continue
        if row.available() or explicit:
            out.append(row)
    return out


def check_selection(repo: Repository, selection: Selection) -> None:
    """Refuse a `--client` or `--server` that the repository does not declare.

    DAG's own hosts are addressable: `--client dag` (every storage host, mail host and the
    OVH account), `--server dag/<storage or mail host>`, `--server dag/ovh-account`."""
    from dagsync.reconcile.daghosts import DAG, dag_hosts

    clients = {c.id for c in repo.clients} | {DAG}
    for client in selection.clients:
        if client not in clients:
            raise DagsyncError(f"no client `{client}` (known: {', '.join(sorted(clients))})")
    names = {s.name for _, s in repo.servers()} | {f"{c.id}/{s.name}" for c, s in repo.servers()}
    names |= set(dag_hosts(repo))
    for server in selection.servers:
        if server not in names:
            raise DagsyncError(f"no server `{server}` in the repository")
