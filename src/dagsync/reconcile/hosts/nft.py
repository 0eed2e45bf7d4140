"""nftables as plain data: one table's sets, chains and rules, rendered to `nft -f` text and
read back from `nft -j list ruleset` into the same shape, so drift is a comparison of
meanings (handles, element order, `{x}` versus `x`, `==` versus `in`), never of file text.

A construct this parser does not know becomes an opaque rule that never equals a desired
one: unknown live content shows as drift instead of being silently accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import (
    IPv4Network,
    IPv6Network,
    collapse_addresses,
    ip_network,
    summarize_address_range,
)
from typing import Any

from dagsync.reconcile.shell import UnsafeValue, one_line

TABLE_FAMILY = "inet"
TABLE_NAME = "dagsync"
_FLAG_KEYS = frozenset({"ct state"})  # written `ct state a,b`, not as a set


def canonical(value: Any) -> str:
    """One canonical string per element: networks in CIDR form, ranges as `a-b`."""
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _canonical_text(value)
    if isinstance(value, Mapping) and set(value) == {"prefix"}:
        prefix = value["prefix"]
        return str(ip_network(f"{prefix['addr']}/{prefix['len']}", strict=False))
    if isinstance(value, Mapping) and set(value) == {"range"}:
        low, high = value["range"]
        return f"{canonical(low)}-{canonical(high)}"
    return "?" + json.dumps(value, sort_keys=True)


def _canonical_text(text: str) -> str:
    try:
        return str(ip_network(text, strict=False))
    except ValueError:
        return text


def elements(value: Any) -> frozenset[str]:
    """The canonical elements of a match's right-hand side (a scalar is a set of one)."""
    if isinstance(value, Mapping) and set(value) == {"set"}:
        return normalise(canonical(v) for v in value["set"])
    if isinstance(value, list):
        return normalise(canonical(v) for v in value)
    return normalise([canonical(value)])


def normalise(values: Iterable[str]) -> frozenset[str]:
    """Address elements as the fewest CIDR blocks (nft shows `a/32, b/32` as `a-b`)."""
    items = list(values)
    networks: list[IPv4Network | IPv6Network] = []
    for item in items:
        parsed = _networks(item)
        if parsed is None:
            return frozenset(items)
        networks += parsed
    v4 = collapse_addresses(n for n in networks if isinstance(n, IPv4Network))
    v6 = collapse_addresses(n for n in networks if isinstance(n, IPv6Network))
    return frozenset(str(n) for n in [*v4, *v6])


def _networks(item: str) -> list[IPv4Network | IPv6Network] | None:
    try:
        if "-" in item and not item.startswith("@"):
            first, last = (ip_network(p, strict=False) for p in item.split("-", 1))
            low, high = first.network_address, last.broadcast_address
            return list(summarize_address_range(low, high))
        return [ip_network(item, strict=False)]
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class Match:
    """`key` such as `ip saddr`, `tcp dport`, `meta l4proto`, `ct state`; `values` canonical."""

    key: str
    values: frozenset[str]

    def render(self) -> str:
        ordered = sorted(self.values, key=_sort_key)
        if self.key in _FLAG_KEYS:
            return f"{self.key} {','.join(ordered)}"
        shown = [_render_value(self.key, v) for v in ordered]
        if len(shown) == 1:
            return f"{self.key} {shown[0]}"
        return f"{self.key} {{ {', '.join(shown)} }}"


def _render_value(key: str, value: str) -> str:
    if key == "meta iif":
        return json.dumps(value)
    return value


def _sort_key(value: str) -> tuple[int, Any, str]:
    head = value.split("-", 1)[0] if not value.startswith("@") else value
    try:
        net = ip_network(head, strict=False)
        return (0, (net.version, int(net.network_address), net.prefixlen), value)
    except ValueError:
        pass
    if head.isdigit():
        return (1, int(head), value)
    return (2, 0, value)


@dataclass(frozen=True)
class Rule:
    matches: tuple[Match, ...]
    verdict: str
    comment: str = ""
    opaque: str = ""  # the JSON of a rule this parser does not understand

    def render(self) -> str:
        if self.opaque:
            return f"# unparsed rule: {self.opaque}"
        parts = [m.render() for m in self.matches] + [self.verdict]
        if self.comment:
            parts.append(f"comment {json.dumps(self.comment)}")
        return " ".join(parts)


