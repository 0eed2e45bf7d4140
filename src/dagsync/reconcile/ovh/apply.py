"""The executor of one server's OVH changes: it receives changes, never the configuration.

Edge firewall, per address: the changes run step by step (see :mod:`.firewall`): every API
call of a step is issued, then each is awaited (``creationPending`` -> ``ok``,
``removalPending`` -> 404, firewall ``ok``), each wait bounded by :class:`OvhOptions`. A
failure (a timeout names the address, the sequence and the state it was stuck in) stops
that address; a re-run plans from the state OVH then reports and converges.

A declared service is never left closed: permits are created before undeclared ones are
deleted (see :mod:`.firewall`); when the 20-rule budget forces a delete first and a later
create fails (a 500, an HTML 502, a timeout), the rules read before the change are restored
at once, as below, and the changes are reported "rolled back" with the failure.

Safety, as for the host firewall: once the changes of an address have run (or stopped), the
caller's ``check_access(target)`` must confirm that DAG's management access to the server
still works (the SSH driver opens a fresh SSH connection). If it does not, the rules read
before the change are restored: the firewall is first disabled, which gives access back at
once (the host firewall still filters), then the rules are put back and the firewall is
re-enabled if it was. The changes are reported "rolled back", and nothing else is changed on
that server.

Then OVH monitoring, reverse DNS (a name that does not resolve to the address is a clear
failure) and the backup-storage access list; one failing does not stop the others.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.ovhapi.backup import (
    add_backup_access,
    delete_backup_access,
    update_backup_access,
    wait_backup_access_applied,
    wait_backup_access_gone,
)
from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.errors import OvhConflict, OvhError, OvhNotFound, OvhReverseNotResolved
from dagsync.ovhapi.firewall import (
    create_firewall,
    create_rule,
    delete_rule,
    firewall_rules,
    get_firewall,
    get_rule,
    set_firewall_enabled,
    wait_firewall_ok,
    wait_rule_gone,
    wait_rule_ok,
)
from dagsync.ovhapi.reverse import set_reverse
from dagsync.ovhapi.servers import set_monitoring
from dagsync.ovhapi.shapes import BackupProtocols
from dagsync.reconcile.core import Change, Target
from dagsync.reconcile.ovh import firewall
from dagsync.reconcile.ovh.diff import KIND_BACKUP, KIND_MONITORING, KIND_REVERSE
from dagsync.reconcile.ovh.observe import EdgeObserved
from dagsync.reconcile.resource import Outcome, Status

__all__ = ["AccessCheck", "OvhOptions", "apply_edge", "apply_server", "restore_edge"]

AccessCheck = Callable[[Target], bool]
"""Does DAG's management access to this server (its SSH target) still work?"""


@dataclass(frozen=True)
class OvhOptions:
    """Bounds of the waits for OVH's asynchronous states (seconds)."""

    rule_timeout: float = 600.0
    firewall_timeout: float = 600.0
    task_timeout: float = 600.0
    interval: float = 5.0


# -- edge firewall ----------------------------------------------------------------------------


def _where(change: Change) -> tuple[str, str]:
    return str(change.payload["block"]), str(change.payload["address"])


def _sequence(change: Change) -> int:
    return int(change.payload["rule"]["sequence"])


def _create_rule(api: OvhApi, change: Change, options: OvhOptions) -> None:
    """POST the rule; if its sequence is still pending removal, wait until it is gone first."""
    block, address = _where(change)
    rule = firewall.decode_rule(change.payload["rule"])
    try:
        create_rule(api, block, address, rule)
    except OvhConflict:
        found = get_rule(api, block, address, rule.sequence)
        if found is None or found.state != "removalPending":
            raise
        wait = {"timeout": options.rule_timeout, "interval": options.interval}
        wait_rule_gone(api, block, address, rule.sequence, **wait)
        create_rule(api, block, address, rule)


def _issue(api: OvhApi, change: Change, options: OvhOptions) -> None:
    block, address = _where(change)
    op = change.payload["op"]
    if op == "firewall":
        create_firewall(api, block, address)
    elif op == "create":
        _create_rule(api, change, options)
    elif op == "delete":
        with contextlib.suppress(OvhNotFound):  # already gone
            delete_rule(api, block, address, _sequence(change))
    else:
        wait_firewall_ok(
            api, block, address, timeout=options.firewall_timeout, interval=options.interval
        )
        set_firewall_enabled(api, block, address, True)


