"""Repository rules (DESIGN §5): cited requests exist, have not expired, and are all cited.

A derogation ("hors demande spécifique du client") is accepted when its section cites a
request of the same client. The area rules only check that *some* request is cited; these
rules check that the citation is real and current, so one problem yields one finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.config.document import Document
from dagsync.model.partial import SectionUnavailable, is_unavailable
from dagsync.model.requests import Request
from dagsync.rules.base import ERROR, WARNING, Citation, ClientContext, Violation, rule
from dagsync.rules.common import citations

_DEROGATION_CLAUSE = "hors demande spécifique du client"


def _recorded(ctx: ClientContext) -> Iterator[tuple[Document, int, Request]]:
    """Each request with its requests.yaml document and list index (first occurrence); raises
    `SectionUnavailable` when requests.yaml is invalid (its requests are unknown)."""
    if is_unavailable(ctx.requests):
        raise SectionUnavailable(ctx.requests.where)  # type: ignore[attr-defined]
    doc = ctx.requests_doc
    items = doc.data.get("requests") if doc is not None and isinstance(doc.data, dict) else None
    if doc is None or not isinstance(items, list):
        return
    seen: set[str] = set()
    for index, item in enumerate(items):
        request_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(request_id, str) and request_id in ctx.requests and request_id not in seen:
            seen.add(request_id)
            yield doc, index, ctx.requests[request_id]


def _where(citation: Citation) -> str:
    path = ".".join(str(p) for p in citation.path)
    return f"{citation.doc.rel} ({path})"


@rule(id="REQ001", severity=ERROR, article="4", clause=_DEROGATION_CLAUSE)
def request_exists(ctx: ClientContext) -> Iterator[Violation]:
    """Every cited request exists in the client's requests.yaml.

    What it checks:
        Each `request: REQ-...` field of client.yaml and of the server files names a request
        of this client's requests.yaml.

        Accepted: any request of the client's requests.yaml, cited any number of times.

    Why:
        The CGV allows another value only "sur demande spécifique du client" (Articles 4 and
        6.1): the request must be on record, so that the derogation can be audited.

    Failing example (clients/cime-conseil/servers/prod1.yaml):
        backup:
          request: REQ-2025-099

    Passing example (clients/cime-conseil/servers/prod1.yaml):
        backup:
          request: REQ-2025-014

    Fix:
        Record the request in requests.yaml (id, date, channel, author, summary), or cite the
        right id.
    """
    for citation in citations(ctx):
        if citation.request_id not in ctx.requests:
            yield Violation(
                citation.doc,
                citation.path,
                f"{citation.request_id} is not a request of {ctx.client_id}: record it in "
                f"{ctx.requests_file} or cite an existing one",
                server=citation.server,
            )


@rule(id="REQ002", severity=ERROR, article="4", clause=_DEROGATION_CLAUSE)
def request_current(ctx: ClientContext) -> Iterator[Violation]:
    """A cited request has not expired.

    What it checks:
        A request with `expires` before today (validation date) is cited by nobody. The
        finding is on the request's `expires` and lists the places that still cite it.

        Accepted: requests without `expires`, or expiring today or later.

    Why:
        A derogation holds only while the client's request does: past its expiry the CGV
        default applies again.

    Failing example (clients/alpine-books/requests.yaml):
        requests:
          - id: REQ-2025-001
            date: 2025-02-10
            channel: email
            author: Claire Martin
            summary: Initial set-up of the shop server www.alpine-books.example.
            expires: 2025-12-31

    Passing example (clients/alpine-books/requests.yaml):
        requests:
          - id: REQ-2025-001
            date: 2025-02-10
            channel: email
            author: Claire Martin
            summary: Initial set-up of the shop server www.alpine-books.example.
            expires: 2030-12-31

    Fix:
        Restore the CGV default and remove the citation, or record the client's renewed
        request (a new request, or a later `expires` if the client extended it).
    """
    cited: dict[str, list[Citation]] = {}
    for citation in citations(ctx):
        cited.setdefault(citation.request_id, []).append(citation)
    for doc, index, request in _recorded(ctx):
        places = cited.get(request.id, [])
        if request.expires is None or request.expires >= ctx.today or not places:
            continue
        where = ", ".join(_where(c) for c in places[:3]) + (" ..." if len(places) > 3 else "")
        yield Violation(
            doc,
            ("requests", index, "expires"),
            f"{request.id} expired on {request.expires} but is still cited by {where}: restore "
            "the CGV default there, or record the client's renewed request",
        )


@rule(id="REQ003", severity=WARNING, article="4", clause=_DEROGATION_CLAUSE)
def request_cited(ctx: ClientContext) -> Iterator[Violation]:
    """Every recorded request is cited somewhere.

    What it checks:
        Each request of requests.yaml is cited by a `request:` field of client.yaml or of a
        server file (or by a commit trailer the caller passed in `ClientContext.cited`).

        Accepted: a request cited by YAML or by a `Client-Request:` commit trailer.

    Why:
        A request nobody cites was either not carried out or carried out without leaving a
        trace in the configuration: both deserve a look.

    Failing example (clients/alpine-books/requests.yaml):
        requests:
          - id: REQ-2025-001
            date: 2025-02-10
            channel: email
            author: Claire Martin
            summary: Initial set-up of the shop server www.alpine-books.example.
          - id: REQ-2025-002
            date: 2025-03-10
            channel: email
            author: Claire Martin
            summary: Please open port 8443 for the stock application.

    Passing example (clients/alpine-books/requests.yaml):
        requests:
          - id: REQ-2025-001
            date: 2025-02-10
            channel: email
            author: Claire Martin
            summary: Initial set-up of the shop server www.alpine-books.example.

    Fix:
        Cite the request where it was carried out (the `request` field of the section it
        changed), or remove it if it was recorded by mistake.
    """
    if ctx.unreadable_servers:
        return  # a server that failed to load may cite it
    cited = {c.request_id for c in citations(ctx)} | ctx.cited
    for doc, index, request in _recorded(ctx):
        if request.id not in cited:
            yield Violation(
                doc,
                ("requests", index, "id"),
                f"{request.id} is cited by no `request:` field of {ctx.client_id}: cite it "
                "where it was carried out, or remove it",
            )


@rule(id="REQ004", severity=ERROR, article="4", clause=_DEROGATION_CLAUSE)
def request_unique(ctx: ClientContext) -> Iterator[Violation]:
    """Request ids are unique within a client.

    What it checks:
        No two entries of requests.yaml share an `id`.

        Accepted: any number of requests with distinct ids.

    Why:
        A citation must designate one request: with two, the derogation's justification
        (date, channel, author, expiry) is ambiguous and one of them silently wins.

    Failing example (clients/alpine-books/requests.yaml):
        requests:
          - id: REQ-2025-001
            date: 2025-02-10
            channel: email
            author: Claire Martin
            summary: Initial set-up of the shop server www.alpine-books.example.
          - id: REQ-2025-001
            date: 2025-03-10
            channel: email
            author: Claire Martin
            summary: Please open port 8443 for the stock application.

    Passing example (clients/alpine-books/requests.yaml):
        requests:
          - id: REQ-2025-001
            date: 2025-02-10
            channel: email
            author: Claire Martin
            summary: Initial set-up of the shop server www.alpine-books.example.

    Fix:
        Give the later request the next free id, and update what cites it.
    """
    doc = ctx.requests_doc
    items = doc.data.get("requests") if doc is not None and isinstance(doc.data, dict) else None
    if doc is None or not isinstance(items, list):
        return
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        request_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(request_id, str):
            continue
        if request_id in first:
            yield Violation(
                doc,
                ("requests", index, "id"),
                f"{request_id} is already the id of request #{first[request_id] + 1}: give this "
                "one the next free id",
            )
        else:
            first[request_id] = index
