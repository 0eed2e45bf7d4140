"""Access rules on root access given to the client (CGV Art. 6): its announced window, its servers,
the guarantees it suspends and its keys, ACC001 to ACC003 and ACC006."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.client import ROOT_WINDOW_MAX_DAYS, ROOT_WINDOW_YEARS
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.common import minutes

_ROOT = ("contract", "root_access")
MAX_WINDOW_DAYS = ROOT_WINDOW_MAX_DAYS
FIRST_YEAR, LAST_YEAR = ROOT_WINDOW_YEARS
_ROOT_CLAUSE = (
    "Dans le cas exceptionnel où l'accès ROOT a été donné au Client, ce dernier s'engage à "
    "prévenir DAG Technologies de son utilisation (jours et heures)."
)


@rule(id="ACC001", severity=ERROR, article="6", clause=_ROOT_CLAUSE)
def root_window(ctx: ClientContext) -> Iterator[Violation]:
    """Root access given to the client is recorded with its days and hours.

    What it checks:
        Each `contract.root_access` window has a period that does not end before it starts
        (`start` <= `end`), lasts at most 366 days, with dates from 2000 to 2100, and hours
        that form a window (`hours: [from, to]`, from before to). The schema already requires
        at least one day and two hours.

        Accepted: any days, any period up to a year (a longer grant is the next window, with
        its own request), hours from the earlier to the later; a window across midnight is
        written as two windows (e.g. `["22:00", "23:59"]` and `["00:00", "02:00"]` the next
        days).

    Why:
        Article 6: a client given root access tells DAG when (days and hours) it uses it, and
        DAG's intervention guarantees are suspended during that time. A window that cannot
        happen records nothing. Root access is exceptional: a window of decades (or one ending
        on 9999-12-31) is no announcement, and its alert labels would swell the monitoring
        rules shared by every client until Prometheus misses evaluations.

    Failing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: dev1
              granted_to: Julien Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["12:00", "09:00"]
              guarantees_suspended: true
              request: REQ-2026-021

    Passing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: dev1
              granted_to: Julien Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["09:00", "12:00"]
              guarantees_suspended: true
              request: REQ-2026-021

    Fix:
        Record the days and the hours the client announced, from the earlier to the later.
    """
    for index, window in enumerate(ctx.client.contract.root_access):
        path = (*_ROOT, index)
        if window.end < window.start:
            yield Violation(
                ctx.client_doc,
                (*path, "end"),
                f"root access ends on {window.end}, before it starts on {window.start}",
            )
        elif not (window.start.year >= FIRST_YEAR and window.end.year <= LAST_YEAR):
            yield Violation(
                ctx.client_doc,
                (*path, "end"),
                f"root access from {window.start} to {window.end}: its dates fall between "
                f"{FIRST_YEAR} and {LAST_YEAR}",
            )
        elif (days := (window.end - window.start).days + 1) > MAX_WINDOW_DAYS:
            yield Violation(
                ctx.client_doc,
                (*path, "end"),
                f"root access from {window.start} to {window.end} lasts {days} days: it is "
                f"exceptional (Art. 6), at most {MAX_WINDOW_DAYS} days per window; declare the "
                "next period as a new window with its own request",
            )
        begin, finish = window.hours
        if minutes(begin) >= minutes(finish):
            yield Violation(
                ctx.client_doc,
                (*path, "hours"),
                f"root access hours {begin}-{finish} are not a window: write `[from, to]` with "
                "`from` before `to`",
            )


@rule(id="ACC002", severity=ERROR, article="6", clause=_ROOT_CLAUSE)
def root_window_server(ctx: ClientContext) -> Iterator[Violation]:
    """Root access is given on one of the client's servers.

    What it checks:
        `contract.root_access[].server` names a server of this client (a file under
        `servers/`).

        Accepted: any of the client's servers; a server whose file failed to load is not
        blamed.

    Why:
        The window suspends the guarantees of one server (Article 6): it must say which.

    Failing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: build9
              granted_to: Julien Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["09:00", "12:00"]
              guarantees_suspended: true
              request: REQ-2026-021

    Passing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: dev1
              granted_to: Julien Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["09:00", "12:00"]
              guarantees_suspended: true
              request: REQ-2026-021

    Fix:
        Name the server root access is given on.
    """
    names = [entry.name for entry in ctx.servers]
    for index, window in enumerate(ctx.client.contract.root_access):
        if window.server not in names and window.server not in ctx.unreadable_servers:
            yield Violation(
                ctx.client_doc,
                (*_ROOT, index, "server"),
                f"root access is given on `{window.server}`, which is not a server of "
                f"{ctx.client_id} (" + (", ".join(names) or "no servers") + ")",
            )


@rule(id="ACC003", severity=ERROR, article="6", terms=("root_access_suspends_guarantees",))
def root_window_suspends(ctx: ClientContext) -> Iterator[Violation]:
    """Root access given to the client suspends the intervention guarantees.

    What it checks:
        `contract.root_access[].guarantees_suspended` is true when the CGV version says root
        access suspends the guarantees.

        Accepted: every window with `guarantees_suspended: true`; none when the CGV version
        does not suspend them.

    Why:
        Article 6: "tout accès ROOT de la part du client entraîne automatiquement la
        suspension des garanties d'intervention et de rétablissement". Supervision and
        on-call must know it.

    Failing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: dev1
              granted_to: Julien Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["09:00", "12:00"]
              guarantees_suspended: false
              request: REQ-2026-021

    Passing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: dev1
              granted_to: Julien Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["09:00", "12:00"]
              guarantees_suspended: true
              request: REQ-2026-021

    Fix:
        Set `guarantees_suspended: true`.
    """
    if not ctx.policy.root_access_suspends_guarantees.value:
        return
    for index, window in enumerate(ctx.client.contract.root_access):
        if not window.guarantees_suspended:
            yield Violation(
                ctx.client_doc,
                (*_ROOT, index, "guarantees_suspended"),
                f"root access on {window.server} suspends the intervention guarantees: set "
                "`guarantees_suspended: true`",
            )


@rule(id="ACC006", severity=ERROR, article="6", clause=_ROOT_CLAUSE)
def root_window_keys(ctx: ClientContext) -> Iterator[Violation]:
    """Root access is given to a person who holds keys on that server.

    What it checks:
        The `granted_to` of each `contract.root_access` window is the `owner` of an account
        with at least one key on the window's `server`. When that server is not readable or
        unknown (ACC002), this rule stays silent.

        Accepted: several windows for the same person; a person holding several accounts
        (all their keys get root while the window is open).

    Why:
        Article 6: root access is "donné au Client" for the days and hours recorded. The
        reconciler gives it by placing the keys of the accounts `granted_to` owns on that
        server in root's `authorized_keys`: a window naming nobody with keys gives nothing,
        although the guarantees are recorded as suspended.

    Failing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: dev1
              granted_to: Julie Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["09:00", "12:00"]
              guarantees_suspended: true
              request: REQ-2026-021

    Passing example (clients/cime-conseil/client.yaml):
        contract:
          root_access:
            - server: dev1
              granted_to: Julien Favre
              start: 2026-09-01
              end: 2027-08-31
              days: [tue, thu]
              hours: ["09:00", "12:00"]
              guarantees_suspended: true
              request: REQ-2026-021

    Fix:
        Write `granted_to` exactly as the `owner` of that person's account on the server, or
        declare their account with their public key.
    """
    servers = {entry.name: entry for entry in ctx.servers}
    for index, window in enumerate(ctx.client.contract.root_access):
        entry = servers.get(window.server)
        if entry is None:
            continue
        owners = {a.owner for a in entry.model.accounts if a.keys}
        if window.granted_to not in owners:
            yield Violation(
                ctx.client_doc,
                (*_ROOT, index, "granted_to"),
                f"root access on {window.server} is granted to {window.granted_to}, who holds no "
                f"account with a key there ("
                + (", ".join(sorted(owners)) or "no account has keys")
                + "): the window would give root to nobody",
            )
