"""The findings reporters' whole output, as literals, for crafted findings: text (plain and in
colour, excerpts, carets, long lines, masked credentials, the summary), JSON, SARIF (results
and rule descriptors) and GitHub annotations, plus the internal-error line. Written to kill
the mutants that survived in `bench/mutation.py report` (a word, a colour, a bound, a key
changed); each expected value is written out, never read from the code under test."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagsync import __version__, findings
from dagsync.findings import Finding, Result, Severity
from dagsync.validate.report import (
    FORMATS,
    _camel,
    all_findings,
    internal_error,
    render_github,
    render_json,
    render_sarif,
    render_text,
    rule_descriptors,
    use_colour,
)

PROJECT = Path(__file__).parents[1]
WEB1 = "clients/alpine-books/servers/web1.yaml"
WEB1_YAML = "name: web1\nrole: prod\nbackup:\n  password: Zq8-vLm3-Rt7w\n  retention_days: 70\n"  # dagsync: allow-secret
ROLE = Finding(
    WEB1, 2, 7, "SCH002", Severity.ERROR, "bad role", None, "/role", "alpine-books", "web1"
)
PASSWORD = Finding(
    WEB1,
    4,
    13,
    "SEC002",
    Severity.ERROR,
    "a password in clear",
    "8.2",
    "/backup/password",
    "alpine-books",
    "web1",
)
RETENTION = Finding(
    WEB1,
    5,
    19,
    "BKP003",
    Severity.WARNING,
    "retention too long",
    "7.3",
    "/backup/retention_days",
    "alpine-books",
    "web1",
    (("clients/alpine-books/client.yaml", 3, 1), ("clients/cime-conseil/client.yaml", 9, 4)),
)
NOT_RUN = Finding(WEB1, 1, 1, "RUN001", Severity.NOTE, "rules did not run", client="alpine-books")
FOUR = Result((ROLE, PASSWORD, RETENTION, NOT_RUN), 3, 2, ("alpine-books", "cime-conseil"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / WEB1).parent.mkdir(parents=True)
    (tmp_path / WEB1).write_text(WEB1_YAML)
    return tmp_path


def one(finding: Finding) -> Result:
    return Result((finding,), 1, 1)


# --- colour ------------------------------------------------------------------------------------


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({"TERM": "xterm"}, True, True),
        ({"TERM": "xterm"}, False, False),
        ({}, True, True),
        ({"TERM": "xterm", "NO_COLOR": "1"}, True, False),
        ({"TERM": "dumb"}, True, False),
        ({"TERM": "xterm", "NO_COLOR": ""}, True, True),  # no-color.org: set and not empty
    ],
)
def test_colour_only_on_a_terminal_without_no_color_nor_a_dumb_term(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], tty: bool, expected: bool
) -> None:
    for name in ("TERM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert use_colour(Stream(tty)) is expected


def test_no_colour_on_a_stream_without_isatty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(object()) is False  # type: ignore[arg-type]


# --- text --------------------------------------------------------------------------------------

TEXT = """\
clients/alpine-books/servers/web1.yaml
  2:7: error SCH002 bad role
     2 | role: prod
               ^
  4:13: error SEC002 a password in clear [CGV Art. 8.2]
     4 |   password: ****
                     ^
  5:19: warning BKP003 retention too long [CGV Art. 7.3]
     5 |   retention_days: 70
                           ^
      also at clients/alpine-books/client.yaml:3:1
      also at clients/cime-conseil/client.yaml:9:4
  1:1: note RUN001 rules did not run