@dataclass(frozen=True)
class NamedSet:
    name: str
    type: str
    flags: frozenset[str]
    elements: frozenset[str]

    def render(self) -> list[str]:
        out = [f"\tset {self.name} {{", f"\t\ttype {self.type}"]
        if self.flags:
            out.append(f"\t\tflags {', '.join(sorted(self.flags))}")
        if self.elements:
            shown = ", ".join(sorted(self.elements, key=_sort_key))
            out.append(f"\t\telements = {{ {shown} }}")
        return [*out, "\t}"]


@dataclass(frozen=True)
class Chain:
    name: str
    type: str
    hook: str
    priority: int
    policy: str
    rules: tuple[Rule, ...]

    def render(self) -> list[str]:
        head = (
            f"\t\ttype {self.type} hook {self.hook} priority {self.priority}; policy {self.policy};"
        )
        return [f"\tchain {self.name} {{", head, *(f"\t\t{r.render()}" for r in self.rules), "\t}"]


@dataclass(frozen=True)
class Table:
    """One nftables table, compared by meaning."""

    sets: tuple[NamedSet, ...]
    chains: tuple[Chain, ...]

    def set(self, name: str) -> NamedSet | None:
        return next((s for s in self.sets if s.name == name), None)

    def chain(self, name: str) -> Chain | None:
        return next((c for c in self.chains if c.name == name), None)


# What a value of a desired ruleset may be made of: addresses, networks, ports and ranges,
# set references (`@blocked4`), keywords (`established`, `ipv6-icmp`); a comment is words.
_TOKEN = re.compile(r"[A-Za-z0-9@._:/-]+")
_PORT = re.compile(r"[0-9]{1,5}(-[0-9]{1,5})?")
_COMMENT = re.compile(r"[A-Za-z0-9 ._:/@-]*")


def _value_ok(key: str, value: str) -> bool:
    if key.endswith(("dport", "sport")):
        return _PORT.fullmatch(value) is not None
    if key.endswith(("saddr", "daddr")) and not value.startswith("@"):
        return _networks(value) is not None
    return _TOKEN.fullmatch(value) is not None


def checked(table: Table) -> Table:
    """`table` if every value and comment can be written in an nft file as it is, else
    UnsafeValue: no value can end a statement, open a block or close a comment's quotes."""
    values = [e for s in table.sets for e in (s.name, s.type, *s.flags, *s.elements)]
    for chain in table.chains:
        values += [chain.name, chain.type, chain.hook, chain.policy]
        for rule in chain.rules:
            values += [rule.verdict, *(w for m in rule.matches for w in m.key.split())]
            for match in rule.matches:
                bad = next((v for v in match.values if not _value_ok(match.key, v)), None)
                if bad is not None:
                    raise UnsafeValue(f"{bad!r} is not a value of `{match.key}` in nft")
            if _COMMENT.fullmatch(rule.comment) is None:
                raise UnsafeValue(f"nft comment {rule.comment!r} cannot be written as it is")
    bad = next((v for v in values if _TOKEN.fullmatch(v) is None), None)
    if bad is not None:
        raise UnsafeValue(f"{bad!r} cannot be written in an nft ruleset")
    return table


def render(table: Table, header: str) -> str:
    """The whole `nft -f` file: creates the table if needed, empties it, defines it at once.

    Loading is one nftables transaction, so the host never runs a half-loaded ruleset.
    """
    body: list[str] = []
    for named in table.sets:
        body += [*named.render(), ""]
    for index, chain in enumerate(table.chains):
        body += chain.render() + ([""] if index < len(table.chains) - 1 else [])
    lines = [
        f"# {one_line(header, 'nft header')}",
        f"table {TABLE_FAMILY} {TABLE_NAME}",
        f"delete table {TABLE_FAMILY} {TABLE_NAME}",
        f"table {TABLE_FAMILY} {TABLE_NAME} {{",
        *body,
        "}",
    ]
    return "\n".join(lines) + "\n"


# --- reading `nft -j list ruleset` ---------------------------------------------------------


