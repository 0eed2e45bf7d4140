"""Plan renderers, chosen by name: text (coloured on a terminal), Markdown (a PR comment),
JSON (the saved plan that `apply --plan` reads)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .core import Action, Change
from .plan import Plan, TargetPlan

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


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    changed = sum(1 for t in plan.targets if t.changes)
    errors = sum(1 for t in plan.targets if t.error or t.unknown)
    if not plan.has_changes:
        head = f"No changes: {len(plan.targets)} server(s) match the configuration."
    else:
        head = (
            f"Plan: {counts[Action.CREATE]} to add, {counts[Action.UPDATE]} to change, "
            f"{counts[Action.LOCK]} to lock, {counts[Action.DELETE]} to destroy, "
            f"on {changed} of {len(plan.targets)} server(s)."
        )
    return head + (f" {errors} server(s) could not be fully read." if errors else "")


def render_text(plan: Plan, *, colour: bool = False) -> str:
    out: list[str] = []
    if plan.overrides:
        out.append(f"(hosts override file in effect: {plan.overrides})")
    for target in plan.targets:
        head = f"{target.target.key} ({target.address}"
        head += ", production)" if target.target.production else ")"
        out.append(f"{head}: {_counts(target) if not target.error else 'ERROR'}")
        out += [_paint(sign, text, colour) for sign, text in _target_lines(target)]
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"


def render_json(plan: Plan, *, colour: bool = False) -> str:
    return plan.dumps()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _md_table(plan: Plan) -> list[str]:
    rows = [
        "| Server | Address | Add | Change | Lock | Destroy | Status |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for t in plan.targets:
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


def render_markdown(plan: Plan, *, colour: bool = False, limit: int = MARKDOWN_LIMIT) -> str:
    head = ["### dagsync plan", "", summary_line(plan), ""]
    if plan.overrides:
        head += [f"_Hosts override file in effect: `{plan.overrides}`._", ""]
    text = "\n".join([*head, *_md_table(plan), ""]) + "\n"
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
