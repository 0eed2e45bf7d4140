"""``/ip/{ip}/firewall``: the edge network firewall and its rules, with async states."""

from __future__ import annotations

from typing import Any

from dagsync.testing.ovh_api.backend import Backend
from dagsync.testing.ovh_api.router import Route
from dagsync.testing.ovh_api.rules import MAX_RULES, parse_rule, render_rule
from dagsync.testing.ovh_api.state import FirewallIp, FirewallRule, IpBlock
from dagsync.testing.ovh_api.wire import (
    Call,
    as_bool,
    as_ipv4,
    bad_request,
    conflict,
    not_found,
    now_iso,
    require,
)

__all__ = ["ROUTES", "add_firewall_ip", "add_rule"]

FIREWALL_STATES = frozenset({"disableFirewallPending", "enableFirewallPending", "ok"})
RULE_STATES = frozenset({"creationPending", "ok", "removalPending"})


def firewall_state(backend: Backend, fw: FirewallIp, *, read: bool) -> str:
    """The firewall state; ``enabled`` flips only when a change reaches ``ok``."""
    if fw.change is None:
        return "ok"
    stage = backend.observe(fw.change, read=read)
    if fw.change.finished:
        fw.enabled = fw.change.stages[0] == "enableFirewallPending"
        fw.change = None
    return stage


def rule_state(backend: Backend, fw: FirewallIp, rule: FirewallRule, *, read: bool) -> str | None:
    """The rule state, or ``None`` once its removal has completed (the rule is then gone)."""
    if rule.removal is not None:
        stage = backend.observe(rule.removal, read=read)
        if rule.removal.finished:
            del fw.rules[rule.spec.sequence]
            return None
        return stage
    if rule.creation is not None:
        stage = backend.observe(rule.creation, read=read)
        if rule.creation.finished:
            rule.creation = None
        return stage
    return "ok"


def add_firewall_ip(block: IpBlock, raw: Any) -> FirewallIp:
    address = as_ipv4("ipOnFirewall", raw)
    if address not in block.network:
        raise bad_request(f"{address} is not in {block.network}")
    if str(address) in block.firewall:
        raise conflict(f"{address} is already on the firewall")
    fw = block.firewall[str(address)] = FirewallIp(str(address))
    return fw


def add_rule(backend: Backend, fw: FirewallIp, body: dict[str, Any]) -> FirewallRule:
    """Validate and store a new rule, pending creation."""
    spec = parse_rule(body)
    old = fw.rules.get(spec.sequence)
    if old is not None and rule_state(backend, fw, old, read=False) is not None:
        raise conflict(f"A rule already exists at sequence {spec.sequence} on {fw.address}")
    if len(fw.rules) >= MAX_RULES:
        raise conflict(f"{fw.address} already has {MAX_RULES} rules")
    creation = backend.start("rule_creation", ("creationPending", "ok"))
    rule = fw.rules[spec.sequence] = FirewallRule(spec, now_iso(), creation=creation)
    return rule


def _firewall(backend: Backend, call: Call) -> FirewallIp:
    block = backend.block(call.params["ip"])
    fw = block.firewall.get(call.params["ipOnFirewall"])
    if fw is None:
        raise not_found(
            f"The requested object (ipOnFirewall = {call.params['ipOnFirewall']}) does not exist"
        )
    return fw


def _rule(backend: Backend, call: Call, *, read: bool) -> tuple[FirewallIp, FirewallRule, str]:
    fw = _firewall(backend, call)
    raw = call.params["sequence"]
    if not raw.isdigit():
        raise bad_request(f"Invalid value for sequence: {raw!r} is not an integer")
    rule = fw.rules.get(int(raw))
    state = None if rule is None else rule_state(backend, fw, rule, read=read)
    if rule is None or state is None:
        raise not_found(f"The requested object (sequence = {raw}) does not exist")
    return fw, rule, state


def _firewall_json(backend: Backend, fw: FirewallIp, *, read: bool) -> dict[str, Any]:
    state = firewall_state(backend, fw, read=read)
    return {"ipOnFirewall": fw.address, "enabled": fw.enabled, "state": state}


def _rule_json(fw: FirewallIp, rule: FirewallRule, state: str) -> dict[str, Any]:
    return render_rule(rule.spec, f"{fw.address}/32", state, rule.creation_date)


def list_firewall(backend: Backend, call: Call) -> list[str]:
    block = backend.block(call.params["ip"])
    enabled = call.query_bool("enabled")
    state = call.query_enum("state", FIREWALL_STATES)
    found = [_firewall_json(backend, fw, read=False) for fw in block.firewall.values()]
    return [
        fw["ipOnFirewall"]
        for fw in found
        if (enabled is None or fw["enabled"] == enabled) and (state is None or fw["state"] == state)
    ]


def create_firewall(backend: Backend, call: Call) -> dict[str, Any]:
    block = backend.block(call.params["ip"])
    body = call.json_object(("ipOnFirewall",))
    fw = add_firewall_ip(block, require(body, "ipOnFirewall"))
    return _firewall_json(backend, fw, read=False)


def get_firewall(backend: Backend, call: Call) -> dict[str, Any]:
    return _firewall_json(backend, _firewall(backend, call), read=True)


def update_firewall(backend: Backend, call: Call) -> None:
    fw = _firewall(backend, call)
    wanted = as_bool("enabled", require(call.json_object(("enabled",)), "enabled"))
    if firewall_state(backend, fw, read=False) != "ok":
        raise conflict(f"The firewall of {fw.address} has a pending change")
    if wanted != fw.enabled:
        first = "enableFirewallPending" if wanted else "disableFirewallPending"
        fw.change = backend.start("firewall_state", (first, "ok"))


def delete_firewall(backend: Backend, call: Call) -> str:
    fw = _firewall(backend, call)
    del backend.block(call.params["ip"]).firewall[fw.address]
    return fw.address


def list_rules(backend: Backend, call: Call) -> list[int]:
    fw = _firewall(backend, call)
    wanted = call.query_enum("state", RULE_STATES)
    states = {
        seq: rule_state(backend, fw, rule, read=False) for seq, rule in list(fw.rules.items())
    }
    return sorted(s for s, st in states.items() if st is not None and wanted in (None, st))


def create_rule(backend: Backend, call: Call) -> dict[str, Any]:
    fw = _firewall(backend, call)
    rule = add_rule(backend, fw, call.json_object())
    return _rule_json(fw, rule, "creationPending")


def get_rule(backend: Backend, call: Call) -> dict[str, Any]:
    fw, rule, state = _rule(backend, call, read=True)
    return _rule_json(fw, rule, state)


def delete_rule(backend: Backend, call: Call) -> dict[str, Any]:
    fw, rule, _ = _rule(backend, call, read=False)
    if rule.removal is None:
        rule.creation = None
        rule.removal = backend.start("rule_removal", ("removalPending", "removed"))
    return _rule_json(fw, rule, "removalPending")


_FW = "/ip/{ip}/firewall"
_ONE = f"{_FW}/{{ipOnFirewall}}"
ROUTES = (
    Route("GET", _FW, list_firewall),
    Route("POST", _FW, create_firewall),
    Route("GET", _ONE, get_firewall),
    Route("PUT", _ONE, update_firewall),
    Route("DELETE", _ONE, delete_firewall),
    Route("GET", f"{_ONE}/rule", list_rules),
    Route("POST", f"{_ONE}/rule", create_rule),
    Route("GET", f"{_ONE}/rule/{{sequence}}", get_rule),
    Route("DELETE", f"{_ONE}/rule/{{sequence}}", delete_rule),
)
