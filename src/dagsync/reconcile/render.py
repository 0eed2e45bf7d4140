"""Plan renderers, chosen by name: text (coloured on a terminal), Markdown (a PR comment),
JSON (the saved plan that `apply --plan` reads)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import PurePath

from dagsync.reconcile.core import Action, Change, Transport
from dagsync.reconcile.plan import Plan, TargetPlan

MARKDOWN_LIMIT = 60_000
_COLOURS = {"+": "32", "-": "31", "~": "33", "!": "31"}


def _paint(sign: str, text: str, colour: bool) -> str:
    code = _COLOURS.get(sign)
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def _counts(target: TargetPlan) -> str:
    counts = target.counts()
    parts = [
        f"{counts[Action.CREATE]} to add" if counts[Action.CREATE] else "",
        f"{counts[Action.UPDATE]} to change" if counts[Action.UPDATE] else "",
        f"{counts[Action.LOCK]} to lock" if counts[Action.LOCK] else "",
        f"{counts[Action.DELETE]} to destroy" if counts[Action.DELETE] else "",
    ]
    return ", ".join(p for p in parts if p) or "no changes"


def _change_lines(change: Change) -> Iterable[tuple[str, str]]:
    yield change.action.symbol, f"  {change.action.symbol} {change.kind}: {change.summary}"
    for detail in change.details:
        yield detail.sign, f"      {detail.sign} {detail.text}"


def _target_lines(target: TargetPlan) -> Iterable[tuple[str, str]]:
    if target.error:
        yield "!", f"  ! could not be planned: {target.error}"
    for change in target.changes:
        yield from _change_lines(change)
    for kind, reason in target.unknown:
        yield "!", f"  ? {kind}: unknown ({reason}); nothing will be changed or removed for it"
    for note in target.notes:
        yield " ", f"  note ({note.kind}): {note.text}"


GROUPS = ("server", "OVH service set", "DAG target")


def group_of(target: TargetPlan) -> str:
    """What a target is, counted apart: a client's server, a client's OVH services, or one
    of DAG's own hosts and accounts (`dag/...`)."""
    if target.target.client == "dag":
        return "DAG target"
    return "OVH service set" if target.target.transport == Transport.OVH else "server"


def _tally(targets: Iterable[TargetPlan]) -> Counter[str]:
    return Counter(group_of(t) for t in targets)


