"""Documentation of the checks the loader and the repository pass make (no CGV article).

These are implemented in `dagsync.validate.reading`, `dagsync.validate.checker`,
`dagsync.validate.run`, `dagsync.validate.invariants` and `dagsync.validate.tenancy`; they are
listed here so that `dagsync rules` and SARIF describe every ID a finding can carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagsync.findings import Severity


@dataclass(frozen=True)
class StructuralRule:
    id: str
    title: str
    explanation: str
    severity: Severity = Severity.ERROR
    article: str | None = None


STRUCTURAL: tuple[StructuralRule, ...] = (
    StructuralRule(
        "YAML001",
        "YAML syntax error",
        "The file is not valid YAML 1.2; the finding points at the first error.",
    ),
    StructuralRule(
        "YAML002",
        "Duplicate key",
        "A mapping repeats a key; YAML loaders would silently keep one value.",
    ),
    StructuralRule(
        "YAML003",
        "Anchor or alias",
        "Anchors and aliases are refused: they hide values from review and allow "
        "'billion laughs' expansion bombs.",
    ),
    StructuralRule("YAML004", "File over 1 MiB", "Configuration files are limited to 1 MiB."),
    StructuralRule("YAML005", "Not UTF-8", "Configuration files are UTF-8 text."),
    StructuralRule("YAML006", "Not a mapping", "Each configuration file holds one mapping."),
    StructuralRule(
        "YAML007",
        "Nesting too deep",
        "Collections nest more than 64 levels deep; checked on the raw text before parsing "
        "(dagsync's files nest a few levels, a parser fed thousands recurses or crashes).",
    ),
    StructuralRule(
        "YAML008",
        "Too many findings in one file",
        "A file has more than 50 findings: the rest are counted in this one, at the first "
        "left out.",
    ),
    StructuralRule(
        "RUN001",
        "CGV rules not run",
        "Some CGV rules need a file or section that is invalid: they did not run for this "
        "client. The note names them and what they need; fix the findings above.",
        severity=Severity.NOTE,
    ),
    StructuralRule(
        "SCH001",
        "Unknown field",
        "A field the model does not know; usually a typo (a close match is suggested).",
    ),
    StructuralRule("SCH002", "Wrong type or value", "A value of the wrong type, or out of range."),
    StructuralRule("SCH003", "Missing field", "A required field is absent."),
    StructuralRule(
        "REP001",
        "Client id differs from its folder",
        "clients/<id>/client.yaml must declare `id: <id>`.",
    ),
    StructuralRule(
        "REP002",
        "Server name differs from its file",
        "clients/<id>/servers/<name>.yaml must declare `name: <name>`.",
    ),
    StructuralRule("REP003", "Stray file", "Every file under clients/ must be part of the layout."),
    StructuralRule(
        "REP004", "Missing client file", "Each client folder has client.yaml and requests.yaml."
    ),
    StructuralRule(
        "REP005", "Server name not unique", "Server names are unique across the repository."
    ),
    StructuralRule(
        "REP006", "OVH service name not unique", "An OVH service is declared by one server only."
    ),
    StructuralRule(
        "REP007",
        "CGV policy file misnamed",
        "policies/cgv/<version>.yaml declares `version: <version>`.",
    ),
    StructuralRule("REP008", "Company settings missing", "policies/dag.yaml is required."),
    StructuralRule(
        "REP009",
        "Unknown CGV version",
        "A contract names a CGV version with no policies/cgv/<version>.yaml.",
    ),
    StructuralRule(
        "REP010", "IP address not unique", "Each IP belongs to one server of one client."
    ),
    StructuralRule("REP011", "Client id not unique", "Client ids are unique."),
    StructuralRule(
        "REP012",
        "Domain claimed by two clients",
        "A mail domain or a vhost name (domain or alias) belongs to one client; nor may a "
        "client declare a name under another client's mail domain.",
    ),
    StructuralRule(
        "REP013",
        "Forward of another client's address",
        "An external forward's source is an address of one of the client's own mail domains.",
    ),
    StructuralRule(
        "REP014", "Database name claimed by two clients", "A database name belongs to one client."
    ),
    StructuralRule(
        "REP015",
        "Blocklist entry covering another client's server",
        "A `network.blocklist` entry covers an address of another client's server: the "
        "blocklist lands on every server of the client and, shared network-wide (the "
        "default), on every client's, before established connections are accepted. The "
        "finding names both places; the firewall renderer refuses such an entry too.",
    ),
    StructuralRule(
        "LOC001",
        "Local state tracked by git",
        "A file under .dagsync-cache/ or .dagsync-sandbox/ (dagsync's local cache and sandbox "
        "state, never reviewed nor trusted) is tracked by git: remove it with git rm --cached.",
    ),
    StructuralRule(
        "FRZ001",
        "Production change on a freeze day",
        "validate --changed-since and apply warn when a production server changes on "
        "the eve of a weekend or public holiday (CGV 6.1 advises no production "
        "release then); --on DATE asks in advance.",
        severity=Severity.WARNING,
        article="6.1",
    ),
)
