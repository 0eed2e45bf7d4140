"""The strict loader (issue 2, point 4): every bad input is one finding at the right line and
column, in every output format, and never a traceback.

The cases are files in tests/data/loader/. The first line names where the file goes in a copy
of the example repository (`# target: clients/...`); each expected finding is marked either on
its own line (`# expect: RULE @COLUMN "message part"`) or, where a comment would change the
problem (syntax errors, undecodable bytes), in the header (`# expect-at: LINE:COLUMN RULE "..."`).
The findings of the target file must be exactly the expected ones.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from conftest import FORMATS, Run
from dagsync.config import yamlio

DATA = Path(__file__).parent / "data" / "loader"
CASES = sorted(DATA.glob("*.yaml"))
SHOP1 = "clients/alpine-books/servers/shop1.yaml"


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    rule: str
    message: str


def read_case(path: Path) -> tuple[str, list[Expected]]:
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    target = re.fullmatch(r"# target: (\S+)", lines[0])
    assert target, f"{path.name}: first line must be `# target: <path>`"
    expected = []
    for number, line in enumerate(lines, 1):
        inline = re.search(r'# expect: (\S+) @(\d+) "(.*)"$', line)
        header = re.fullmatch(r'# expect-at: (\d+):(\d+) (\S+) "(.*)"', line)
        if inline:
            expected.append(Expected(number, int(inline[2]), inline[1], inline[3]))
        elif header:
            expected.append(Expected(int(header[1]), int(header[2]), header[3], header[4]))
    assert expected, f"{path.name} marks no expected finding"
    return target[1], expected


def assert_reported(run: Run, target: str, expected: list[Expected]) -> None:
    assert run.code == 1, run.out + run.err
    assert "Traceback" not in run.out + run.err
    assert run.at(target) == {(e.rule, e.line, e.column) for e in expected}
    for e in expected:
        messages = [
            f.message
            for f in run.findings
            if (f.file, f.rule, f.line, f.column) == (target, e.rule, e.line, e.column)
        ]
        assert any(e.message in m for m in messages), (e.message, messages)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_bad_file_is_one_finding_at_its_line_and_column(
    case: Path, fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    target, expected = read_case(case)
    (repo_copy / target).write_bytes(case.read_bytes())
    assert_reported(validate(repo_copy, fmt), target, expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_zero_byte_file_is_not_a_mapping(
    fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    (repo_copy / SHOP1).write_bytes(b"")
    expected = [Expected(1, 1, "YAML006", "the document is empty, not a mapping")]
    assert_reported(validate(repo_copy, fmt), SHOP1, expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_over_one_mebibyte_is_refused_unread(
    fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    text = (repo_copy / SHOP1).read_text()
    (repo_copy / SHOP1).write_text(text + "# padding\n" * (1024 * 1024 // 10 + 1))
    expected = [Expected(1, 1, "YAML004", "over the 1 MiB limit")]
    assert_reported(validate(repo_copy, fmt), SHOP1, expected)


def test_file_of_exactly_one_mebibyte_is_read(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    text = (repo_copy / SHOP1).read_bytes()
    padding = 1024 * 1024 - len(text)
    (repo_copy / SHOP1).write_bytes(text + b"#" * (padding - 1) + b"\n")
    assert validate(repo_copy).at(SHOP1) == set()


def test_billion_laughs_fails_in_well_under_a_second(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    # CPU time, not wall time: a busy machine may pause the test, not make the loader slower
    bomb = (DATA / "billion-laughs.yaml").read_text()
    start = time.process_time()
    data, problem = yamlio.load(bomb)
    assert time.process_time() - start < 0.1
    assert data is None and problem is not None and problem.kind == "alias"
    (repo_copy / SHOP1).write_text(bomb)
    start = time.process_time()
    run = validate(repo_copy, "text")
    assert time.process_time() - start < 1.0
    assert ("YAML003", 3, 4) in run.at(SHOP1)


def test_alias_after_a_fallback_construct_is_still_refused() -> None:
    # a merge key sends the document to ruamel's own loader: aliases must be refused there too
    data, problem = yamlio.load("base: {a: 1}\n<<: {b: 2}\nc: &x [1]\nd: *x\n")
    assert data is None and problem is not None
    assert (problem.kind, problem.line, problem.column) == ("alias", 3, 4)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_finding_of_every_file_in_one_run(
    fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    broken = {
        SHOP1: ("ips: [203.0.113.10]", "ips: [203.0.113.10"),
        "clients/cime-conseil/client.yaml": ("\nname: ", "\nnmae: "),
        "clients/velo-savoie/servers/web2.yaml": ("  port: 22\n", "  port: twenty-two\n"),
    }
    for rel, (old, new) in broken.items():
        text = (repo_copy / rel).read_text()
        assert old in text
        (repo_copy / rel).write_text(text.replace(old, new, 1))
    (repo_copy / "clients/velo-savoie/notes.txt").write_text("stray\n")
    run = validate(repo_copy, fmt)
    assert run.code == 1
    rules = {(f.file, f.rule) for f in run.findings}
    assert {
        (SHOP1, "YAML001"),
        ("clients/cime-conseil/client.yaml", "SCH001"),
        ("clients/cime-conseil/client.yaml", "SCH003"),
        ("clients/velo-savoie/servers/web2.yaml", "SCH002"),
        ("clients/velo-savoie/notes.txt", "REP003"),
    } <= rules
    typo = next(f for f in run.findings if f.rule == "SCH001")
    assert "unknown field `nmae`: did you mean `name`?" in typo.message


def test_console_script_reports_findings_without_traceback(repo_copy: Path) -> None:
    case = DATA / "duplicate-key.yaml"
    target, expected = read_case(case)
    (repo_copy / target).write_bytes(case.read_bytes())
    script = Path(sys.executable).with_name("dagsync")
    proc = subprocess.run(
        [str(script), "validate", "--repo", str(repo_copy), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    e = expected[0]
    assert f"  {e.line}:{e.column}: error {e.rule} {e.message}" in proc.stdout


# --- the fast loader builds exactly what ruamel's safe loader builds ----------------------------

TRICKY = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "True",
    "FALSE",
    "null",
    "Null",
    "~",
    "",
    "012",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "+12",
    "-0",
    "0",
    "1.5",
    ".5",
    "-.inf",
    ".NaN",
    "1e3",
    "1.0e+3",
    "6.8523015e+5",
    "2024-01-31",
    "2024-1-31",
    "2024-01-31 10:00:00",
    "2024-01-31T10:00:00Z",
    "2025-02-30",
    "12:30",
    "1:2:3",
    "=",
    "<<",
    "0o_",
    "-_",
    "0x",
    "'quoted'",
    '"double"',
    "a b",
    "é",
    "-",
    "[1, 2]",
    "{a: 1}",
    "!!str 12",
    "!!int 7",
    "!!float 1",
    "!!bool yes",
    "!!null ''",
    "&a 1",
    "*a",
    "x: y",
]
_PLAIN = st.one_of(
    st.sampled_from(TRICKY),
    st.from_regex(r"[-+.0-9a-zA-Z_:~]{1,10}", fullmatch=True),
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Small YAML documents of tricky plain scalars, in block and flow collections."""
    lines: list[str] = []
    for i in range(draw(st.integers(1, 6))):
        key = draw(st.sampled_from([f"k{i}", "k0", "yes", "1", "~", "2024-01-01"]))
        kind = draw(st.sampled_from(["scalar", "flow", "block"]))
        if kind == "scalar":
            lines.append(f"{key}: {draw(_PLAIN)}")
        elif kind == "flow":
            lines.append(f"{key}: [{', '.join(draw(st.lists(_PLAIN, max_size=4)))}]")
        else:
            lines.append(f"{key}:")
            lines.extend(f"  - {v}" for v in draw(st.lists(_PLAIN, min_size=1, max_size=3)))
    return "\n".join(lines) + "\n"