def _await(api: OvhApi, change: Change, options: OvhOptions) -> None:
    block, address = _where(change)
    op = change.payload["op"]
    if op == "create":
        wait = {"timeout": options.rule_timeout, "interval": options.interval}
        wait_rule_ok(api, block, address, _sequence(change), **wait)
    elif op == "delete":
        wait = {"timeout": options.rule_timeout, "interval": options.interval}
        wait_rule_gone(api, block, address, _sequence(change), **wait)
    else:
        wait = {"timeout": options.firewall_timeout, "interval": options.interval}
        wait_firewall_ok(api, block, address, **wait)


def _run_step(api: OvhApi, step: Sequence[Change], options: OvhOptions) -> list[Outcome]:
    """Issue every change of a step, then wait for each; stop issuing at the first error."""
    issued: list[Change] = []
    failed: list[Outcome] = []
    for change in step:
        try:
            _issue(api, change, options)
        except OvhError as error:
            failed.append(Outcome(change, Status.FAILED, str(error)))
            break
        issued.append(change)
    done: list[Outcome] = []
    for change in issued:
        try:
            _await(api, change, options)
            done.append(Outcome(change, Status.APPLIED))
        except OvhError as error:
            done.append(Outcome(change, Status.FAILED, str(error)))
    return done + failed


def restore_edge(api: OvhApi, previous: EdgeObserved, options: OvhOptions) -> None:
    """Put back the rules and the enabled state read before the change (disable first)."""
    block, address = previous.block, previous.address
    wait = {"timeout": options.rule_timeout, "interval": options.interval}
    fw_wait = {"timeout": options.firewall_timeout, "interval": options.interval}
    if get_firewall(api, block, address) is None:
        return
    if wait_firewall_ok(api, block, address, **fw_wait).enabled:
        set_firewall_enabled(api, block, address, False)
        wait_firewall_ok(api, block, address, **fw_wait)
    wanted = {r.rule.sequence: r.rule for r in previous.rules if r.state != "removalPending"}
    for item in firewall_rules(api, block, address):
        if item.state != "removalPending" and wanted.get(item.rule.sequence) != item.rule:
            delete_rule(api, block, address, item.rule.sequence)
    for item in firewall_rules(api, block, address):
        # ours just now, or left by the failed change: wait only where a previous rule must
        # come back; the others finish their removal on their own
        if item.state == "removalPending" and item.rule.sequence in wanted:
            wait_rule_gone(api, block, address, item.rule.sequence, **wait)
    present = {r.rule.sequence for r in firewall_rules(api, block, address)}
    for sequence, rule in sorted(wanted.items()):
        if sequence not in present:
            create_rule(api, block, address, rule)
            wait_rule_ok(api, block, address, sequence, **wait)
    if previous.enabled:
        set_firewall_enabled(api, block, address, True)
        wait_firewall_ok(api, block, address, **fw_wait)