failed: 2 client(s) (alpine-books, cime-conseil), 3 file(s): 2 error(s), 1 warning(s), \
1 note(s); 1 client(s) with errors
"""

RED, GREEN, YELLOW, CYAN, BOLD, DIM, RESET = (f"\033[{n}m" for n in (31, 32, 33, 36, 1, 2, 0))
COLOUR = (
    f"{BOLD}clients/alpine-books/servers/web1.yaml{RESET}\n"
    f"  2:7: {RED}error{RESET} {CYAN}SCH002{RESET} bad role\n"
    f"{DIM}     2 | {RESET}role: prod\n"
    f"               {RED}^{RESET}\n"
    f"  4:13: {RED}error{RESET} {CYAN}SEC002{RESET} a password in clear {DIM}[CGV Art. 8.2]{RESET}\n"
    f"{DIM}     4 | {RESET}  password: ****\n"
    f"                     {RED}^{RESET}\n"
    f"  5:19: {YELLOW}warning{RESET} {CYAN}BKP003{RESET} retention too long "
    f"{DIM}[CGV Art. 7.3]{RESET}\n"
    f"{DIM}     5 | {RESET}  retention_days: 70\n"
    f"                           {YELLOW}^{RESET}\n"
    f"{DIM}      also at clients/alpine-books/client.yaml:3:1{RESET}\n"
    f"{DIM}      also at clients/cime-conseil/client.yaml:9:4{RESET}\n"
    f"  1:1: {CYAN}note{RESET} {CYAN}RUN001{RESET} rules did not run\n"
    "\n"
    f"{RED}failed{RESET}: 2 client(s) (alpine-books, cime-conseil), 3 file(s): 2 error(s), "
    "1 warning(s), 1 note(s); 1 client(s) with errors\n"
)


def test_text_shows_each_finding_with_its_excerpt_caret_and_related_places(root: Path) -> None:
    assert render_text(FOUR, root) == TEXT


def test_text_in_colour_paints_severity_rule_article_gutter_and_caret(root: Path) -> None:
    assert render_text(FOUR, root, colour=True) == COLOUR


def test_text_starts_a_heading_for_each_file_in_turn(root: Path) -> None:
    other = Finding("clients/alpine-books/client.yaml", 1, 1, "SCH003", Severity.ERROR, "missing")
    out = render_text(Result((other, ROLE), 2, 1), root)
    assert out == (
        "clients/alpine-books/client.yaml\n"
        "  1:1: error SCH003 missing\n"
        "\n"
        "clients/alpine-books/servers/web1.yaml\n"
        "  2:7: error SCH002 bad role\n"
        "     2 | role: prod\n"
        "               ^\n"
        "\n"
        "failed: 1 client(s), 2 file(s): 2 error(s), 0 warning(s); 1 client(s) with errors\n"
    )


def test_clean_summary_is_green_and_lists_no_notes() -> None:
    assert render_text(Result((), 5, 2, ("a", "b")), Path("/nonexistent")) == (
        "clean: 2 client(s) (a, b), 5 file(s): 0 error(s), 0 warning(s); 0 client(s) with errors\n"
    )
    coloured = render_text(Result((), 5, 2), Path("/nonexistent"), colour=True)
    assert coloured == (
        f"{GREEN}clean{RESET}: 2 client(s), 5 file(s): 0 error(s), 0 warning(s); "
        "0 client(s) with errors\n"
    )


def test_a_warning_alone_leaves_the_run_clean(root: Path) -> None:
    warning = Finding(WEB1, 2, 1, "ADV001", Severity.WARNING, "advice", client="alpine-books")
    assert render_text(one(warning), root).splitlines()[-1] == (
        "clean: 1 client(s), 1 file(s): 0 error(s), 1 warning(s); 0 client(s) with errors"
    )


def test_summary_names_up_to_ten_covered_clients() -> None:
    ten = tuple(f"c{n}" for n in range(10))
    assert render_text(Result((), 10, 10, ten), Path("/nonexistent")) == (
        "clean: 10 client(s) (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9), 10 file(s): 0 error(s), "
        "0 warning(s); 0 client(s) with errors\n"
    )
    eleven = (*ten, "c10")
    assert render_text(Result((), 11, 11, eleven), Path("/nonexistent")) == (
        "clean: 11 client(s), 11 file(s): 0 error(s), 0 warning(s); 0 client(s) with errors\n"
    )


@pytest.mark.parametrize("line", [0, 6])
def test_no_excerpt_for_a_line_outside_the_file(root: Path, line: int) -> None:
    finding = Finding(WEB1, line, 1, "YAML001", Severity.ERROR, "odd")
    assert render_text(one(finding), root).splitlines()[1:3] == [
        f"  {line}:1: error YAML001 odd",
        "",
    ]


def test_excerpt_of_the_last_line_of_the_file(root: Path) -> None:
    finding = Finding(WEB1, 5, 3, "SCH001", Severity.ERROR, "unknown")
    assert render_text(one(finding), root).splitlines()[1:4] == [
        "  5:3: error SCH001 unknown",
        "     5 |   retention_days: 70",
        "           ^",
    ]


def test_no_excerpt_for_a_note_nor_for_a_missing_file(root: Path) -> None:
    note = Finding(WEB1, 2, 1, "RUN001", Severity.NOTE, "not run")
    missing = Finding("clients/x/client.yaml", 1, 1, "SCH003", Severity.ERROR, "missing")
    assert render_text(one(note), root).splitlines()[:3] == [WEB1, "  2:1: note RUN001 not run", ""]
    assert render_text(one(missing), root).splitlines()[:3] == [
        "clients/x/client.yaml",
        "  1:1: error SCH003 missing",
        "",
    ]


def test_no_excerpt_through_a_symbolic_link(root: Path) -> None:
    (root / "link.yaml").symlink_to(root / WEB1)
    finding = Finding("link.yaml", 2, 1, "SCH002", Severity.ERROR, "bad")
    assert render_text(one(finding), root).splitlines()[:3] == [
        "link.yaml",
        "  2:1: error SCH002 bad",
        "",
    ]


def test_excerpt_of_a_file_that_is_not_utf8_replaces_the_bad_bytes(root: Path) -> None:
    (root / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    finding = Finding("latin1.yaml", 1, 7, "YAML005", Severity.ERROR, "not UTF-8")
    assert render_text(one(finding), root).splitlines()[2:4] == [
        "     1 | name: caf\ufffd",
        "               ^",
    ]


# A 300-character line: "k: " then the alphabet over and over.
LONG = "k: " + "".join(chr(ord("a") + i % 26) for i in range(297))
GUTTER = "     1 | "


@pytest.mark.parametrize(
    ("column", "shown", "caret"),
    [
        (5, LONG[:120] + "…", 4),  # near the start: cut at the end only
        (61, LONG[:120] + "…", 60),  # the last column still shown from the start
        (62, "…" + LONG[1:121] + "…", 61),  # one further: the window moves by one
        (150, "…" + LONG[89:209] + "…", 61),  # the middle: the column stays centred
        (240, "…" + LONG[179:299] + "…", 61),
        (241, "…" + LONG[180:300], 61),  # the window reaches the end: no tail
        (290, "…" + LONG[180:300], 110),
    ],
)
def test_a_long_line_is_shown_as_120_characters_around_the_column(
    tmp_path: Path, column: int, shown: str, caret: int
) -> None:
    (tmp_path / "f.yaml").write_text(LONG + "\n")
    out = render_text(one(Finding("f.yaml", 1, column, "YAML004", Severity.ERROR, "x")), tmp_path)
    assert out.splitlines()[2:4] == [GUTTER + shown, " " * (len(GUTTER) + caret) + "^"]


def test_a_line_of_120_characters_is_shown_whole_and_121_is_cut(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(LONG[:120] + "\n" + LONG[:121] + "\n")
    at_120 = Finding("f.yaml", 1, 120, "YAML004", Severity.ERROR, "x")
    at_121 = Finding("f.yaml", 2, 120, "YAML004", Severity.ERROR, "x")
    lines = render_text(Result((at_120, at_121), 1, 1), tmp_path).splitlines()
    assert lines[2:4] == [GUTTER + LONG[:120], " " * (len(GUTTER) + 119) + "^"]
    assert lines[5:7] == ["     2 | " + "…" + LONG[1:121], " " * (len(GUTTER) + 119) + "^"]


CERT_YAML = "tls:\n  cert: plainvalue\n  name: plainvalue\n  note: {password: abc123xyz, port: 22}\n"  # dagsync: allow-secret


@pytest.mark.parametrize(
    ("finding", "excerpt", "caret"),
    [
        # a key that may hold a credential: its value is masked even if it looks harmless
        (
            Finding("g.yaml", 2, 9, "SCH002", Severity.ERROR, "wrong", pointer="/tls/cert"),
            "     2 |   cert: ****",
            "                 ^",
        ),
        # the whole line when the finding is at its first column
        (
            Finding("g.yaml", 2, 1, "SCH002", Severity.ERROR, "wrong", pointer="/tls/cert"),
            "     2 | ****",
            "         ^",
        ),
        # a message that hides the value: the source hides it too
        (
            Finding(
                "g.yaml",
                3,
                9,
                "SCH002",
                Severity.ERROR,
                "got a string of 10 character(s), not shown: it may be a credential",
                pointer="/tls/name",
            ),
            "     3 |   name: ****",
            "                 ^",
        ),
        # neither: the value is shown
        (
            Finding("g.yaml", 3, 9, "SCH002", Severity.ERROR, "wrong", pointer="/tls/name"),
            "     3 |   name: plainvalue",
            "                 ^",
        ),
        # a secret masked before the column: the caret moves with the shorter text
        (
            Finding("g.yaml", 4, 38, "SCH002", Severity.ERROR, "port", pointer="/tls/note/port"),
            "     4 |   note: {password: ****, port: 22}",
            "                                         ^",
        ),
    ],
)
def test_excerpts_never_show_a_credential_and_the_caret_follows_the_mask(
    tmp_path: Path, finding: Finding, excerpt: str, caret: str
) -> None:
    (tmp_path / "g.yaml").write_text(CERT_YAML)
    assert render_text(one(finding), tmp_path).splitlines()[2:4] == [excerpt, caret]


# --- JSON --------------------------------------------------------------------------------------


def test_json_is_the_whole_contract_with_every_field_of_every_finding() -> None:
    doc = json.loads(render_json(FOUR))
    assert doc == {
        "version": 1,
        "findings": [
            {
                "rule": "SCH002",
                "severity": "error",
                "article": None,
                "file": WEB1,
                "line": 2,
                "column": 7,
                "pointer": "/role",
                "message": "bad role",
                "client": "alpine-books",
                "server": "web1",
                "related": [],
            },
            {
                "rule": "SEC002",
                "severity": "error",
                "article": "8.2",
                "file": WEB1,
                "line": 4,
                "column": 13,
                "pointer": "/backup/password",
                "message": "a password in clear",
                "client": "alpine-books",
                "server": "web1",
                "related": [],
            },
            {
                "rule": "BKP003",
                "severity": "warning",
                "article": "7.3",
                "file": WEB1,
                "line": 5,
                "column": 19,
                "pointer": "/backup/retention_days",
                "message": "retention too long",
                "client": "alpine-books",
                "server": "web1",
                "related": [
                    {"file": "clients/alpine-books/client.yaml", "line": 3, "column": 1},
                    {"file": "clients/cime-conseil/client.yaml", "line": 9, "column": 4},
                ],
            },
            {
                "rule": "RUN001",
                "severity": "note",
                "article": None,
                "file": WEB1,
                "line": 1,
                "column": 1,
                "pointer": "",
                "message": "rules did not run",
                "client": "alpine-books",
                "server": None,
                "related": [],
            },
        ],
        "summary": {
            "files": 3,
            "clients": 2,
            "errors": 2,
            "warnings": 1,
            "notes": 1,
            "failed_clients": 1,
        },
        "covered_clients": ["alpine-books", "cime-conseil"],
    }


def test_json_text_is_indented_utf8_and_ends_with_a_newline() -> None:
    finding = Finding("clients/é/client.yaml", 1, 2, "SCH001", Severity.ERROR, "clé inconnue")
    assert render_json(Result((finding,), 1, 1)) == (
        "{\n"
        '  "version": 1,\n'
        '  "findings": [\n'
        "    {\n"
        '      "rule": "SCH001",\n'
        '      "severity": "error",\n'
        '      "article": null,\n'
        '      "file": "clients/é/client.yaml",\n'
        '      "line": 1,\n'
        '      "column": 2,\n'
        '      "pointer": "",\n'
        '      "message": "clé inconnue",\n'
        '      "client": null,\n'
        '      "server": null,\n'
        '      "related": []\n'
        "    }\n"
        "  ],\n"
        '  "summary": {\n'
        '    "files": 1,\n'
        '    "clients": 1,\n'
        '    "errors": 1,\n'
        '    "warnings": 0,\n'
        '    "notes": 0,\n'
        '    "failed_clients": 0\n'
        "  },\n"
        '  "covered_clients": []\n'
        "}\n"
    )


# --- SARIF -------------------------------------------------------------------------------------


def test_sarif_result_carries_every_field_of_the_finding() -> None:
    doc = json.loads(render_sarif(Result((RETENTION, ROLE, NOT_RUN), 1, 1)))
    assert list(doc) == ["$schema", "version", "runs"]
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    assert list(run) == ["tool", "columnKind", "results"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["informationUri"]) == (
        "dagsync",
        __version__,
        "https://github.com/dag-technologies/dagsync",
    )
    assert run["columnKind"] == "unicodeCodePoints"
    retention, role, not_run = run["results"]
    rules = driver["rules"]
    assert [rules[r["ruleIndex"]]["id"] for r in run["results"]] == ["BKP003", "SCH002", "RUN001"]
    assert {k: v for k, v in retention.items() if k != "ruleIndex"} == {
        "ruleId": "BKP003",
        "level": "warning",
        "message": {"text": "retention too long (CGV Art. 7.3)"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": WEB1},
                    "region": {"startLine": 5, "startColumn": 19},
                }
            }
        ],
        "partialFingerprints": {"dagsyncFinding/v1": RETENTION.fingerprint},
        "properties": {
            "pointer": "/backup/retention_days",
            "client": "alpine-books",
            "server": "web1",
        },
        "relatedLocations": [
            {
                "id": 1,
                "physicalLocation": {
                    "artifactLocation": {"uri": "clients/alpine-books/client.yaml"},
                    "region": {"startLine": 3, "startColumn": 1},
                },
            },
            {
                "id": 2,
                "physicalLocation": {
                    "artifactLocation": {"uri": "clients/cime-conseil/client.yaml"},
                    "region": {"startLine": 9, "startColumn": 4},
                },
            },
        ],
    }
    assert (role["level"], role["message"], "relatedLocations" in role) == (
        "error",
        {"text": "bad role"},
        False,
    )
    assert (not_run["level"], not_run["properties"]) == (
        "note",
        {"pointer": "", "client": "alpine-books", "server": None},
    )


def test_sarif_rule_index_points_at_the_descriptor_of_the_rule() -> None:
    doc = json.loads(render_sarif(Result((ROLE,), 1, 1)))
    [run] = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert rules[0]["id"] == "YAML001"  # the structural rules come first, in their order
    index = run["results"][0]["ruleIndex"]
    assert rules[index]["id"] == "SCH002"
    assert [d["id"] for d in rules].index("SCH002") == index


YAML001 = {
    "id": "YAML001",
    "name": "YAMLSyntaxError",
    "shortDescription": {"text": "YAML syntax error"},
    "fullDescription": {
        "text": "The file is not valid YAML 1.2; the finding points at the first error."
    },
    "help": {
        "text": "The file is not valid YAML 1.2; the finding points at the first error.",
        "markdown": "**YAML syntax error**: The file is not valid YAML 1.2; the finding points "
        "at the first error.",
    },
    "helpUri": "https://github.com/dag-technologies/dagsync/blob/main/docs/rules.md#rule-catalogue",
    "defaultConfiguration": {"level": "error"},
    "properties": {"tags": ["structure"]},
}

BKP002_TITLE = "Backups start inside the night window unless the client asked otherwise"
BKP002_FIX = "Start the backup inside the window, or cite the client's request in `backup.request`."
BKP002_QUOTE = (
    "« Périodicité : Journalière (entre 1h et 6h du matin, hors demande spécifique du client) "
    "» (CGV Art. 4)"
)
SEC001_QUOTE = (
    "« Firewall avec autorisation d'ouverture de ports sur mesure en adéquation avec les "
    "besoins de connexion externe du client » (CGV Art. 4)"
)


def descriptor(rule: str, descriptors: list[dict[str, object]]) -> dict[str, object]:
    [found] = [d for d in descriptors if d["id"] == rule]
    return found


def test_structural_rule_descriptor_is_whole() -> None:
    assert descriptor("YAML001", rule_descriptors()) == YAML001


def test_warning_structural_rule_descriptor_has_the_warning_level() -> None:
    assert descriptor("FRZ001", rule_descriptors())["defaultConfiguration"] == {"level": "warning"}
    assert descriptor("RUN001", rule_descriptors())["defaultConfiguration"] == {"level": "note"}


def test_cgv_rule_descriptor_quotes_the_latest_policy_of_the_repository(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PROJECT)
    bkp002 = descriptor("BKP002", rule_descriptors())
    full = bkp002.pop("fullDescription")
    assert bkp002 == {
        "id": "BKP002",
        "name": "BackupsStartInsideTheNightWindowUnlessTheClientAskedOtherwise",
        "shortDescription": {"text": BKP002_TITLE},
        "help": {
            "text": f"{BKP002_QUOTE}\nFix: {BKP002_FIX}",
            "markdown": f"> {BKP002_QUOTE}\n\n**Fix**: {BKP002_FIX}",
        },
        "helpUri": "https://github.com/dag-technologies/dagsync/blob/main/docs/rules.md#bkp002",
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["cgv", "article-4"], "article": "4"},
    }
    assert isinstance(full, dict) and list(full) == ["text"]
    assert full["text"].startswith(f"{BKP002_TITLE}.\n\nWhat it checks:\n")
    assert full["text"].endswith(f"Fix:\n    {BKP002_FIX}")


def test_cgv_rule_descriptor_outside_a_repository_cites_the_article_or_the_rules_clause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no policies/cgv here: no policy terms to quote
    descriptors = rule_descriptors()
    assert descriptor("BKP002", descriptors)["help"] == {
        "text": f"CGV Art. 4\nFix: {BKP002_FIX}",
        "markdown": f"> CGV Art. 4\n\n**Fix**: {BKP002_FIX}",
    }
    assert descriptor("SEC001", descriptors)["help"] == {  # its clause is its own
        "text": f"{SEC001_QUOTE}\nFix: Write who connects, from where, and for what.",
        "markdown": f"> {SEC001_QUOTE}\n\n**Fix**: Write who connects, from where, and for what.",
    }


def test_extra_rule_ids_get_a_bare_descriptor_once_and_in_order() -> None:
    descriptors = rule_descriptors(["ZZZ999", "BKP002", "AAA001", "ZZZ999"])
    assert descriptors[-2:] == [
        {"id": "AAA001", "shortDescription": {"text": "AAA001"}},
        {"id": "ZZZ999", "shortDescription": {"text": "ZZZ999"}},
    ]
    assert [d["id"] for d in descriptors].count("BKP002") == 1
    assert len(descriptors) == len(rule_descriptors()) + 2


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("YAML syntax error", "YAMLSyntaxError"),
        ("Client id differs from its folder", "ClientIdDiffersFromItsFolder"),
        ("File over 1 MiB", "FileOver1MiB"),
        ("Forward of another client's address", "ForwardOfAnotherClientSAddress"),
        ("a", "A"),
        ("-- ! --", "Rule"),
        ("", "Rule"),
    ],
)
def test_descriptor_name_is_the_title_in_camel_case(title: str, name: str) -> None:
    assert _camel(title) == name


# --- GitHub ------------------------------------------------------------------------------------


def test_github_annotations_whole_output() -> None:
    assert render_github(FOUR) == (
        f"::error file={WEB1},line=2,col=7,title=SCH002::bad role\n"
        f"::error file={WEB1},line=4,col=13,title=SEC002 (CGV Art. 8.2)::a password in clear\n"
        f"::warning file={WEB1},line=5,col=19,title=BKP003 (CGV Art. 7.3)::retention too long"
        " (also at clients/alpine-books/client.yaml:3:1)"
        " (also at clients/cime-conseil/client.yaml:9:4)\n"
        f"::notice file={WEB1},line=1,col=1,title=RUN001::rules did not run\n"
        "dagsync: 2 client(s), 3 file(s): 2 error(s), 1 warning(s), 1 note(s); "
        "1 client(s) with errors\n"
    )


def test_github_escapes_percent_and_line_breaks_everywhere_colon_and_comma_in_properties() -> None:
    finding = Finding(
        "a%b\r\n:,.yaml", 1, 2, "SCH001", Severity.ERROR, "100% sure:\r\nyes, really", "1:2,3"
    )
    assert render_github(Result((finding,), 0, 0)).splitlines()[0] == (
        "::error file=a%25b%0D%0A%3A%2C.yaml,line=1,col=2,title=SCH001 (CGV Art. 1%3A2%2C3)"
        "::100%25 sure:%0D%0Ayes, really"
    )


def test_github_summary_of_a_clean_run() -> None:
    assert render_github(Result((), 4, 2)) == (
        "dagsync: 2 client(s), 4 file(s): 0 error(s), 0 warning(s), 0 note(s); "
        "0 client(s) with errors\n"
    )


# --- the rest of the module --------------------------------------------------------------------


def test_formats_by_name() -> None:
    assert {"json": render_json, "sarif": render_sarif, "github": render_github} == FORMATS


def test_all_findings_of_several_results_in_order() -> None:
    assert all_findings([Result((ROLE, PASSWORD), 1, 1), Result((), 0, 0), one(NOT_RUN)]) == [
        ROLE,
        PASSWORD,
        NOT_RUN,
    ]


def _raised(fn: object, *args: object) -> BaseException:
    try:
        fn(*args)  # type: ignore[operator]
    except Exception as exc:
        assert exc.__traceback__ is not None
        return exc.with_traceback(exc.__traceback__.tb_next)  # without this test's frame
    raise AssertionError("no exception")


def test_internal_error_names_the_type_and_the_last_place_in_dagsync_never_the_message() -> None:
    exc = _raised(Finding.from_json, {"rule": "X", "severity": "secret-value"})
    source = Path(findings.__file__).read_text().splitlines()
    [line] = [n for n, text in enumerate(source, 1) if 'Severity(data["severity"])' in text]
    assert internal_error(exc) == (
        f"internal error while validating (ValueError at findings.py:{line}): no report was "
        "written; this is a bug in dagsync, please report it with the files being validated"
    )
    assert "secret-value" not in internal_error(exc)


def test_internal_error_without_a_place_in_dagsync() -> None:
    outside = _raised(exec, compile("raise KeyError('secret-value')", "/elsewhere/x.py", "exec"))
    expected = (
        "internal error while validating (KeyError): no report was written; this is a bug in "
        "dagsync, please report it with the files being validated"
    )
    assert internal_error(outside) == expected
    assert internal_error(RuntimeError("secret-value")) == expected.replace(
        "KeyError", "RuntimeError"
    )


# --- second pass: the survivors of the first run with the tests above ---------------------------


def test_excerpts_come_from_the_first_4_mib_of_a_file_only(tmp_path: Path) -> None:
    first = "#" + "a" * (4 * 1024 * 1024) + "\n"  # 4 MiB + 2 bytes: line 2 starts past the limit
    (tmp_path / "big.yaml").write_text(first + "b: c\n")
    (tmp_path / "small.yaml").write_text(first[10:] + "b: c\n")  # 4 MiB - 4 bytes in all
    past = Finding("big.yaml", 2, 1, "YAML004", Severity.ERROR, "big")
    within = Finding("small.yaml", 2, 1, "YAML004", Severity.ERROR, "big")
    assert render_text(Result((past, within), 2, 0), tmp_path).splitlines()[:8] == [
        "big.yaml",
        "  2:1: error YAML004 big",
        "",
        "small.yaml",
        "  2:1: error YAML004 big",
        "     2 | b: c",
        "         ^",
        "",
    ]


def test_excerpt_shows_the_line_as_written_up_to_its_last_character(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text("name: web1  \nmotto: XX\n")
    spaces = Finding("f.yaml", 1, 7, "SCH002", Severity.ERROR, "trailing")
    letters = Finding("f.yaml", 2, 8, "SCH002", Severity.ERROR, "letters")
    assert render_text(Result((spaces, letters), 1, 0), tmp_path).splitlines()[2:7] == [
        "     1 | name: web1  ",
        "               ^",
        "  2:8: error SCH002 letters",
        "     2 | motto: XX",
        "                ^",
    ]


def test_python_excerpt_masks_only_quoted_secrets_and_the_caret_follows(tmp_path: Path) -> None:
    # In a Python file an unquoted value is code (`settings.OVH_KEY`), not a secret.
    (tmp_path / "deploy.py").write_text(
        'api_key = settings.OVH_KEY; token = "Zq8vLm3Rt7wKxQ"; port = 22\n'  # dagsync: allow-secret
    )
    finding = Finding("deploy.py", 1, 55, "SEC010", Severity.ERROR, "here")
    assert render_text(one(finding), tmp_path).splitlines()[2:4] == [
        "     1 | api_key = settings.OVH_KEY; token = ****; port = 22",
        " " * (9 + 42) + "^",  # the gutter, then `port` 12 characters left of column 55
    ]


def test_sarif_text_is_indented_by_two_and_keeps_non_ascii_characters() -> None:
    finding = Finding("clients/é/client.yaml", 1, 2, "SCH001", Severity.ERROR, "clé inconnue")
    text = render_sarif(Result((finding,), 1, 1))
    assert text.startswith(
        "{\n"
        '  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",\n'
        '  "version": "2.1.0",\n'
        '  "runs": [\n'
        "    {\n"
        '      "tool": {\n'
        '        "driver": {\n'
        '          "name": "dagsync",\n'
    )
    assert '\n            "text": "clé inconnue"\n' in text
    assert '\n                  "uri": "clients/é/client.yaml"\n' in text
    assert text.endswith("\n    }\n  ]\n}\n")


def test_a_rule_without_a_fix_section_or_documentation_still_gets_its_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagsync.rules import registry
    from dagsync.rules.base import Rule, Violation

    def nothing(ctx: object) -> Iterator[Violation]:
        return iter(())

    undocumented = Rule("ZZZ001", Severity.WARNING, "9", "A rule", nothing, "", (), "Le texte.")
    no_fix = Rule(
        "ZZZ002", Severity.ERROR, "9", "No fix", nothing, "No fix.\n\nWhy:\n    Because.", ()
    )
    monkeypatch.setattr(registry, "RULES", (undocumented, no_fix))
    assert rule_descriptors()[-2:] == [
        {
            "id": "ZZZ001",
            "name": "ARule",
            "shortDescription": {"text": "A rule"},
            "fullDescription": {"text": "A rule"},
            "help": {
                "text": "« Le texte. » (CGV Art. 9)",
                "markdown": "> « Le texte. » (CGV Art. 9)",
            },
            "helpUri": "https://github.com/dag-technologies/dagsync/blob/main/docs/rules.md#zzz001",
            "defaultConfiguration": {"level": "warning"},
            "properties": {"tags": ["cgv", "article-9"], "article": "9"},
        },
        {
            "id": "ZZZ002",
            "name": "NoFix",
            "shortDescription": {"text": "No fix"},
            "fullDescription": {"text": "No fix.\n\nWhy:\n    Because."},
            "help": {"text": "CGV Art. 9", "markdown": "> CGV Art. 9"},
            "helpUri": "https://github.com/dag-technologies/dagsync/blob/main/docs/rules.md#zzz002",
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["cgv", "article-9"], "article": "9"},
        },
    ]
