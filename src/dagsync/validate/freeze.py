"""Deploy freeze (CGV 6.1): warn when a change to a production server would go live on the
eve of a weekend or public holiday ("De ne procéder à aucune mise en production les veilles
de weekend et jours fériés")."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

from dagsync.config.yamlio import load
from dagsync.contract.calendar import is_deploy_freeze, is_jour_ouvre
from dagsync.findings import Finding, Severity

RULE = "FRZ001"
_SERVER_FILE = re.compile(r"^clients/([^/]+)/servers/([^/]+)\.yaml$")


def next_release_day(day: dt.date) -> dt.date:
    """The first working day (jour ouvré) from `day` on that is not a freeze day."""
    while is_deploy_freeze(day) or not is_jour_ouvre(day):
        day += dt.timedelta(days=1)
    return day


def freeze_findings(root: Path, changed: Iterable[str], day: dt.date) -> list[Finding]:
    """One warning per changed production server file when `day` is a freeze day."""
    if not is_deploy_freeze(day):
        return []
    out = []
    for rel in sorted(set(changed)):
        match = _SERVER_FILE.match(rel)
        path = root / rel
        if match is None or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        data, _ = load(text)
        if not isinstance(data, dict) or data.get("role") != "production":
            continue
        line = next((i for i, s in enumerate(text.splitlines(), 1) if s.startswith("role:")), 1)
        out.append(
            Finding(
                rel,
                line,
                1,
                RULE,
                Severity.WARNING,
                f"production server `{match.group(2)}` changes on {day.isoformat()}, the eve of a "
                f"weekend or public holiday: CGV 6.1 advises no production release today; merge and "
                f"apply on {next_release_day(day).isoformat()} or later",
                article="6.1",
                pointer="/role",
                client=match.group(1),
                server=match.group(2),
            )
        )
    return out
