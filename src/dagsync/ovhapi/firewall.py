"""Typed calls on the edge network firewall of an IP block, and its DDoS mitigation."""

from __future__ import annotations

from typing import Any

from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.errors import OvhConflict
from dagsync.ovhapi.responses import ints, parsed, strings
from dagsync.ovhapi.shapes import EdgeRule, Firewall, Mitigation, ObservedRule, api_path, parse_rule

__all__ = [
    "create_firewall",
    "create_rule",
    "delete_rule",
    "firewall_rules",
    "get_firewall",
    "get_mitigation",
    "get_rule",
    "list_firewalls",
    "list_mitigations",
    "rule_numbers",
    "set_firewall_enabled",
    "wait_firewall_ok",
    "wait_rule_gone",
    "wait_rule_ok",
]

_FIREWALL = "/ip/{}/firewall"
_FIREWALL_IP = "/ip/{}/firewall/{}"
_RULES = "/ip/{}/firewall/{}/rule"
_RULE = "/ip/{}/firewall/{}/rule/{}"


def list_firewalls(api: OvhApi, block: str) -> list[str]:
    return strings("firewall list", api.get(api_path(_FIREWALL, block)))


def get_firewall(api: OvhApi, block: str, address: str) -> Firewall | None:
    """The firewall of ``address`` in ``block``, or ``None`` (404: not on the firewall)."""
    raw = api.find(api_path(_FIREWALL_IP, block, address))
    return None if raw is None else parsed("firewall", raw, _firewall)


def _firewall(raw: Any) -> Firewall:
    return Firewall(str(raw["ipOnFirewall"]), bool(raw["enabled"]), str(raw["state"]))


def create_firewall(api: OvhApi, block: str, address: str) -> None:
    """Put ``address`` on the edge firewall (created disabled; see set_firewall_enabled)."""
    api.post(
        api_path(_FIREWALL, block),
        {"ipOnFirewall": address},
        reread=lambda: get_firewall(api, block, address) is not None,
    )


def set_firewall_enabled(api: OvhApi, block: str, address: str, enabled: bool) -> None:
    """PUT ``enabled``; trust it only once :func:`wait_firewall_ok` has returned."""
    api.put(api_path(_FIREWALL_IP, block, address), {"enabled": enabled})


def wait_firewall_ok(
    api: OvhApi, block: str, address: str, *, timeout: float, interval: float = 2.0
) -> Firewall:
    what = f"the edge firewall of {address}"
    raw = api.wait_until_state(
        api_path(_FIREWALL_IP, block, address), "ok", timeout=timeout, interval=interval, what=what
    )
    return parsed("firewall", raw, _firewall)


def rule_numbers(api: OvhApi, block: str, address: str, *, state: str | None = None) -> list[int]:
    query = {} if state is None else {"state": state}
    return ints("rule list", api.get(api_path(_RULES, block, address), **query))


def get_rule(api: OvhApi, block: str, address: str, sequence: int) -> ObservedRule | None:
    raw = api.find(api_path(_RULE, block, address, sequence))
    return None if raw is None else parse_rule(raw)


def firewall_rules(api: OvhApi, block: str, address: str) -> list[ObservedRule]:
    """Every rule of ``address`` with its state, by sequence (rules gone meanwhile skipped)."""
    found = (get_rule(api, block, address, n) for n in rule_numbers(api, block, address))
    return [rule for rule in found if rule is not None]


def create_rule(api: OvhApi, block: str, address: str, rule: EdgeRule) -> ObservedRule:
    """POST a rule (``creationPending`` at first); OVH must echo the rule dagsync asked for."""
    raw = api.post(
        api_path(_RULES, block, address),
        rule.request(),
        reread=lambda: get_rule(api, block, address, rule.sequence) is not None,
    )
    observed = parse_rule(raw) if raw is not None else get_rule(api, block, address, rule.sequence)
    if observed is None or observed.rule != rule:
        got = "nothing" if observed is None else observed.rule.describe()
        raise OvhConflict(f"asked OVH for rule {rule.describe()} on {address}, it holds {got}")
    return observed


def delete_rule(api: OvhApi, block: str, address: str, sequence: int) -> None:
    """DELETE a rule (it goes ``removalPending``, then 404: see :func:`wait_rule_gone`)."""
    api.delete(api_path(_RULE, block, address, sequence))


def wait_rule_ok(
    api: OvhApi, block: str, address: str, sequence: int, *, timeout: float, interval: float = 2.0
) -> ObservedRule:
    what = f"edge firewall rule {sequence} of {address}"
    path = api_path(_RULE, block, address, sequence)
    return parse_rule(
        api.wait_until_state(path, "ok", timeout=timeout, interval=interval, what=what)
    )


def wait_rule_gone(
    api: OvhApi, block: str, address: str, sequence: int, *, timeout: float, interval: float = 2.0
) -> None:
    what = f"edge firewall rule {sequence} of {address}"
    api.wait_until_gone(
        api_path(_RULE, block, address, sequence), timeout=timeout, interval=interval, what=what
    )


# -- DDoS mitigation --------------------------------------------------------------------------


def list_mitigations(api: OvhApi, block: str) -> list[str]:
    return strings("mitigation list", api.get(api_path("/ip/{}/mitigation", block)))


def get_mitigation(api: OvhApi, block: str, address: str) -> Mitigation | None:
    raw = api.find(api_path("/ip/{}/mitigation/{}", block, address))
    return None if raw is None else parsed("mitigation", raw, _mitigation)


def _mitigation(raw: Any) -> Mitigation:
    return Mitigation(str(raw["ipOnMitigation"]), bool(raw["auto"]), str(raw["state"]))
