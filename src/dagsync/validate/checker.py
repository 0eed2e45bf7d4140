"""Checking one client: read its files strictly, validate them against the model, run rules.

This is the heavy half of validation (YAML, pydantic, rules); `validate.py` decides which
clients to check, `workers.py` runs this in worker processes and `cache.py` keeps the results.
pydantic's errors are worded as findings in `schema_errors.py`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from dagsync.config.document import ClientFiles, ClientIndex, Document, Located, read_regular
from dagsync.config.schema_errors import schema_problems
from dagsync.config.yamlio import line_column, load
from dagsync.findings import Finding, Severity, pointer_from
from dagsync.model import CgvPolicy, Client, DagSettings, Request, Requests, Server
from dagsync.model.partial import (
    SectionUnavailable,
    Unavailable,
    as_json,
    is_unavailable,
    validate_sections,
)
from dagsync.validate.indexing import (
    index_client,
    index_client_blocklist,
    index_client_claims,
    index_server,
)

__all__ = [
    "ClientFiles",
    "ClientIndex",
    "ClientReport",
    "Collector",
    "Located",
    "Policies",
    "check_client",
    "index_client",
    "load_policies",
    "read_document",
    "scan_secrets",
    "validate_model",
]

MAX_FILE_BYTES = 1024 * 1024
MAX_SCAN_BYTES = 4 * MAX_FILE_BYTES  # the secret scan reads this much of an oversized file
MAX_FINDINGS_PER_FILE = 50  # the rest of a file's findings are summarised in one (YAML008)
NOT_RUN = "RUN001"
if TYPE_CHECKING:
    from dagsync.rules.base import ClientContext, Rule, Violation

M = TypeVar("M", bound=BaseModel)
_YAML_RULES = {
    "syntax": "YAML001",
    "value": "YAML001",
    "duplicate-key": "YAML002",
    "alias": "YAML003",
    "depth": "YAML007",
}


@dataclass
class ClientReport:
    findings: list[Finding]
    index: ClientIndex


@dataclass(frozen=True)
class Policies:
    cgv: dict[str, CgvPolicy]
    dag: DagSettings | None


class Collector:
    """Turns problems at key paths into located findings for one client (or the policies).

    At most `MAX_FINDINGS_PER_FILE` findings are kept per file, the rest counted and summarised
    by `finish` in one finding at the first one left out (a million wrong list items must not
    make a million findings). Values the secret scan flagged in the client's files are masked
    in every message (`secret`), whatever rule words the message.
    """

    def __init__(self, client: str | None) -> None:
        self.client = client
        self.findings: list[Finding] = []
        self._counts: Counter[str] = Counter()
        self._hidden: dict[str, tuple[int, int, int, Severity]] = {}
        self._secrets: set[str] = set()

    def secret(self, value: str) -> None:
        """Never print `value` (a secret found in the raw text) in a message."""
        if len(value) >= 4:
            self._secrets.add(value)

    def _keep(self, rel: str) -> bool:
        self._counts[rel] += 1
        return self._counts[rel] <= MAX_FINDINGS_PER_FILE

    def _hide(self, rel: str, line: int, column: int, severity: Severity, count: int = 1) -> None:
        hidden, first_line, first_column, worst = self._hidden.get(rel, (0, line, column, severity))
        if severity is Severity.ERROR:
            worst = severity
        self._hidden[rel] = (hidden + count, first_line, first_column, worst)

    def _masked(self, message: str) -> str:
        for value in self._secrets:
            if value in message:
                message = message.replace(value, "****")
        return message

    def add(
        self,
        doc: Document,
        path: Iterable[str | int],
        rule: str,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        article: str | None = None,
        key: bool = False,
        server: str | None = None,
    ) -> None:
        parts = [str(p) for p in path]
        keep = self._keep(doc.rel)
        if not keep and doc.rel in self._hidden:
            self._hide(doc.rel, 0, 0, severity)
            return
        line, column = doc.locate(parts, key=key)
        if not keep:
            self._hide(doc.rel, line, column, severity)
            return
        self.findings.append(
            Finding(
                file=doc.rel,
                line=line,
                column=column,
                rule=rule,
                severity=severity,
                message=self._masked(message),
                article=article,
                pointer=pointer_from(parts),
                client=self.client,
                server=server,
            )
        )

    def at(
        self,
        rel: str,
        line: int,
        column: int,
        rule: str,
        message: str,
        server: str | None = None,
        *,
        severity: Severity = Severity.ERROR,
        article: str | None = None,
    ) -> None:
        if not self._keep(rel):
            self._hide(rel, line, column, severity)
            return
        self.findings.append(
            Finding(
                file=rel,
                line=line,
                column=column,
                rule=rule,
                severity=severity,
                message=self._masked(message),
                article=article,
                client=self.client,
                server=server,
            )
        )

    def hidden(self, doc: Document, path: list[str | int], count: int) -> None:
        """`count` more (error) findings in `doc`, the first at `path`, not worded one by one."""
        line, column = (0, 0) if doc.rel in self._hidden else doc.locate([str(p) for p in path])
        self._hide(doc.rel, line, column, Severity.ERROR, count)

    def finish(self) -> list[Finding]:
        """The findings, with one YAML008 per file that had more than the limit."""
        for rel, (count, line, column, worst) in sorted(self._hidden.items()):
            self.findings.append(
                Finding(
                    file=rel,
                    line=line,
                    column=column,
                    rule="YAML008",
                    severity=worst,
                    message=f"{count} more finding(s) in this file are not shown (at most "
                    f"{MAX_FINDINGS_PER_FILE} a file), the first here: fix the ones shown and "
                    "validate again",
                    client=self.client,
                )
            )
        self._hidden.clear()
        return self.findings


def read_document(
    root: Path, rel: str, out: Collector, server: str | None = None
) -> Document | None:
    """Read and parse one file; report YAML-level problems and return None if unusable.

    The secret scan (ACC004) runs first, on the raw text, whatever the YAML or the schema
    will say: a password in a file that does not parse is still a password in git."""
    try:
        raw = read_regular(root / rel, MAX_SCAN_BYTES)
    except OSError as exc:
        out.at(rel, 1, 1, "YAML001", f"cannot read the file: {exc.strerror or exc}", server)
        return None
    if len(raw) <= MAX_SCAN_BYTES:
        scan_secrets(rel, raw.decode("utf-8", errors="replace"), out, server)
    if len(raw) > MAX_FILE_BYTES:
        size = f"{len(raw)} bytes" if len(raw) <= MAX_SCAN_BYTES else "over 4 MiB"
        out.at(
            rel,
            1,
            1,
            "YAML004",
            f"file is {size}, over the 1 MiB limit: split it or remove what is not configuration",
            server,
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(raw, exc.start)
        out.at(
            rel,
            line,
            column,
            "YAML005",
            f"byte 0x{raw[exc.start]:02x} is not UTF-8: save the file as UTF-8",
            server,
        )
        return None
    data, problem = load(text)
    if problem is not None:
        out.at(
            rel, problem.line, problem.column, _YAML_RULES[problem.kind], problem.message, server
        )
        return None
    if not isinstance(data, dict):
        _not_a_mapping(rel, text, data, out, server)
        return None
    return Document(rel, text, data)


def scan_secrets(rel: str, text: str, out: Collector, server: str | None = None) -> None:
    """ACC004 at every secret of a file's raw text; the values are masked in every message."""
    from dagsync.rules.secrets import ARTICLE, RULE_ID, scan_text, secret_values

    for value in secret_values(rel, text):
        out.secret(value)
    for line, column, message in scan_text(rel, text):
        out.at(rel, line, column, RULE_ID, message, server, article=ARTICLE)


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of the byte at `offset` of undecodable bytes."""
    start = raw.rfind(b"\n", 0, offset) + 1
    prefix = raw[start:offset].decode("utf-8", errors="replace")
    return raw.count(b"\n", 0, offset) + 1, len(prefix) + 1


def _not_a_mapping(rel: str, text: str, data: Any, out: Collector, server: str | None) -> None:
    kind = {type(None): "empty", list: "a list", str: "a string"}.get(type(data))
    line, column = _first_content(text) if data is not None else (1, 1)
    out.at(
        rel,
        line,
        column,
        "YAML006",
        f"the document is {kind or 'a ' + type(data).__name__}, not a mapping: it must hold "
        "`key: value` fields",
        server,
    )


def _first_content(text: str) -> tuple[int, int]:
    """Where the document's content starts: the first character outside comments and blanks."""
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" \t")
        if stripped.strip() and not stripped.startswith("#") and line.strip() != "---":
            return line_column(text, offset + len(line) - len(stripped))
        offset += len(line)
    return 1, 1


