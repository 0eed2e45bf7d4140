"""A client's `requests.yaml` as it was at a given commit, parsed once per distinct blob."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dagsync.config.yamlio import load
from dagsync.gitops.repo import GitRepo, read_blob, run
from dagsync.model.requests import Requests


@dataclass(frozen=True)
class RequestEntry:
    """One request of a client, as written in requests.yaml (dates kept as ISO strings)."""

    id: str
    date: str
    channel: str
    author: str
    summary: str
    expires: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "date": self.date,
            "channel": self.channel,
            "author": self.author,
            "summary": self.summary,
            "expires": self.expires,
        }


@dataclass(frozen=True)
class RequestsAt:
    """The requests of one client at one commit; `exists` is False when the file is absent."""

    exists: bool
    entries: tuple[RequestEntry, ...] = ()
    problem: str | None = None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self.entries)

    def get(self, request_id: str) -> RequestEntry | None:
        return next((e for e in self.entries if e.id == request_id), None)


ABSENT = RequestsAt(exists=False)


def parse_requests(text: str) -> RequestsAt:
    """Parse requests.yaml text with the model; if it does not validate, keep what is readable."""
    data, problem = load(text)
    if problem is not None:
        return RequestsAt(True, (), f"line {problem.line}: {problem.message}")
    try:
        model = Requests.model_validate(data if data is not None else {})
    except ValidationError as exc:
        return RequestsAt(True, _lenient(data), f"does not validate ({exc.error_count()} error(s))")
    entries = tuple(
        RequestEntry(
            r.id,
            r.date.isoformat(),
            str(r.channel),
            r.author,
            r.summary,
            r.expires.isoformat() if r.expires else None,
        )
        for r in model.requests
    )
    return RequestsAt(True, entries)


def _lenient(data: Any) -> tuple[RequestEntry, ...]:
    items = data.get("requests") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return ()
    return tuple(
        RequestEntry(
            item["id"],
            str(item.get("date", "")),
            str(item.get("channel", "")),
            str(item.get("author", "")),
            str(item.get("summary", "")),
            str(item["expires"]) if item.get("expires") is not None else None,
        )
        for item in items
        if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    )


class RequestBook:
    """Reads `clients/<id>/requests.yaml` at commits: one `git ls-tree` per commit for all the
    clients asked about, and one parse per distinct blob."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self._parsed: dict[str, RequestsAt] = {}

    def _path(self, client: str) -> str:
        return self.repo.git_path(f"clients/{client}/requests.yaml")

    def at(self, commit: str, clients: Sequence[str]) -> dict[str, RequestsAt]:
        """Each client's requests at `commit` (ABSENT where the file does not exist)."""
        if not clients:
            return {}
        out = run(self.repo, "ls-tree", "-z", commit, "--", *(self._path(c) for c in clients))
        blobs = {}
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            fields = meta.split()
            if len(fields) == 3 and fields[1] == "blob":
                blobs[path] = fields[2]
        return {
            c: self._parse(blobs[p]) if (p := self._path(c)) in blobs else ABSENT for c in clients
        }

    def _parse(self, blob: str) -> RequestsAt:
        if blob not in self._parsed:
            self._parsed[blob] = parse_requests(read_blob(self.repo, blob))
        return self._parsed[blob]

    def at_or_before(
        self, commit: str, parent: str | None, clients: Sequence[str]
    ) -> dict[str, RequestsAt]:
        """At `commit`, or at its parent for a client whose file the commit deleted."""
        found = self.at(commit, clients)
        gone = [c for c, r in found.items() if not r.exists]
        if gone and parent is not None:
            found.update(self.at(parent, gone))
        return found
