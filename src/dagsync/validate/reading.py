"""Reading documents strictly into findings: the secret scan on the raw text, YAML, then the model
(pydantic's strict JSON mode); and the CGV policies and company settings read so.

The `Collector` turns each problem, at a key path or a raw position, into a located finding for
one client (or the policies): at most `MAX_FINDINGS_PER_FILE` a file, secrets masked in every
message.

The checker (`validate.checker`) runs the rules on what this reads; pydantic's errors are worded
as findings in `config/schema_errors.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dagsync.config.document import Document, read_regular
from dagsync.config.schema_errors import schema_problems
from dagsync.config.yamlio import load
from dagsync.config.yamlnesting import line_column
from dagsync.findings import Finding, Severity, pointer_from
from dagsync.model.partial import as_json, validate_sections
from dagsync.model.policy import CgvPolicy, DagSettings

MAX_FILE_BYTES = 1024 * 1024
MAX_SCAN_BYTES = 4 * MAX_FILE_BYTES  # the secret scan reads this much of an oversized file
MAX_FINDINGS_PER_FILE = 50  # the rest of a file's findings are summarised in one (YAML008)


M = TypeVar("M", bound=BaseModel)
_YAML_RULES = {
    "syntax": "YAML001",
    "value": "YAML001",
    "duplicate-key": "YAML002",
    "alias": "YAML003",
    "depth": "YAML007",
}


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
    # lazy: importing it here keeps dagsync.rules out of this module's load
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


def typed_model(
    model: type[M], doc: Document, out: Collector, server: str | None = None
) -> M | None:
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
