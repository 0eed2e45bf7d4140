"""Checking one client: its files read strictly (`validate.reading`), then the rules run on every
valid section, with one RUN001 note naming the rules that could not run and why.

This is the heavy half of validation (YAML, pydantic, rules); `validate.run` decides which
clients to check, `speed/workers.py` runs this in worker processes and `speed/cache.py` keeps
the results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dagsync.config.document import ClientFiles, ClientIndex, Document
from dagsync.findings import Finding, Severity
from dagsync.model.client import Client
from dagsync.model.partial import SectionUnavailable, Unavailable, is_unavailable
from dagsync.model.policy import CgvPolicy
from dagsync.model.requests import Request, Requests
from dagsync.model.server import Server
from dagsync.validate.indexing import index_client_blocklist, index_client_claims, index_server
from dagsync.validate.reading import Collector, Policies, read_document, typed_model

NOT_RUN = "RUN001"
if TYPE_CHECKING:
    from dagsync.rules.base import ClientContext, Rule, Violation


@dataclass
class ClientReport:
    findings: list[Finding]
    index: ClientIndex


def check_client(
    root: Path, files: ClientFiles, policies: Policies, today: dt.date
) -> ClientReport:
    """Everything about one client: secrets, YAML, schema, and the rules on every section that
    is valid. A rule that needs an invalid file or section does not run; one RUN001 note says
    which rules did not run and why."""
    out = Collector(files.client_id)
    index = ClientIndex()
    client_rel = files.client or f"clients/{files.client_id}/client.yaml"
    client_doc = read_document(root, files.client, out) if files.client else None
    if client_doc is not None:
        _index_client_doc(client_doc, files.client_id, out, index)
        if isinstance(client_doc.data, dict):
            index_client_claims(client_doc.rel, client_doc.data, index)
            index_client_blocklist(client_doc.rel, client_doc.data, index)
    client = typed_model(Client, client_doc, out) if client_doc else None
    requests_doc = read_document(root, files.requests, out) if files.requests else None
    requests = typed_model(Requests, requests_doc, out) if requests_doc else None
    servers, unreadable = _check_servers(root, files, out, index)
    if client is None or client_doc is None:
        where = f"{client_rel} (invalid)" if files.client else f"{client_rel} (missing)"
        client = Unavailable(where)  # type: ignore[assignment]
        client_doc = Document(client_rel, "", Unavailable(where))
    if requests is None and files.requests:
        requests = Unavailable(f"{files.requests} (invalid)")  # type: ignore[assignment]
    assert client is not None
    skipped = _run_rules(
        out,
        files,
        client,
        client_doc,
        requests,
        requests_doc,
        servers,
        unreadable,
        policies,
        today,
    )
    findings = out.finish()
    if skipped or unreadable:
        findings.append(_not_run(files.client_id, client_rel, skipped, sorted(unreadable)))
    return ClientReport(findings, index)


def _not_run(client_id: str, rel: str, skipped: dict[str, str], servers: list[str]) -> Finding:
    """One note naming the rules that could not run, grouped by the invalid input they need,
    and the server files no rule could read."""
    by_where: dict[str, list[str]] = {}
    for rule_id, where in sorted(skipped.items()):
        by_where.setdefault(where, []).append(rule_id)
    reasons = [
        f"{', '.join(ids)} {'reads' if len(ids) == 1 else 'read'} {where}"
        for where, ids in by_where.items()
    ]
    if servers:
        names = ", ".join(f"servers/{name}.yaml" for name in servers)
        reasons.append(f"no rule checked {names} (invalid)")
    count = f"{len(skipped)} CGV rule(s)" if skipped else "CGV rules"
    return Finding(
        file=rel,
        line=1,
        column=1,
        rule=NOT_RUN,
        severity=Severity.NOTE,
        message=f"{count} not run where their input is invalid: {'; '.join(reasons)}; fix the "
        "findings above and validate again",
        client=client_id,
    )


def _index_client_doc(doc: Document, folder: str, out: Collector, index: ClientIndex) -> None:
    """The client id (REP001 when it differs from the folder), read even if the model fails."""
    client_id = doc.data.get("id")
    if not isinstance(client_id, str):
        return
    index.client_id = client_id
    if client_id != folder:
        out.add(
            doc,
            ["id"],
            "REP001",
            f"client id `{client_id}` differs from its folder clients/{folder}/: make them equal",
        )


def _check_servers(
    root: Path, files: ClientFiles, out: Collector, index: ClientIndex
) -> tuple[list[tuple[str, Server, Document]], frozenset[str]]:
    """The servers that could be typed (invalid sections `Unavailable`), and the names of the
    server files that could not be read or typed at all."""
    servers = []
    unreadable = set()
    for rel in files.servers:
        stem = Path(rel).stem
        doc = read_document(root, rel, out, server=stem)
        if doc is None:
            unreadable.add(stem)
            continue
        name = doc.data.get("name")
        if isinstance(name, str) and name != stem:
            out.add(
                doc,
                ["name"],
                "REP002",
                f"server `{name}` is in a file named {Path(rel).name}: rename the file "
                f"to {name}.yaml or fix `name`",
                server=stem,
            )
        index_server(rel, doc.data, index)
        server = typed_model(Server, doc, out, server=stem)
        if server is None:
            unreadable.add(stem)
            continue
        servers.append((stem if is_unavailable(server.name) else server.name, server, doc))
    return servers, frozenset(unreadable)


def _run_rules(
    out: Collector,
    files: ClientFiles,
    client: Client,
    client_doc: Document,
    requests: Requests | None,
    requests_doc: Document | None,
    servers: list[tuple[str, Server, Document]],
    unreadable: frozenset[str],
    policies: Policies,
    today: dt.date,
) -> dict[str, str]:
    """Run every CGV rule; return the rules that needed an invalid input, with that input."""
    # lazy: importing it here keeps dagsync.rules out of this module's load
    from dagsync.rules.base import ClientContext, ServerEntry

    # lazy: importing it here keeps dagsync.contract, dagsync.errors, dagsync.model (+2) out of this module's load
    from dagsync.rules.registry import RULES

    # lazy: importing it here keeps dagsync.rules out of this module's load
    from dagsync.rules.secrets import RULE_ID as SECRETS

    policy = _policy(out, client, client_doc, policies)
    by_id: dict[str, Request] | Unavailable
    try:
        by_id = {r.id: r for r in (requests.requests if requests else [])}
    except SectionUnavailable as exc:
        by_id = Unavailable(exc.where)
    ctx = ClientContext(
        client_id=files.client_id,
        client=client,
        client_doc=client_doc,
        requests=by_id,  # type: ignore[arg-type]
        requests_doc=requests_doc,
        servers=tuple(ServerEntry(n, s, d) for n, s, d in servers),
        policy=policy,
        dag=policies.dag or Unavailable("policies/dag.yaml (invalid)"),  # type: ignore[arg-type]
        today=today,
        unreadable_servers=unreadable,
    )
    skipped: dict[str, str] = {}
    for rule in RULES:
        if rule.id == SECRETS:
            continue  # run on the raw text of every file by `read_document`
        violations, where = _run_rule(rule, ctx)
        for violation in violations:
            out.add(
                violation.doc,
                violation.path,
                rule.id,
                violation.message,
                severity=rule.severity,
                article=rule.article,
                key=violation.key,
                server=violation.server,
            )
        if where is not None:
            skipped[rule.id] = where
    return skipped


def _run_rule(rule: Rule, ctx: ClientContext) -> tuple[list[Violation], str | None]:
    """A rule's violations, and the first invalid input it needed (None if it had all).

    When that input is a section of a server file, the rule runs again without that server
    (as if the file were unreadable), so that one server's invalid section does not hide the
    rule from the client's other servers."""
    where: str | None = None
    for _ in range(len(ctx.servers) + 1):
        found: list[Violation] = []
        try:
            found.extend(rule.check(ctx))
            return found, where
        except SectionUnavailable as exc:
            where = where or exc.where
            server = next(
                (e for e in ctx.servers if e.doc.rel.endswith("/" + exc.where.split(" ")[0])),
                None,
            )
            if server is None or not exc.where.startswith("servers/"):
                return found, where  # what it found before needing the input still holds
            ctx = replace(
                ctx,
                servers=tuple(e for e in ctx.servers if e is not server),
                unreadable_servers=ctx.unreadable_servers | {Path(server.doc.rel).stem},
            )
    return [], where


def _policy(out: Collector, client: Client, client_doc: Document, policies: Policies) -> CgvPolicy:
    """The CGV policy of the client's contract (REP009 when there is no such version), or an
    `Unavailable` that the rules needing it report."""
    try:
        version = client.contract.cgv_version
    except SectionUnavailable as exc:
        return Unavailable(exc.where)  # type: ignore[return-value]
    policy = policies.cgv.get(version)
    if policy is not None:
        return policy
    known = ", ".join(sorted(policies.cgv)) or "none"
    out.add(
        client_doc,
        ["contract", "cgv_version"],
        "REP009",
        f"CGV version `{version}` has no policies/cgv/{version}.yaml (known: {known})",
    )
    return Unavailable(f"policies/cgv/{version}.yaml (missing)")  # type: ignore[return-value]
