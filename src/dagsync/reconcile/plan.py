"""A plan: typed changes grouped per target, with fingerprints of what they were computed from.

A plan is computed once, rendered (text, Markdown, JSON) and applied as is.  Saved as JSON,
it carries for each target the commands that read its facts and a fingerprint per resource
of the observed state, so `apply --plan FILE` re-reads the hosts and refuses when one no
longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.core import Action, Change, Note, Target, Unknown

PLAN_FORMAT = 1


def fingerprint(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def observed_fingerprint(encoded: Any | Unknown) -> str:
    if isinstance(encoded, Unknown):
        return fingerprint({"unknown": encoded.reason})
    return fingerprint(encoded)


@dataclass(frozen=True)
class TargetPlan:
    """What would change on one target, or why it could not be planned."""

    target: Target
    address: str
    changes: tuple[Change, ...] = ()
    notes: tuple[Note, ...] = ()
    unknown: tuple[tuple[str, str], ...] = ()  # (resource kind, reason)
    error: str | None = None
    reads: tuple[tuple[str, str], ...] = ()  # (resource kind, read command)
    fingerprints: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        return "changes" if self.changes else "no changes"

    def counts(self) -> Counter[Action]:
        return Counter(c.action for c in self.changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target.as_json(),
            "address": self.address,
            "status": self.status,
            "changes": [c.as_json() for c in self.changes],
            "notes": [n.as_json() for n in self.notes],
            "unknown": [{"kind": k, "reason": r} for k, r in self.unknown],
            "error": self.error,
            "reads": [{"kind": k, "command": c} for k, c in self.reads],
            "fingerprints": dict(self.fingerprints),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TargetPlan:
        return cls(
            target=Target.from_json(data["target"]),
            address=str(data["address"]),
            changes=tuple(Change.from_json(c) for c in data.get("changes", [])),
            notes=tuple(Note(str(n["kind"]), str(n["text"])) for n in data.get("notes", [])),
            unknown=tuple((str(u["kind"]), str(u["reason"])) for u in data.get("unknown", [])),
            error=data.get("error"),
            reads=tuple((str(r["kind"]), str(r["command"])) for r in data.get("reads", [])),
            fingerprints={str(k): str(v) for k, v in data.get("fingerprints", {}).items()},
        )


@dataclass(frozen=True)
class Plan:
    targets: tuple[TargetPlan, ...]
    created_at: str
    commit: str | None = None
    allow_destroy: bool = False
    overrides: str | None = None  # the hosts override file in effect, if any

    @property
    def has_changes(self) -> bool:
        return any(t.changes for t in self.targets)

    @property
    def has_errors(self) -> bool:
        return any(t.error for t in self.targets)

    def counts(self) -> Counter[Action]:
        total: Counter[Action] = Counter()
        for target in self.targets:
            total.update(target.counts())
        return total

    def as_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "format": PLAN_FORMAT,
            "kind": "dagsync-plan",
            "created_at": self.created_at,
            "commit": self.commit,
            "allow_destroy": self.allow_destroy,
            "overrides": self.overrides,
            "summary": {
                "targets": len(self.targets),
                "with_changes": sum(1 for t in self.targets if t.changes),
                "errors": sum(1 for t in self.targets if t.error),
                **{str(a): counts.get(a, 0) for a in Action},
            },
            "targets": [t.as_json() for t in self.targets],
        }

    def dumps(self) -> str:
        return json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("kind") != "dagsync-plan" or data.get("format") != PLAN_FORMAT:
            raise DagsyncError(f"not a dagsync plan of format {PLAN_FORMAT}")
        return cls(
            targets=tuple(TargetPlan.from_json(t) for t in data["targets"]),
            created_at=str(data["created_at"]),
            commit=data.get("commit"),
            allow_destroy=bool(data.get("allow_destroy", False)),
            overrides=data.get("overrides"),
        )

    @classmethod
    def loads(cls, text: str, source: str = "plan") -> Plan:
        try:
            return cls.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise DagsyncError(f"{source}: not a readable dagsync plan ({exc})") from exc


def stale_resources(saved: TargetPlan, now: Mapping[str, str]) -> Sequence[str]:
    """The resource kinds whose observed state differs from when `saved` was computed."""
    kinds = sorted(set(saved.fingerprints) | set(now))
    return [k for k in kinds if saved.fingerprints.get(k) != now.get(k)]
