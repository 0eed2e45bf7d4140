"""A quick, exact-or-nothing scan of the identifiers the repository invariants need.

`validate --changed-since` validates only the changed clients, but the invariants (unique
server names, OVH service names, IPs, client ids) need every client's identifiers. On a fresh
CI clone there is no cache, and parsing 2,000 clients' YAML costs more than it saves. Most
files write these keys in one canonical shape (`name: web1`, `ovh:` then an indented
`service_name: ...`, `ips: [a, b]`), which a line scan reads exactly. When a file departs from
that shape in any way that could make the scan differ from the YAML parser (quoting with
escapes, block lists, anchors, several documents, a key written twice...), the scan answers
None and the caller parses the file. The contract, checked by a property test: on every text
the parser accepts, the scan answers None or exactly what the parser reads. (A file the parser
rejects is reported as such when its client is validated.)
"""

from __future__ import annotations

import re

_PLAIN = r"[A-Za-z0-9._:/-]+"
_VALUE = rf"(?:\"({_PLAIN})\"|'({_PLAIN})'|({_PLAIN}))"
# A comment starts only after white space (`a#b` is one plain scalar), and a mapping key's
# colon must be followed by white space (`name:1` is one plain scalar, not the key `name`).
_TAIL = r"(?:[ \t]+#[^\n]*)?[ \t]*$"
_ITEM = re.compile(rf"^[ \t]*{_VALUE}[ \t]*$")
_ID = re.compile(rf"^id:[ \t]+{_VALUE}{_TAIL}", re.M)
_NAME = re.compile(rf"^name:[ \t]+{_VALUE}{_TAIL}", re.M)
_OVH = re.compile(rf"^ovh:{_TAIL}", re.M)
_SERVICE = re.compile(rf"^[ \t]+service_name:[ \t]+{_VALUE}{_TAIL}", re.M)
_IPS = re.compile(rf"^ips:[ \t]+\[([^\]\n#]*)\]{_TAIL}", re.M)
_TOP_KEY = re.compile(r"^[^\s#]", re.M)
_UNSAFE = re.compile(r"[&*!%\t]")


def _unsafe(text: str) -> bool:
    """Anchors, aliases, tags, directives, several documents or tabs."""
    return (
        _UNSAFE.search(text) is not None
        or text.startswith(("---", "..."))
        or "\n---" in text
        or "\n..." in text
    )


def _in_flow(text: str, position: int) -> bool:
    """Whether `position` may lie inside a flow collection opened on an earlier line (whose
    continuation lines may start at column 0): brackets before it do not balance. Brackets in
    quotes or comments only make this answer True more often, never wrongly False."""
    before = text[:position]
    opened = before.count("{") + before.count("[")
    return opened != before.count("}") + before.count("]")


def _value(match: re.Match[str]) -> str:
    return next(g for g in match.groups()[:3] if g is not None)


def _single(
    pattern: re.Pattern[str], text: str, marker: str, *, scalar: bool = True
) -> re.Match[str] | None:
    """The one match of `pattern`, if `marker` occurs exactly once in the text and the value
    does not continue on the next lines (a plain scalar may span indented lines)."""
    at = text.find(marker)
    if at < 0 or text.find(marker, at + 1) >= 0:
        return None
    match = pattern.match(text, text.rfind("\n", 0, at + 1) + 1)
    if match is None or _in_flow(text, match.start()) or (scalar and _continues(text, match)):
        return None
    return match


def _continues(text: str, match: re.Match[str]) -> bool:
    line = match.group(0)
    indent = len(line) - len(line.lstrip(" "))
    for following in text[match.end() :].split("\n")[1:]:
        stripped = following.strip()
        if not stripped:
            continue
        deeper = len(following) - len(following.lstrip(" ")) > indent
        return deeper and not stripped.startswith("#")
    return False


def client_id(text: str) -> str | None:
    """The `id:` of a client.yaml written plainly, or None (then parse the file)."""
    if _unsafe(text):
        return None
    if text.startswith("id:"):
        return None
    match = _single(_ID, text, "\nid:")
    return _value(match) if match else None


def server_ids(text: str) -> tuple[str, str, list[str]] | None:
    """(name, service name, ips) of a server file written plainly, or None."""
    if _unsafe(text) or text.startswith(("name:", "ips:", "ovh:")):
        return None
    name = _single(_NAME, text, "\nname:")
    ovh = _single(_OVH, text, "\novh:", scalar=False)
    service = _single(_SERVICE, text, "service_name")
    ips = _single(_IPS, text, "\nips:")
    if not (name and ovh and service and ips) or not _inside(text, ovh.end(), service.start()):
        return None
    items = ips.group(1).split(",")
    if items == [""]:
        return _value(name), _value(service), []
    parsed = [_ITEM.match(i) for i in items]
    if not all(parsed):
        return None
    return _value(name), _value(service), [_value(m) for m in parsed if m]


def _inside(text: str, block_start: int, position: int) -> bool:
    """No top-level key starts between the `ovh:` line and `position`."""
    return position > block_start and _TOP_KEY.search(text, block_start + 1, position) is None