def validate_model(
    model: type[M], doc: Document, out: Collector, server: str | None = None
) -> M | None:
    """The model of a document, or None with its problems reported.

    Validation is pydantic's strict JSON mode on the document's JSON form (dates as ISO text):
    exactly what the generated JSON Schemas describe, so that editors, `check-jsonschema` and
    dagsync agree. In particular no coercion: `"yes"` is not a boolean, `"22"` not a port.
    """
    try:
        return model.model_validate_json(as_json(doc.data), strict=True)
    except ValidationError as exc:
        _report_schema(model, doc, exc.errors(), out, server)
        return None


def load_policies(root: Path, out: Collector) -> Policies:
    """The CGV policies and company settings; their problems go to `out`."""
    cgv: dict[str, CgvPolicy] = {}
    for path in sorted((root / "policies" / "cgv").glob("*.yaml")):
        rel = path.relative_to(root).as_posix()
        doc = read_document(root, rel, out)
        policy = validate_model(CgvPolicy, doc, out) if doc else None
        if policy is None or doc is None:
            continue
        if path.stem != policy.version:
            out.add(
                doc,
                ["version"],
                "REP007",
                f"CGV version `{policy.version}` is in a file named {path.name}: "
                f"rename the file to {policy.version}.yaml",
            )
        cgv[policy.version] = policy
    return Policies(cgv, _load_dag(root, out))


