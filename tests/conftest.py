"""Shared fixtures: a private copy of the example repository, and `dagsync validate` run
in-process with its output parsed back into findings, whatever the format."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from dagsync.cli import main
from dagsync.config.yamlio import load

# Hypothesis: one profile for the whole suite. In CI (and wherever HYPOTHESIS_PROFILE=ci) the
# examples are derandomised, so a run passes or fails the same way every time; counterexamples
# ever found are pinned with @example next to their test.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("dev", print_blob=True, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

REQUIRE_HOSTS = "DAGSYNC_REQUIRE_HOSTS"

# The suite's escrow folders are temporary test folders, also when it runs in CI (CI=true
# refuses a file escrow otherwise: tests/test_escrow_paths.py). Set for the whole process, so
# that module-scoped fixtures (test hosts applied once per module) see it too.
os.environ.setdefault("DAGSYNC_ALLOW_CI_ESCROW", "1")


@pytest.fixture(autouse=True)
def _escrow_folders_allowed_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's escrow folders are temporary test folders, also when it runs in CI
    (CI=true refuses a file escrow otherwise: tests/test_escrow_paths.py)."""
    monkeypatch.setenv("DAGSYNC_ALLOW_CI_ESCROW", "1")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Where host tests are required (`DAGSYNC_REQUIRE_HOSTS=1`, set by .ci/run), a test marked
    `hosts` that skips (no root, no namespaces, a missing tool) fails instead, with its reason:
    the end-to-end proof can never vanish silently from CI."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get(REQUIRE_HOSTS) == "1"
        and item.get_closest_marker("hosts") is not None
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"host test skipped although {REQUIRE_HOSTS}=1: {reason}"


PROJECT = Path(__file__).parents[1]
FORMATS = ("text", "json", "sarif", "github")


@dataclass(frozen=True, order=True)
class Seen:
    """A finding as a user sees it in one output format."""

    file: str
    line: int
    column: int
    rule: str
    message: str = ""


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    findings: tuple[Seen, ...]

    def at(self, file: str) -> set[tuple[str, int, int]]:
        """(rule, line, column) of the findings in one file."""
        return {(f.rule, f.line, f.column) for f in self.findings if f.file == file}


def read_yaml(path: Path) -> Any:
    """A configuration file's data (dates as dates), failing the test if it does not load."""
    data, problem = load(path.read_text())
    assert problem is None, problem
    return data


def write_yaml(path: Path, data: Any) -> None:
    """Rewrite a configuration file with `data`, keeping its first line (the schema comment).
    YAML is a superset of JSON: the test writes JSON, the loader reads YAML."""
    header = path.read_text().splitlines()[0]
    text = json.dumps(data, indent=1, default=str, ensure_ascii=False)
    path.write_text(header + "\n" + text + "\n")


def copy_repository(target: Path) -> Path:
    for name in ("clients", "policies", "schemas"):
        shutil.copytree(PROJECT / name, target / name)
    return target


@pytest.fixture(autouse=True)
def _private_validation_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test's validation cache and apply run locks live in temporary folders (never the
    user's), and the cache is enabled even when the suite itself runs in CI (tests that want
    CI set it)."""
    monkeypatch.setenv("DAGSYNC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("DAGSYNC_LOCK_DIR", str(tmp_path_factory.mktemp("run-locks")))
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the project's clients/, policies/ and schemas/ in a temporary folder."""
    return copy_repository(tmp_path / "repo")


# --- parsing each output format back ----------------------------------------------------------

_TEXT_FINDING = re.compile(r"^  (\d+):(\d+): (error|warning|note) (\S+) (.*)$")


def parse_text(out: str) -> list[Seen]:
    seen, current = [], ""
    for line in out.splitlines():
        found = _TEXT_FINDING.match(line)
        if found:
            seen.append(Seen(current, int(found[1]), int(found[2]), found[4], found[5]))
        elif line and not line.startswith(" ") and not re.match(r"^(clean|failed):", line):
            current = line
    return seen


def parse_json(out: str) -> list[Seen]:
    doc = json.loads(out)
    return [
        Seen(f["file"], f["line"], f["column"], f["rule"], f["message"]) for f in doc["findings"]
    ]


def parse_sarif(out: str) -> list[Seen]:
    doc = json.loads(out)
    seen = []
    for result in doc["runs"][0]["results"]:
        where = result["locations"][0]["physicalLocation"]
        region = where["region"]
        seen.append(
            Seen(
                where["artifactLocation"]["uri"],
                region["startLine"],
                region["startColumn"],
                result["ruleId"],
                result["message"]["text"],
            )
        )
    return seen


def gh_unescape(text: str) -> str:
    for code, char in (("%0A", "\n"), ("%0D", "\r"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


_GITHUB_FINDING = re.compile(r"^::(error|warning|notice) ([^:]*)::(.*)$")


def parse_github(out: str) -> list[Seen]:
    seen = []
    for line in out.splitlines():
        found = _GITHUB_FINDING.match(line)
        if not found:
            continue
        props = dict(p.split("=", 1) for p in found[2].split(","))
        props = {k: gh_unescape(v) for k, v in props.items()}
        rule = props["title"].split(" ", 1)[0]
        seen.append(
            Seen(props["file"], int(props["line"]), int(props["col"]), rule, gh_unescape(found[3]))
        )
    return seen


PARSERS: dict[str, Callable[[str], list[Seen]]] = {
    "text": parse_text,
    "json": parse_json,
    "sarif": parse_sarif,
    "github": parse_github,
}


@pytest.fixture
def validate(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """`validate(root, fmt, *args)`: run `dagsync validate` in-process, parse its findings."""

    def run(root: Path, fmt: str = "json", *args: str) -> Run:
        capsys.readouterr()
        code = main(["validate", "--repo", str(root), "--no-cache", "--format", fmt, *args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err, tuple(PARSERS[fmt](captured.out)))

    return run
