"""Comparing plans: how the plan computed now differs from the one a person confirmed or
saved (targets, what each was computed from, changes and payloads). Pure functions."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.plan import Plan, TargetPlan, fingerprint


def _changes(plan: Plan) -> dict[str, Counter[str]]:
    """Per target, its changes as canonical JSON (the plan's times are not part of them)."""
    return {
        t.target.key: Counter(fingerprint(c.as_json()) for c in t.changes)
        for t in plan.targets
        if t.changes
    }


def _summaries(plan: Plan) -> dict[str, str]:
    return {
        fingerprint(c.as_json()): f"{c.kind}: {c.summary}" for t in plan.targets for c in t.changes
    }


def differences(confirmed: Plan, fresh: Plan) -> list[str]:
    """How `fresh` differs from `confirmed`, change by change; empty when they agree."""
    before, after = _changes(confirmed), _changes(fresh)
    names = {**_summaries(confirmed), **_summaries(fresh)}
    out = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, Counter()), after.get(key, Counter())
        out += [f"{key}: now also {names[c]}" for c in sorted(new - old)]
        out += [f"{key}: no longer {names[c]}" for c in sorted(old - new)]
    return out


def _facts(t: TargetPlan) -> dict[str, Any]:
    """What a target's plan was computed from, canonically: where, how it was read, what was
    seen (fingerprints, facts that could not be read) and whether it failed."""
    return {
        "address": t.address,
        "error": t.error,
        "reads": sorted([k, c] for k, c in t.reads),
        "fingerprints": dict(sorted(t.fingerprints.items())),
        "unknown": sorted([k, r] for k, r in t.unknown),
    }


def _target_differences(old: TargetPlan, new: TargetPlan) -> list[str]:
    key, was, now = old.target.key, _facts(old), _facts(new)
    out = []
    if was["address"] != now["address"]:
        out.append(f"{key}: reached at {new.address or '-'}, the saved plan says {old.address}")
    if was["error"] != now["error"]:
        out.append(f"{key}: {new.error or 'no error'} now, {old.error or 'no error'} in the plan")
    if was["reads"] != now["reads"]:
        a, b = dict(old.reads), dict(new.reads)
        kinds = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        out.append(f"{key}: the saved read commands ({', '.join(kinds)}) are not the repository's")
    if was["fingerprints"] != now["fingerprints"]:
        kinds = sorted(set(old.fingerprints) | set(new.fingerprints))
        stale = [k for k in kinds if old.fingerprints.get(k) != new.fingerprints.get(k)]
        out.append(f"{key}: {', '.join(stale)} changed since the plan was computed")
    if was["unknown"] != now["unknown"]:
        out.append(f"{key}: the facts that could not be read are not the same as in the plan")
    if out and was["fingerprints"] != now["fingerprints"]:
        return out  # the changes differ because the state moved: that is the difference
    before, after = _changes(_alone(old)), _changes(_alone(new))
    names = {**_summaries(_alone(old)), **_summaries(_alone(new))}
    mine, theirs = before.get(key, Counter()), after.get(key, Counter())
    out += [
        f"{key}: the saved plan has {names[c]}, computed now it has not"
        for c in sorted(mine - theirs)
    ]
    out += [
        f"{key}: computed now the plan has {names[c]}, the saved plan has not"
        for c in sorted(theirs - mine)
    ]
    return out


def _alone(target: TargetPlan) -> Plan:
    return Plan((target,), "")  # for _changes and _summaries


def saved_differences(saved: Plan, fresh: Plan) -> list[str]:
    """How `fresh` (computed now from the repository and the live targets) differs from a
    saved plan: its targets, what each was computed from (address, read commands,
    fingerprints of what was read, errors) and its changes, payloads included, compared as
    canonical JSON; empty when they agree.  In target order: the first is the first."""
    before = {t.target.key: t for t in saved.targets}
    after = {t.target.key: t for t in fresh.targets}
    out = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old is None:
            out.append(f"{key}: computed now, this target is not in the saved plan")
        elif new is None:
            out.append(f"{key}: in the saved plan, this target is no longer planned")
        else:
            out += _target_differences(old, new)
    return out


def refuse_moved(saved: Plan, fresh: Plan) -> None:
    """Refuse (nothing read from the file runs, nothing is changed) a saved plan that is not
    exactly what the repository and the live targets give now."""
    problems = saved_differences(saved, fresh)
    if problems:
        more = f" (and {len(problems) - 1} more difference(s))" if len(problems) > 1 else ""
        raise DagsyncError(
            f"the saved plan does not match the plan computed now from the repository and the "
            f"servers, nothing was applied: {problems[0]}{more}. Run `dagsync plan` again."
        )


def refuse_other_commit(saved: Plan, head: str | None) -> None:
    """A saved plan applies only at the commit it was computed at."""
    if saved.commit != head:
        recorded = saved.commit[:12] if saved.commit else "no commit"
        raise DagsyncError(
            f"the saved plan was computed at {recorded}, but HEAD is "
            f"{head[:12] if head else 'not a commit'}: nothing was applied. Run `dagsync plan` "
            "again at HEAD."
        )