def _load_dag(root: Path, out: Collector) -> DagSettings | None:
    rel = "policies/dag.yaml"
    if not (root / rel).is_file():
        out.at(rel, 1, 1, "REP008", f"{rel} is missing: company settings are required")
        return None
    doc = read_document(root, rel, out)
    return validate_model(DagSettings, doc, out) if doc else None


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
    client = _typed(Client, client_doc, out) if client_doc else None
    requests_doc = read_document(root, files.requests, out) if files.requests else None
    requests = _typed(Requests, requests_doc, out) if requests_doc else None
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


def _first_places(errors: list[Any], limit: int) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """pydantic's errors at the first `limit` places of the document, and the other places
    (counted, not worded: a million wrong list items must cost a count, not a million messages).
    A place is the location without a last union-branch tag (tags are no identifiers)."""
    if len(errors) <= limit:
        return errors, []
    kept: list[Any] = []
    places: dict[tuple[Any, ...], bool] = {}
    for error in errors:
        place = loc = error["loc"]
        if loc and loc[-1].__class__ is str and not loc[-1].isidentifier():
            place = loc[:-1]  # a union branch's tag
        if place not in places:
            places[place] = len(places) < limit
        if places[place]:
            kept.append(error)
    return kept, [p for p, shown in places.items() if not shown]


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


def _typed(model: type[M], doc: Document, out: Collector, server: str | None = None) -> M | None:
    """The model of `doc`, its invalid sections `Unavailable` (see `dagsync.model.partial`), or None
    if nothing of it can be typed; the schema problems go to `out`."""
    try:
        return model.model_validate_json(as_json(doc.data), strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        _report_schema(model, doc, errors, out, server)
    label = doc.rel.rsplit("/", 2)[-2:] if "/servers/" in doc.rel else doc.rel.rsplit("/", 1)[-1:]
    typed, _ = validate_sections(model, doc.data, errors, "/".join(label))
    return typed


def _report_schema(
    model: type[BaseModel], doc: Document, errors: list[Any], out: Collector, server: str | None
) -> None:
    errors, rest = _first_places(errors, MAX_FINDINGS_PER_FILE + 1)
    for problem in schema_problems(model, doc.data, errors):
        out.add(
            doc,
            problem.path,
            problem.rule,
            problem.message,
            key=problem.key,
            server=server,
            article=problem.article,
        )
    if rest:
        out.hidden(doc, list(rest[0]), len(rest))


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
        server = _typed(Server, doc, out, server=stem)
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
    from dagsync.rules.base import ClientContext, ServerEntry
    from dagsync.rules.registry import RULES
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