def _ruamel(text: str) -> tuple[str, bool]:
    try:
        return repr(YAML(typ="safe", pure=False).load(text)), True
    except Exception:  # ruamel raises YAMLError, ValueError, ...: any error is a refusal
        return "", False


def _ours(text: str) -> tuple[str, bool]:
    data, problem = yamlio.load(text)
    return (repr(data), True) if problem is None else ("", False)


@settings(max_examples=300, deadline=None)
@given(documents())
def test_fast_loader_builds_what_ruamel_builds(text: str) -> None:
    theirs = _ruamel(text)
    ours = _ours(text)
    if "&" in text or "*" in text:  # we refuse anchors and aliases; ruamel does not
        assert not ours[1] or ours == theirs
    else:
        assert ours == theirs


def test_fast_loader_reads_the_examples_as_ruamel_does() -> None:
    root = Path(__file__).parents[1]
    for path in sorted([*root.glob("clients/**/*.yaml"), *root.glob("policies/**/*.yaml")]):
        text = path.read_text()
        assert _ours(text) == _ruamel(text), path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: yes\n", {"a": "yes"}),  # YAML 1.2: not a boolean
        ("a: 012\n", {"a": 12}),  # YAML 1.2: not octal
        ("a: 0o12\n", {"a": 10}),
        ("a: 2024-01-31\n", {"a": dt.date(2024, 1, 31)}),
        ('a: "2024-01-31"\n', {"a": "2024-01-31"}),
        ("a: 1_000\n", {"a": 1000}),
        ("a: ~\nb:\n", {"a": None, "b": None}),
    ],
)
def test_yaml_1_2_scalars(text: str, expected: dict[str, object]) -> None:
    assert yamlio.load(text) == (expected, None)
