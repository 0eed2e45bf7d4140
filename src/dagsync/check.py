"""Checking one client: read its files strictly, validate them against the model, run rules.

This is the heavy half of validation (YAML, pydantic, rules); `validate.py` decides which
clients to check, runs this in worker processes and caches the results.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .document import Document
from .findings import Finding, Severity, pointer_from
from .model import CgvPolicy, Client, DagSettings, Request, Requests, Server
from .yamlio import load

MAX_FILE_BYTES = 1024 * 1024
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Located:
    """A value that must be unique across the repository, and where it is declared."""

    value: str
    file: str
    path: tuple[str | int, ...]


@dataclass
class ClientIndex:
    """What repository-wide invariants need to know about one client."""

    client_id: str | None = None
    servers: list[Located] = field(default_factory=list)
    service_names: list[Located] = field(default_factory=list)
    ips: list[Located] = field(default_factory=list)


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
                file=doc.rel, line=line, column=column, rule=rule, severity=severity,
                message=message, article=article, pointer=pointer_from(parts),
                client=self.client, server=server,
            )
        )

    def at(self, rel: str, line: int, column: int, rule: str, message: str,
           server: str | None = None) -> None:
        self.findings.append(
            Finding(file=rel, line=line, column=column, rule=rule, severity=Severity.ERROR,
                    message=message, client=self.client, server=server)
        )


def read_document(root: Path, rel: str, out: Collector, server: str | None = None) -> Document | None:
    """Read and parse one file; report YAML-level problems and return None if unusable."""
    raw = (root / rel).read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        out.at(rel, 1, 1, "YAML004",
               f"file is {len(raw)} bytes, over the 1 MiB limit: split it or remove what is not "
               "configuration", server)
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        out.at(rel, line, column, "YAML005",
               f"byte 0x{raw[exc.start]:02x} is not UTF-8: save the file as UTF-8", server)
        return None
    data, problem = load(text)
    doc = Document(rel, text, data)
    if problem is not None:
        rule = {"syntax": "YAML001", "duplicate-key": "YAML002", "alias": "YAML003"}[problem.kind]
        out.at(rel, problem.line, problem.column, rule, problem.message, server)
        return None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        out.at(rel, 1, 1, "YAML006",
               f"the document is {kind}, not a mapping: it must hold `key: value` fields", server)
        return None
    return doc


def validate_model(
    model: type[M], doc: Document, out: Collector, server: str | None = None
) -> M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for path, errors in _group_errors(doc.data, exc.errors()):
            _report_schema_error(model, doc, path, errors, out, server)
        return None


def _group_errors(data: Any, errors: list[Any]) -> Iterator[tuple[tuple[str | int, ...], list[Any]]]:
    grouped: dict[tuple[str | int, ...], list[Any]] = {}
    for error in errors:
        grouped.setdefault(_real_path(data, error["loc"], error["type"]), []).append(error)
    yield from grouped.items()


def _real_path(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[str | int, ...]:
    """Drop pydantic's union-branch tags from a location, keeping real keys and indexes."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif last and kind in ("missing", "extra_forbidden") and isinstance(part, str):
            path.append(part)
        elif not isinstance(node, dict | list):
            break
    return tuple(path)


def _report_schema_error(
    model: type[BaseModel], doc: Document, path: tuple[str | int, ...], errors: list[Any],
    out: Collector, server: str | None,
) -> None:
    kind = errors[0]["type"]
    where = ".".join(str(p) for p in path) or "document"
    if kind == "extra_forbidden":
        name = str(path[-1])
        hint = _suggest(model, path, name)
        out.add(doc, path, "SCH001", f"unknown field `{name}`{hint}", key=True, server=server)
    elif kind == "missing":
        out.add(doc, path[:-1], "SCH003",
                f"missing required field `{path[-1]}` in {'.'.join(map(str, path[:-1])) or 'document'}",
                key=True, server=server)
    else:
        given = errors[0].get("input")
        expected = "; or ".join(dict.fromkeys(_expected(e) for e in errors))
        out.add(doc, path, "SCH002",
                f"`{where}`: {expected} (got {_show(given)})", server=server)


def _expected(error: Any) -> str:
    msg = str(error["msg"])
    return msg[0].lower() + msg[1:] if msg else msg


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    if isinstance(value, dict | list):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(model: type[BaseModel], path: tuple[str | int, ...], name: str) -> str:
    allowed = _fields_at(model.model_json_schema(), path[:-1])
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f": did you mean `{close[0]}`?"
    if allowed:
        return f": expected one of {', '.join(f'`{a}`' for a in sorted(allowed))}"
    return ""


def _fields_at(schema: dict[str, Any], path: tuple[str | int, ...]) -> list[str]:
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while True:
            if "$ref" in node:
                node = defs[node["$ref"].rsplit("/", 1)[-1]]
            elif "anyOf" in node:
                branches = [resolve(b) for b in node["anyOf"]]
                node = next((b for b in branches if "properties" in b or "items" in b), branches[0])
            else:
                return node

    node = resolve(schema)
    for part in path:
        if isinstance(part, int):
            node = resolve(node.get("items", {}))
        else:
            node = resolve(node.get("properties", {}).get(part, {}))
    return list(node.get("properties", {}))


