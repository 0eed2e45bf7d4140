"""The edge firewall of one address: desired + observed -> ordered changes (pure).

OVH's edge rules can be neither updated nor reordered: a rule is created at a free sequence
(0-19), or deleted (it stays ``removalPending`` until it is gone, a 404). The firewall is
first match, and every rule dagsync declares is a permit except the final ``deny ipv4`` at
19, so the order of the permits does not matter: rules are matched by *content* (all but
the sequence). A declared permit present at any sequence below 19 is kept; the layout's
sequences (0 established, management, declared ports, ICMP) are preferred for new rules.

The changes run in numbered steps; the executor issues every change of a step, then waits
for all of them (``creationPending`` -> ``ok``, ``removalPending`` -> 404):

0. put the address on the firewall if it is not there (OVH creates it disabled);
1. **open first**: create the missing permits at sequences below 19 that are free now (the
   preferred one when free, else the lowest free one), *before* anything is deleted, so a
   changed rule (a port's new sources, say) is in place before its old form goes: a failed
   create leaves every declared service as reachable as it was. A new permit only lets in
   what it declares. A declared permit found at 19, where the deny belongs, is created
   again here before step 5 deletes it: the port it opens never closes;
2. **close**: delete every permit that is not declared (or repeats another);
3. **refill**: only when the 20-rule budget left no free sequence for some missing permits
   in step 1, create them in the sequences step 2 freed. This is the one place where a
   declared service can be briefly closed (its old form deleted, its new one not yet
   created); if such a create fails, the executor restores the rules read before the
   change (see :mod:`.apply`), so the service is not left closed;
4. to 7. **the final deny at 19**, created once the permits are in place, so that no
   declared port (SSH for the management ranges included) is closed while they are being
   created. If 19 holds a declared permit, it is deleted (5) now that its copy exists, then
   the deny is created (6). If 19 holds another deny, a ``deny ipv4`` is first created at a
   free sequence above every permit (4), the old one is deleted (5), the deny is created at
   19 (6) and the temporary one deleted (7): the address is never open meanwhile;
8. delete the other deny rules (below 19): with the deny at 19 in place, this can only open
   ports that are declared;
9. create the permits that found no free sequence in steps 1 and 3, in the sequences step
   8 freed;
10. enable the firewall (PUT, then wait for ``ok``): only now do new rules start to apply.

So deleting a deny (steps 4 and 7) is the only change that opens, and only while a deny at
19 (or the temporary one) covers everything else; the final deny is never removed while
permits exist. With no free sequence left (20 rules already) for the temporary deny or for a
moved permit, a note in the plan says that the address is briefly open, or the port briefly
closed, between two steps.

A rule in ``removalPending`` keeps its sequence until it is gone: it is neither reused nor
deleted again. A declared rule still ``creationPending`` counts as present (with a note).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from dagsync.ovhapi.shapes import EdgeRule, PortRange
from dagsync.reconcile.core import Action, Change, Note
from dagsync.reconcile.ovh.desired import LAST_SEQUENCE, EdgeDesired, content
from dagsync.reconcile.ovh.observe import EdgeObserved

__all__ = [
    "KIND",
    "EdgeOp",
    "decode_rule",
    "edge_changes",
    "edge_ops",
    "encode_rule",
    "touches_ssh",
]

KIND: Final = "ovh-firewall"
LAST: Final = LAST_SEQUENCE
(
    FIREWALL,
    OPEN,
    CLOSE,
    REFILL,
    TEMPORARY_DENY,
    FREE_LAST,
    DENY,
    DROP_TEMPORARY,
    OTHER_DENIES,
    LATE,
    ENABLE,
) = range(11)


@dataclass(frozen=True)
class EdgeOp:
    """One step of the edge firewall's convergence: ``verb`` is firewall, create, delete or
    enable."""

    step: int
    verb: str
    rule: EdgeRule | None = None
    why: str = ""


@dataclass
class _Table:
    """The observed rules, sorted out against the desired ones."""

    kept: dict[EdgeRule, int] = field(default_factory=dict)  # content -> sequence
    close: list[EdgeRule] = field(default_factory=list)
    moved: EdgeRule | None = None  # a declared permit at 19
    deny_ok: bool = False
    wrong_last: EdgeRule | None = None  # another deny at 19
    other_denies: list[EdgeRule] = field(default_factory=list)
    pending: set[int] = field(default_factory=set)  # removalPending sequences
    creating: list[EdgeRule] = field(default_factory=list)


def _classify(desired: EdgeDesired, observed: EdgeObserved) -> _Table:
    table = _Table()
    wanted = {content(p) for p in desired.permits}
    for item in sorted(observed.rules, key=lambda r: r.rule.sequence):
        rule, kind = item.rule, content(item.rule)
        if item.state == "removalPending":
            table.pending.add(rule.sequence)
        elif rule.action == "deny" and rule.sequence == LAST:
            table.deny_ok = kind == content(desired.deny)
            table.wrong_last = None if table.deny_ok else rule
        elif rule.action == "deny":
            table.other_denies.append(rule)
        elif kind not in wanted or kind in table.kept:
            table.close.append(rule)
        elif rule.sequence == LAST:
            table.moved = rule
        else:
            table.kept[kind] = rule.sequence
            if item.state == "creationPending":
                table.creating.append(rule)
    return table


def _place(
    missing: Sequence[EdgeRule], free: Iterable[int]
) -> tuple[list[EdgeRule], list[EdgeRule], list[int]]:
    """(placed, not placed, slots left): preferred sequences first, then the lowest free."""
    slots = sorted(free)
    preferred = [r for r in missing if r.sequence in slots]
    slots = [s for s in slots if s not in {r.sequence for r in preferred}]
    placed, late = list(preferred), []
    for rule in missing:
        if rule in preferred:
            continue
        if slots:
            placed.append(replace(rule, sequence=slots.pop(0)))
        else:
            late.append(rule)
    return sorted(placed, key=lambda r: r.sequence), late, slots


def _deny_ops(
    desired: EdgeDesired, table: _Table, top: int, slots: list[int], late: list[EdgeRule]
) -> tuple[list[EdgeOp], list[str]]:
    """Steps 3 to 6: the final deny at 19 (``top``: the highest permit sequence)."""
    deny = desired.deny
    if table.deny_ok:
        return [], []
    if table.moved is not None:
        notes = []
        if content(table.moved) in {content(r) for r in late}:
            notes.append(
                f"no free sequence to move {table.moved.describe()} away from {LAST} first: "
                "that port is closed until step 9 re-creates it"
            )
        free_last = EdgeOp(FREE_LAST, "delete", table.moved, "moved below the final deny")
        return [free_last, EdgeOp(DENY, "create", deny, "final deny")], notes
    if table.wrong_last is None:
        return [EdgeOp(DENY, "create", deny, "final deny")], []
    old = EdgeOp(FREE_LAST, "delete", table.wrong_last, "replaced by the final deny ipv4")
    above = [s for s in slots if s > top]
    if not above:
        note = (
            f"no free sequence for a temporary deny: {desired.address} is unfiltered between "
            f"the deletion of {table.wrong_last.describe()} and the creation of the final deny"
        )
        return [old, EdgeOp(DENY, "create", deny, "final deny")], [note]
    temporary = replace(deny, sequence=max(above))
    return [
        EdgeOp(TEMPORARY_DENY, "create", temporary, "temporary deny while #19 is replaced"),
        old,
        EdgeOp(DENY, "create", deny, "final deny"),
        EdgeOp(DROP_TEMPORARY, "delete", temporary, "temporary deny no longer needed"),
    ], []


def edge_ops(desired: EdgeDesired, observed: EdgeObserved) -> tuple[list[EdgeOp], list[str]]:
    """The ordered steps that make ``observed`` match ``desired``, and notes for the plan."""
    table = _classify(desired, observed)
    ops: list[EdgeOp] = []
    notes = [
        f"{r.describe()} on {desired.address} is still being created by OVH (creationPending)"
        for r in table.creating
    ]
    if observed.firewall is None:
        ops.append(EdgeOp(FIREWALL, "firewall", why="created disabled"))
    missing = [p for p in desired.permits if content(p) not in table.kept]
    closing = [r.sequence for r in table.close]
    occupied = {
        *table.kept.values(),
        *table.pending,
        *(r.sequence for r in table.other_denies),
        *closing,
    }
    placed, rest, slots = _place(missing, (s for s in range(LAST) if s not in occupied))
    ops += [EdgeOp(OPEN, "create", r, desired.origin(r)) for r in placed]
    ops += [EdgeOp(CLOSE, "delete", r, "not declared") for r in table.close]
    refilled, late, freed_by_close = _place(rest, closing)
    ops += [EdgeOp(REFILL, "create", r, desired.origin(r)) for r in refilled]
    slots = sorted([*slots, *freed_by_close])
    placed += refilled
    top = max([*table.kept.values(), *(r.sequence for r in placed)], default=-1)
    deny_ops, deny_notes = _deny_ops(desired, table, top, slots, late)
    ops += deny_ops
    ops += [
        EdgeOp(OTHER_DENIES, "delete", r, "deny before declared permits")
        for r in table.other_denies
    ]
    freed = sorted(r.sequence for r in table.other_denies)
    late_placed, unplaced, _ = _place(late, freed)
    ops += [EdgeOp(LATE, "create", r, desired.origin(r)) for r in late_placed]
    notes += [
        f"no free sequence to create {r.describe()} on {desired.address} before the undeclared "
        "rules are deleted (20-rule budget): it is created right after them, and if that "
        "fails the previous rules are restored"
        for r in refilled
    ]
    notes += deny_notes + [
        f"no free sequence for {r.describe()} on {desired.address}: run apply again once the "
        "rules pending removal are gone"
        for r in unplaced
    ]
    if not observed.enabled:
        ops.append(EdgeOp(ENABLE, "enable", why="the rules apply from now on"))
    return sorted(ops, key=lambda op: op.step), notes


# -- changes ----------------------------------------------------------------------------------


def encode_rule(rule: EdgeRule) -> dict[str, Any]:
    """A JSON form of a rule for change payloads (read back by :func:`decode_rule`)."""

    def ports(value: PortRange | None) -> list[int] | None:
        return None if value is None else [value.first, value.last]

    return {
        "sequence": rule.sequence,
        "action": rule.action,
        "protocol": rule.protocol,
        "source": rule.source,
        "destinationPort": ports(rule.destination_port),
        "sourcePort": ports(rule.source_port),
        "tcpOption": rule.tcp_option,
        "fragments": rule.fragments,
        "l3PacketLength": ports(rule.packet_length),
    }


def decode_rule(data: Mapping[str, Any]) -> EdgeRule:
    def ports(value: Any) -> PortRange | None:
        return None if value is None else PortRange(int(value[0]), int(value[1]))

    return EdgeRule(
        int(data["sequence"]),
        str(data["action"]),
        str(data["protocol"]),
        data.get("source"),
        ports(data.get("destinationPort")),
        ports(data.get("sourcePort")),
        data.get("tcpOption"),
        bool(data.get("fragments", False)),
        ports(data.get("l3PacketLength")),
    )


def touches_ssh(rule: EdgeRule, ssh_port: int) -> bool:
    """Whether a rule can match traffic to the SSH port."""
    if rule.protocol not in ("tcp", "ipv4"):
        return False
    ports = rule.destination_port
    return ports is None or ports.first <= ssh_port <= ports.last


def _change(op: EdgeOp, observed: EdgeObserved) -> Change:
    where = {"step": op.step, "op": op.verb, "block": observed.block, "address": observed.address}
    address = observed.address
    if op.rule is None:
        if op.verb == "firewall":
            summary = f"put {address} on the edge firewall ({op.why})"
            return Change(KIND, Action.CREATE, address, summary, payload=where)
        summary = f"enable the edge firewall of {address} ({op.why})"
        return Change(KIND, Action.UPDATE, address, summary, payload=where)
    action = Action.CREATE if op.verb == "create" else Action.DELETE
    return Change(
        KIND,
        action,
        f"{address} #{op.rule.sequence}",
        f"{op.rule.describe()} ({op.why})" if op.why else op.rule.describe(),
        payload={**where, "rule": encode_rule(op.rule)},
    )


def edge_changes(desired: EdgeDesired, observed: EdgeObserved) -> list[Change | Note]:
    """The changes of one address in execution order, with the plan's notes."""
    ops, notes = edge_ops(desired, observed)
    items: list[Change | Note] = [_change(op, observed) for op in ops]
    ssh = desired.ssh_port
    if any(op.verb == "enable" or (op.rule and touches_ssh(op.rule, ssh)) for op in ops):
        items.append(
            Note(
                KIND,
                f"{desired.address}: these edge-firewall changes touch SSH (tcp/{ssh}); apply "
                "checks afterwards that DAG's management access still works, and restores the "
                "previous rules if it does not",
            )
        )
    return items + [Note(KIND, text) for text in notes]