@dataclass(frozen=True)
class Ruleset:
    """What `nft -j list ruleset` shows: our table (None when absent) and the other tables."""

    table: Table | None
    other_tables: tuple[str, ...]


def parse_ruleset(text: str) -> Ruleset:
    """Parse `nft -j list ruleset`; raise ValueError on output that is not nft JSON."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("nftables"), list):
        raise ValueError("not the JSON output of nft")
    objects: list[Mapping[str, Any]] = [o for o in data["nftables"] if isinstance(o, dict)]
    ours = [o for o in objects if _ours(o)]
    others = sorted(
        f"{t['family']} {t['name']}"
        for o in objects
        if "table" in o and not _ours(o)
        for t in [o["table"]]
    )
    has_table = any("table" in o for o in ours)
    return Ruleset(_table(ours) if has_table else None, tuple(others))


def _ours(obj: Mapping[str, Any]) -> bool:
    for kind in ("table", "set", "chain", "rule", "map", "counter", "flowtable"):
        if kind in obj:
            body = obj[kind]
            name = body.get("name") if kind == "table" else body.get("table")
            return bool(body.get("family") == TABLE_FAMILY and name == TABLE_NAME)
    return False


def _table(objects: Sequence[Mapping[str, Any]]) -> Table:
    sets = sorted((_set(o["set"]) for o in objects if "set" in o), key=lambda s: s.name)
    rules: dict[str, list[Rule]] = {}
    for obj in objects:
        if "rule" in obj:
            rules.setdefault(obj["rule"].get("chain", ""), []).append(_rule(obj["rule"]))
    chains = [
        _chain(o["chain"], rules.get(o["chain"]["name"], [])) for o in objects if "chain" in o
    ]
    extra = [_opaque_chain(kind) for o in objects for kind in o if kind in ("map", "flowtable")]
    return Table(tuple(sets), tuple(sorted(chains + extra, key=lambda c: c.name)))


def _set(body: Mapping[str, Any]) -> NamedSet:
    elems = body.get("elem", [])
    values = [e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e for e in elems]
    return NamedSet(
        name=str(body["name"]),
        type=str(body.get("type")),
        flags=frozenset(str(f) for f in body.get("flags", [])),
        elements=normalise(canonical(v) for v in values),
    )


def _chain(body: Mapping[str, Any], rules: Iterable[Rule]) -> Chain:
    return Chain(
        name=str(body["name"]),
        type=str(body.get("type", "")),
        hook=str(body.get("hook", "")),
        priority=int(body.get("prio", 0)),
        policy=str(body.get("policy", "")),
        rules=tuple(rules),
    )


def _opaque_chain(kind: str) -> Chain:
    return Chain(f"?{kind}", "", "", 0, "", (Rule((), "", opaque=kind),))


_VERDICTS = ("accept", "drop", "reject")


def _rule(body: Mapping[str, Any]) -> Rule:
    exprs = body.get("expr", [])
    comment = str(body.get("comment", ""))
    matches: list[Match] = []
    verdicts: list[str] = []
    for expr in exprs:
        if "match" in expr and (match := _match(expr["match"])) is not None:
            matches.append(match)
        elif len(expr) == 1 and next(iter(expr)) in _VERDICTS:
            verdicts.append(next(iter(expr)))
        else:
            return Rule((), "", comment, opaque=json.dumps(exprs, sort_keys=True))
    if len(verdicts) != 1 or exprs[-1] != {verdicts[0]: None}:
        return Rule((), "", comment, opaque=json.dumps(exprs, sort_keys=True))
    return Rule(tuple(matches), verdicts[0], comment)


def _match(body: Mapping[str, Any]) -> Match | None:
    left = body.get("left")
    key = _key(left) if isinstance(left, Mapping) else None
    if key is None:
        return None
    op = body.get("op", "==")
    if op not in ("==", "in"):
        key = f"{key} {op}"
    return Match(key, elements(body.get("right")))


def _key(left: Mapping[str, Any]) -> str | None:
    if "payload" in left and {"protocol", "field"} <= set(left["payload"]):
        return f"{left['payload']['protocol']} {left['payload']['field']}"
    if "meta" in left:
        return f"meta {left['meta']['key']}"
    if "ct" in left and set(left["ct"]) == {"key"}:
        return f"ct {left['ct']['key']}"
    return None
