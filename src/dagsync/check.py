"""Checking one client: read its files strictly, validate them against the model, run rules.

This is the heavy half of validation (YAML, pydantic, rules); `validate.py` decides which
clients to check, `workers.py` runs this in worker processes and `cache.py` keeps the results.
pydantic's errors are worded as findings in `schema_errors.py`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .document import ClientFiles, ClientIndex, Document, Located
from .findings import Finding, Severity, pointer_from
from .indexing import index_client, index_client_claims, index_server
from .model import CgvPolicy, Client, DagSettings, Request, Requests, Server
from .schema_errors import schema_problems
from .yamlio import line_column, load

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
    "validate_model",
]

MAX_FILE_BYTES = 1024 * 1024
M = TypeVar("M", bound=BaseModel)
_YAML_RULES = {
    "syntax": "YAML001",
    "value": "YAML001",
    "duplicate-key": "YAML002",
    "alias": "YAML003",
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
    """Turns problems at key paths into located findings for one file."""

    def __init__(self, client: str | None) -> None:
        self.client = client
        self.findings: list[Finding] = []

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
        line, column = doc.locate(parts, key=key)
        self.findings.append(
            Finding(
                file=doc.rel,
                line=line,
                column=column,
                rule=rule,
                severity=severity,
                message=message,
                article=article,
                pointer=pointer_from(parts),
                client=self.client,
                server=server,
            )
        )

    def at(
        self, rel: str, line: int, column: int, rule: str, message: str, server: str | None = None
    ) -> None:
        self.findings.append(
            Finding(
                file=rel,
                line=line,
                column=column,
                rule=rule,
                severity=Severity.ERROR,
                message=message,
                client=self.client,
                server=server,
            )
        )


def read_document(
    root: Path, rel: str, out: Collector, server: str | None = None
) -> Document | None:
    """Read and parse one file; report YAML-level problems and return None if unusable."""
    try:
        raw = (root / rel).read_bytes()
    except OSError as exc:
        out.at(rel, 1, 1, "YAML001", f"cannot read the file: {exc.strerror or exc}", server)
        return None
    if len(raw) > MAX_FILE_BYTES:
        out.at(
            rel,
            1,
            1,
            "YAML004",
            f"file is {len(raw)} bytes, over the 1 MiB limit: split it or remove what is not "
            "configuration",
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
        for problem in schema_problems(model, doc.data, exc.errors()):
            out.add(
                doc, problem.path, problem.rule, problem.message, key=problem.key, server=server
            )
        return None


def as_json(data: Any) -> str:
    """The JSON text of loaded YAML data, as a JSON Schema validator sees it."""
    try:
        return json.dumps(data, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError):  # keys JSON has no form for (from YAML complex keys)
        return json.dumps(_string_keys(data), default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):  # dates and datetimes
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(map(str, value))
    return str(value)


def _string_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(k): _string_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_string_keys(v) for v in data]
    return data


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
    """Everything about one client: YAML, schema, and (when the model is valid) the rules."""
    out = Collector(files.client_id)
    index = ClientIndex()
    client_doc = read_document(root, files.client, out) if files.client else None
    if client_doc is not None:
        _index_client_doc(client_doc, files.client_id, out, index)
        if isinstance(client_doc.data, dict):
            index_client_claims(client_doc.rel, client_doc.data, index)
    client = validate_model(Client, client_doc, out) if client_doc else None
    requests_doc = read_document(root, files.requests, out) if files.requests else None
    requests = validate_model(Requests, requests_doc, out) if requests_doc else None
    servers = _check_servers(root, files, out, index)
    broken = (
        client is None
        or (requests is None and files.requests)
        or (len(servers) < len(files.servers))
    )
    if broken or client is None or client_doc is None:
        return ClientReport(out.findings, index)  # rules on partial data would mislead
    _run_rules(out, files, client, client_doc, requests, requests_doc, servers, policies, today)
    return ClientReport(out.findings, index)


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
) -> list[tuple[str, Server, Document]]:
    servers = []
    for rel in files.servers:
        stem = Path(rel).stem
        doc = read_document(root, rel, out, server=stem)
        if doc is None:
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
        server = validate_model(Server, doc, out, server=stem)
        if server is not None:
            servers.append((server.name, server, doc))
    return servers


def _run_rules(
    out: Collector,
    files: ClientFiles,
    client: Client,
    client_doc: Document,
    requests: Requests | None,
    requests_doc: Document | None,
    servers: list[tuple[str, Server, Document]],
    policies: Policies,
    today: dt.date,
) -> None:
    from .rules.base import ClientContext, ServerEntry
    from .rules.registry import RULES

    policy = policies.cgv.get(client.contract.cgv_version)
    if policy is None:
        known = ", ".join(sorted(policies.cgv)) or "none"
        out.add(
            client_doc,
            ["contract", "cgv_version"],
            "REP009",
            f"CGV version `{client.contract.cgv_version}` has no policies/cgv/"
            f"{client.contract.cgv_version}.yaml (known: {known})",
        )
        return
    if policies.dag is None:
        return
    by_id: dict[str, Request] = {r.id: r for r in (requests.requests if requests else [])}
    ctx = ClientContext(
        client_id=files.client_id,
        client=client,
        client_doc=client_doc,
        requests=by_id,
        requests_doc=requests_doc,
        servers=tuple(ServerEntry(n, s, d) for n, s, d in servers),
        policy=policy,
        dag=policies.dag,
        today=today,
    )
    for rule in RULES:
        for violation in rule.check(ctx):
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