def _phrase(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    total = _tally(plan.targets)
    changed = _tally(t for t in plan.targets if t.changes)
    errors = sum(1 for t in plan.targets if t.error or t.unknown)
    groups = [g for g in GROUPS if total[g]] or ["server"]
    if not plan.has_changes:
        head = f"No changes: {_phrase([f'{total[g]} {g}(s)' for g in groups])} match the configuration."
    else:
        head = (
            f"Plan: {counts[Action.CREATE]} to add, {counts[Action.UPDATE]} to change, "
            f"{counts[Action.LOCK]} to lock, {counts[Action.DELETE]} to destroy, "
            f"on {_phrase([f'{changed[g]} of {total[g]} {g}(s)' for g in groups])}."
        )
    return head + (f" {errors} target(s) could not be fully read." if errors else "")


def _by_resource(target: TargetPlan) -> str:
    """Changes by resource kind, e.g. `firewall ~1, accounts +2 -1`."""
    per: dict[str, Counter[str]] = {}
    for change in target.changes:
        per.setdefault(change.kind, Counter())[change.action.symbol] += 1
    return ", ".join(
        kind + " " + " ".join(f"{sign}{n}" for sign, n in sorted(signs.items()))
        for kind, signs in per.items()
    )


def _shown(target: TargetPlan) -> bool:
    return bool(target.changes or target.error or target.unknown)


def summary_table(plan: Plan) -> list[str]:
    """The targets that change (or could not be read), one line each: kind, role, changes by
    resource; production first-class visible.  Empty when nothing changes."""
    rows = [
        (
            t.target.key,
            group_of(t),
            "PRODUCTION" if t.target.production else "-",
            "ERROR: could not be planned" if t.error else (_by_resource(t) or "unknown facts"),
        )
        for t in plan.targets
        if _shown(t)
    ]
    if not rows:
        return []
    head = ("target", "kind", "role", "changes")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    production = sum(1 for r in rows if r[2] == "PRODUCTION")
    lines = [
        f"Summary: {len(rows)} of {len(plan.targets)} target(s) change or need attention"
        + (f", {production} in PRODUCTION" if production else "")
        + ":"
    ]
    for row in [head, *rows]:
        lines.append(
            "  "
            + "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
        )
    return [*lines, ""]


def overrides_label(path: str) -> str:
    """The overrides file without the runner's own folders: `.dagsync-sandbox/hosts.json`, or
    the file's name."""
    parts = PurePath(path).parts
    if ".dagsync-sandbox" in parts:
        return str(PurePath(*parts[parts.index(".dagsync-sandbox") :]))
    return PurePath(path).name


def render_text(plan: Plan, *, colour: bool = False, changes_only: bool = False) -> str:
    out: list[str] = []
    if plan.overrides:
        out.append(f"(hosts override file in effect: {overrides_label(plan.overrides)})")
    out += summary_table(plan)
    for target in plan.targets:
        if changes_only and not _shown(target):
            continue
        head = f"{target.target.key} ({target.address}"
        head += ", production)" if target.target.production else ")"
        out.append(f"{head}: {_counts(target) if not target.error else 'ERROR'}")
        out += [_paint(sign, text, colour) for sign, text in _target_lines(target)]
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"


def render_json(plan: Plan, *, colour: bool = False, changes_only: bool = False) -> str:
    return plan.dumps()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _md_table(plan: Plan) -> list[str]:
    rows = [
        "| Server | Address | Add | Change | Lock | Destroy | Status |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for t in plan.targets:
        if not _shown(t):
            continue
        c = t.counts()
        status = "⚠️ error" if t.error else ("⚠️ unknown facts" if t.unknown else t.status)
        rows.append(
            f"| `{t.target.key}`{' (prod)' if t.target.production else ''} | "
            f"{t.address} | {c[Action.CREATE]} | {c[Action.UPDATE]} | {c[Action.LOCK]} | "
            f"{c[Action.DELETE]} | {status} |"
        )
    return rows


def _md_lines(target: TargetPlan) -> Iterable[str]:
    """Plan lines for a ```diff block, where the sign must open the line to be coloured."""
    for sign, text in _target_lines(target):
        stripped = text.lstrip()
        if sign in "+-" and stripped.startswith(sign + " "):
            indent = len(text) - len(stripped)
            yield sign + " " * (indent - 1) + stripped[2:]
        else:
            yield " " + text[1:]


def _md_details(target: TargetPlan) -> str:
    body = [line.replace("```", "'''") for line in _md_lines(target)]
    summary = f"<b>{_md_escape(target.target.key)}</b>: {_counts(target) if not target.error else 'error'}"
    return "\n".join(
        [
            f"<details><summary>{summary}</summary>",
            "",
            "```diff",
            *body,
            "```",
            "",
            "</details>",
            "",
        ]
    )


def render_markdown(
    plan: Plan, *, colour: bool = False, limit: int = MARKDOWN_LIMIT, changes_only: bool = True
) -> str:
    """The PR comment: only the targets that change (or could not be read) are listed."""
    head = ["### dagsync plan", "", summary_line(plan), ""]
    if plan.overrides:
        head += [f"_Hosts override file in effect: `{overrides_label(plan.overrides)}`._", ""]
    table = _md_table(plan) if any(_shown(t) for t in plan.targets) else []
    unchanged = sum(1 for t in plan.targets if not _shown(t))
    tail = [f"_{unchanged} unchanged target(s) not listed._", ""] if unchanged and table else []
    text = "\n".join([*head, *table, "", *tail]) + "\n"
    shown = [t for t in plan.targets if t.changes or t.error or t.unknown or t.notes]
    note_room = 300
    for index, target in enumerate(shown):
        block = _md_details(target)
        if len(text) + len(block) > limit - note_room:
            left = len(shown) - index
            text += (
                f"\n_Truncated: {left} more server(s) not shown to stay under {limit:,} "
                "characters; run `dagsync plan --format json` for the whole plan._\n"
            )
            break
        text += block
    return text


RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}