def _checked(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception:  # a check that cannot run proves nothing: treat it as lost access
        return False


def _closed_then_failed(outcomes: Sequence[Outcome]) -> bool:
    """A permit was deleted, then a create failed: a declared service may be closed."""
    deleted = failed = False
    for outcome in outcomes:
        payload = outcome.change.payload
        if outcome.status is Status.APPLIED and payload.get("op") == "delete":
            deleted = deleted or payload.get("rule", {}).get("action") == "permit"
        if outcome.status is Status.FAILED and payload.get("op") == "create":
            failed = True
    return deleted and failed


def _restore_after_failure(
    api: OvhApi, outcomes: list[Outcome], previous: EdgeObserved, options: OvhOptions
) -> list[Outcome]:
    """Put the previous rules back after a failed create that followed a delete."""
    cause = next(o.message for o in outcomes if o.status is Status.FAILED)
    try:
        restore_edge(api, previous, options)
    except OvhError as error:
        text = (
            f"a create failed after rules of {previous.address} were deleted ({cause}), and "
            f"restoring its previous edge rules failed too: {error}"
        )
        return [Outcome(o.change, Status.FAILED, text) for o in outcomes]
    text = (
        f"rolled back: a create failed after rules of {previous.address} were deleted "
        f"({cause}); its previous edge rules were restored, so no declared service stays closed"
    )
    return [
        o if o.status is Status.FAILED else Outcome(o.change, Status.ROLLED_BACK, text)
        for o in outcomes
    ]


def apply_edge(
    api: OvhApi,
    changes: Sequence[Change],
    previous: EdgeObserved,
    check: Callable[[], bool],
    options: OvhOptions,
) -> list[Outcome]:
    """The changes of one address, step by step, then the access check (and roll-back)."""
    outcomes: list[Outcome] = []
    for _, step in itertools.groupby(changes, key=lambda c: int(c.payload["step"])):
        outcomes += _run_step(api, list(step), options)
        if any(o.status is Status.FAILED for o in outcomes):
            break
    if _closed_then_failed(outcomes):
        return _restore_after_failure(api, outcomes, previous, options)
    if not outcomes or _checked(check):
        return outcomes
    lost = f"DAG's management access to the server failed after the changes of {previous.address}"
    try:
        restore_edge(api, previous, options)
    except OvhError as error:
        text = f"{lost}, and restoring its previous edge rules failed: {error}"
        return [Outcome(o.change, Status.FAILED, text) for o in outcomes]
    text = f"rolled back: {lost}; its previous edge rules were restored"
    return [Outcome(o.change, Status.ROLLED_BACK, text) for o in outcomes]


# -- monitoring, reverse DNS, backup storage ---------------------------------------------------


def _monitoring(api: OvhApi, change: Change, options: OvhOptions) -> None:
    set_monitoring(api, str(change.payload["service_name"]), bool(change.payload["enabled"]))


def _reverse(api: OvhApi, change: Change, options: OvhOptions) -> None:
    p = change.payload
    address, name = str(p["address"]), str(p["name"])
    try:
        set_reverse(api, str(p["block"]), address, name)
    except OvhReverseNotResolved as error:
        record = "AAAA" if ":" in address else "A"
        raise OvhReverseNotResolved(
            f"OVH refused the reverse DNS {name} for {address}: {name} does not resolve to "
            f"{address}. Publish the DNS record {name} {record} {address} first (OVH checks "
            "it), then apply again",
            status=error.status,
            query_id=error.query_id,
        ) from error


def _backup(api: OvhApi, change: Change, options: OvhOptions) -> None:
    p: Mapping[str, Any] = change.payload
    name, block = str(p["service_name"]), str(p["ip_block"])
    wait = {"timeout": options.task_timeout, "interval": options.interval}
    if p["op"] == "delete":
        delete_backup_access(api, name, block)
        wait_backup_access_gone(api, name, block, **wait)
        return
    protocols = BackupProtocols(**{k: bool(v) for k, v in p["protocols"].items()})
    if p["op"] == "create":
        add_backup_access(api, name, block, protocols)
    else:
        update_backup_access(api, name, block, protocols)
    wait_backup_access_applied(api, name, block, **wait)


_EXECUTORS: Mapping[str, Callable[[OvhApi, Change, OvhOptions], None]] = {
    KIND_MONITORING: _monitoring,
    KIND_REVERSE: _reverse,
    KIND_BACKUP: _backup,
}


def _apply_one(api: OvhApi, change: Change, options: OvhOptions) -> Outcome:
    try:
        _EXECUTORS[change.kind](api, change, options)
    except OvhError as error:
        return Outcome(change, Status.FAILED, str(error))
    return Outcome(change, Status.APPLIED)


def apply_server(
    api: OvhApi,
    target: Target,
    changes: Sequence[Change],
    previous: Mapping[str, EdgeObserved],
    check_access: AccessCheck,
    options: OvhOptions,
) -> list[Outcome]:
    """Every change of one server; ``target`` is the server's SSH target, for the check."""
    outcomes: list[Outcome] = []
    edge = [c for c in changes if c.kind == firewall.KIND]
    for address, mine in itertools.groupby(edge, key=lambda c: str(c.payload["address"])):
        outcomes += apply_edge(
            api, list(mine), previous[address], lambda: check_access(target), options
        )
        if any(o.status is Status.ROLLED_BACK for o in outcomes):
            return outcomes  # access was lost and restored: change nothing else here
    return outcomes + [_apply_one(api, c, options) for c in changes if c.kind != firewall.KIND]