def load_policies(root: Path, out: Collector) -> Policies:
    cgv: dict[str, CgvPolicy] = {}
    for path in sorted((root / "policies" / "cgv").glob("*.yaml")):
        rel = path.relative_to(root).as_posix()
        doc = read_document(root, rel, out)
        policy = validate_model(CgvPolicy, doc, out) if doc else None
        if policy is not None:
            if path.stem != policy.version:
                out.add(doc, ["version"], "REP007",  # type: ignore[arg-type]
                        f"CGV version `{policy.version}` is in a file named {path.name}: "
                        f"rename the file to {policy.version}.yaml")
            cgv[policy.version] = policy
    dag_doc = read_document(root, "policies/dag.yaml", out) if (root / "policies/dag.yaml").is_file() else None
    if dag_doc is None and not (root / "policies/dag.yaml").is_file():
        out.at("policies/dag.yaml", 1, 1, "REP008",
               "policies/dag.yaml is missing: company settings are required")
    dag = validate_model(DagSettings, dag_doc, out) if dag_doc else None
    return Policies(cgv, dag)


@dataclass(frozen=True)
class ClientFiles:
    client_id: str
    client: str | None
    requests: str | None
    servers: tuple[str, ...]


def check_client(
    root: Path, files: ClientFiles, policies: Policies, today: dt.date
) -> ClientReport:
    """Everything about one client: YAML, schema, and (when the model is valid) the rules."""
    out = Collector(files.client_id)
    index = ClientIndex()
    client_doc = read_document(root, files.client, out) if files.client else None
    client = validate_model(Client, client_doc, out) if client_doc else None
    if client is not None and client_doc is not None:
        index.client_id = client.id
        if client.id != files.client_id:
            out.add(client_doc, ["id"], "REP001",
                    f"client id `{client.id}` differs from its folder clients/{files.client_id}/: "
                    "make them equal")
    requests_doc = read_document(root, files.requests, out) if files.requests else None
    requests = validate_model(Requests, requests_doc, out) if requests_doc else None
    servers = _check_servers(root, files, out, index)
    if client is None or client_doc is None or requests is None and files.requests:
        return ClientReport(out.findings, index)
    _run_rules(out, files, client, client_doc, requests, requests_doc, servers, policies, today)
    return ClientReport(out.findings, index)


def _check_servers(
    root: Path, files: ClientFiles, out: Collector, index: ClientIndex
) -> list[tuple[str, Server, Document]]:
    servers = []
    for rel in files.servers:
        stem = Path(rel).stem
        doc = read_document(root, rel, out, server=stem)
        server = validate_model(Server, doc, out, server=stem) if doc else None
        if server is None or doc is None:
            continue
        if server.name != stem:
            out.add(doc, ["name"], "REP002",
                    f"server `{server.name}` is in a file named {Path(rel).name}: rename the file "
                    f"to {server.name}.yaml or fix `name`", server=stem)
        index.servers.append(Located(server.name, rel, ("name",)))
        index.service_names.append(Located(server.ovh.service_name, rel, ("ovh", "service_name")))
        for i, ip in enumerate(server.ips):
            index.ips.append(Located(str(ip), rel, ("ips", i)))
        servers.append((server.name, server, doc))
    return servers


def _run_rules(
    out: Collector, files: ClientFiles, client: Client, client_doc: Document,
    requests: Requests | None, requests_doc: Document | None,
    servers: list[tuple[str, Server, Document]], policies: Policies, today: dt.date,
) -> None:
    from .rules.base import ClientContext, ServerEntry
    from .rules.registry import RULES

    policy = policies.cgv.get(client.contract.cgv_version)
    if policy is None:
        known = ", ".join(sorted(policies.cgv)) or "none"
        out.add(client_doc, ["contract", "cgv_version"], "REP009",
                f"CGV version `{client.contract.cgv_version}` has no policies/cgv/"
                f"{client.contract.cgv_version}.yaml (known: {known})")
        return
    if policies.dag is None:
        return
    by_id: dict[str, Request] = {r.id: r for r in (requests.requests if requests else [])}
    ctx = ClientContext(
        client_id=files.client_id, client=client, client_doc=client_doc, requests=by_id,
        requests_doc=requests_doc,
        servers=tuple(ServerEntry(n, s, d) for n, s, d in servers),
        policy=policy, dag=policies.dag, today=today,
    )
    for rule in RULES:
        for violation in rule.check(ctx):
            out.add(violation.doc, violation.path, rule.id, violation.message,
                    severity=rule.severity, article=rule.article, key=violation.key,
                    server=violation.server)


def index_client(root: Path, files: ClientFiles) -> ClientIndex:
    """The repository-wide identifiers of a client that is not being validated (fast, lenient)."""
    index = ClientIndex()
    if files.client:
        data, _ = load((root / files.client).read_text(errors="replace"))
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            index.client_id = data["id"]
    for rel in files.servers:
        data, _ = load((root / rel).read_text(errors="replace"))
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("name"), str):
            index.servers.append(Located(data["name"], rel, ("name",)))
        ovh = data.get("ovh")
        if isinstance(ovh, dict) and isinstance(ovh.get("service_name"), str):
            index.service_names.append(Located(ovh["service_name"], rel, ("ovh", "service_name")))
        ips = data.get("ips")
        for i, ip in enumerate(ips if isinstance(ips, list) else []):
            index.ips.append(Located(str(ip), rel, ("ips", i)))
    return index
