"""Parsers of borg's JSON output (`borg list --json`, `borg info --json`), pure.

borg 1.2 prints archive times in the local time of the machine that ran it, without an
offset; the caller gives that offset (read with `date +%z` in the same command).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagsync.errors import DagsyncError


class BorgOutputError(DagsyncError):
    """borg printed something that is not the JSON we expect."""


@dataclass(frozen=True, order=True)
class Archive:
    time: dt.datetime  # aware
    name: str
    id: str


@dataclass(frozen=True)
class ArchiveStats:
    name: str
    original_size: int
    deduplicated_size: int
    nfiles: int


def parse_offset(text: str) -> dt.timezone:
    """`date +%z` output (`+0100`, `-0530`) as a timezone."""
    value = text.strip()
    if len(value) != 5 or value[0] not in "+-" or not value[1:].isdigit():
        raise BorgOutputError(f"not a UTC offset: {value!r}")
    minutes = int(value[1:3]) * 60 + int(value[3:5])
    return dt.timezone(dt.timedelta(minutes=minutes if value[0] == "+" else -minutes))


def _json(text: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BorgOutputError(f"borg did not print JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BorgOutputError("borg printed JSON that is not an object")
    return data


def _time(value: Any, tz: dt.tzinfo) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def parse_list(text: str, tz: dt.tzinfo = dt.UTC) -> tuple[Archive, ...]:
    """The archives of `borg list --json`, oldest first."""
    data = _json(text)
    try:
        archives = [
            Archive(_time(a.get("time") or a["start"], tz), str(a["name"]), str(a["id"]))
            for a in data["archives"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise BorgOutputError(f"unexpected `borg list --json` output: {exc}") from exc
    return tuple(sorted(archives))


def parse_info(text: str) -> tuple[ArchiveStats, ...]:
    """Per-archive sizes of `borg info --json` (with an archive or --last N)."""
    data = _json(text)
    try:
        return tuple(
            ArchiveStats(
                str(a["name"]),
                int(a["stats"]["original_size"]),
                int(a["stats"]["deduplicated_size"]),
                int(a["stats"]["nfiles"]),
            )
            for a in data.get("archives", [])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BorgOutputError(f"unexpected `borg info --json` output: {exc}") from exc
