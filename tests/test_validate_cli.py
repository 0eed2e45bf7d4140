"""`dagsync validate` over a repository: repository invariants (issue 2, point 5), exit codes
(DESIGN §4), the cache and the worker processes."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import PROJECT, Run
from dagsync.cli import main
from dagsync.config.document import ClientFiles
from dagsync.findings import Finding, Result, Severity
from dagsync.validate import checker as check
from dagsync.validate.run import validate_repository
from dagsync.validate.speed.cache import CACHE_DIR, cache_path

SHOP1 = "clients/alpine-books/servers/shop1.yaml"
PROD1 = "clients/cime-conseil/servers/prod1.yaml"
WEB1 = "clients/velo-savoie/servers/web1.yaml"
WEB2 = "clients/velo-savoie/servers/web2.yaml"


def edit(root: Path, rel: str, old: str, new: str) -> None:
    text = (root / rel).read_text()
    assert old in text, f"{old!r} not in {rel}"
    (root / rel).write_text(text.replace(old, new, 1))


def line_col(root: Path, rel: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """1-based position of `needle` (plus `offset` characters) in a file."""
    for number, line in enumerate((root / rel).read_text().splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1 + offset
    raise AssertionError(f"{needle!r} not in {rel}")


def rules_in(run: Run, rule: str) -> list[tuple[str, int, int]]:
    return sorted((f.file, f.line, f.column) for f in run.findings if f.rule == rule)


# --- exit codes ---------------------------------------------------------------------------------


def test_example_repository_is_clean(validate: Callable[..., Run]) -> None:
    run = validate(PROJECT, "text")
    assert run.code == 0, run.out
    assert run.out.startswith("clean: 3 client(s)")
    assert run.findings == ()


def test_errors_exit_1(repo_copy: Path, validate: Callable[..., Run]) -> None:
    edit(repo_copy, SHOP1, "role: production", "role: prod")
    assert validate(repo_copy).code == 1


def test_warnings_alone_exit_0() -> None:
    warning = Finding("clients/a/client.yaml", 1, 1, "X001", Severity.WARNING, "advice")
    error = Finding("clients/a/client.yaml", 1, 1, "X002", Severity.ERROR, "wrong")
    assert Result((warning,), 1, 1).exit_code == 0
    assert Result((warning, error), 1, 1).exit_code == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--repo", "/nonexistent"],
        ["validate", "--format", "xml"],
        ["validate", "--no-such-option"],
        ["validate", "clients/no-such-client/client.yaml"],
        ["validate", "/etc/hostname"],
    ],
    ids=["missing-repo", "bad-format", "bad-option", "missing-client", "outside-repo"],
)
def test_usage_errors_exit_2_without_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECT)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.err.strip()


def test_folder_without_clients_is_an_unreadable_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--repo", str(tmp_path)]) == 2
    assert "no clients/ folder" in capsys.readouterr().err


def test_outside_any_repository_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    assert "no configuration repository" in capsys.readouterr().err


def test_paths_limit_validation_to_their_clients(
    repo_copy: Path, validate: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(repo_copy, SHOP1, "role: production", "role: prod")
    monkeypatch.chdir(repo_copy)
    assert validate(repo_copy, "json", "clients/velo-savoie/client.yaml").code == 0
    assert validate(repo_copy, "json", SHOP1).code == 1


def test_a_policy_path_validates_every_client(
    repo_copy: Path, validate: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(repo_copy, SHOP1, "role: production", "role: prod")
    monkeypatch.chdir(repo_copy)
    run = validate(repo_copy, "text", "policies/dag.yaml")
    assert run.code == 1
    assert "3 client(s)" in run.out


# --- repository invariants ----------------------------------------------------------------------


def test_copied_client_breaks_every_uniqueness_invariant(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    shutil.copytree(repo_copy / "clients/alpine-books", repo_copy / "clients/alpine-books-copy")
    run = validate(repo_copy)
    copy_client = "clients/alpine-books-copy/client.yaml"
    copy_shop = "clients/alpine-books-copy/servers/shop1.yaml"
    assert rules_in(run, "REP011") == [(copy_client, *line_col(repo_copy, copy_client, "id: ", 4))]
    assert rules_in(run, "REP001") == [(copy_client, *line_col(repo_copy, copy_client, "id: ", 4))]
    assert rules_in(run, "REP005") == [(copy_shop, *line_col(repo_copy, copy_shop, "name: ", 6))]
    assert rules_in(run, "REP006") == [
        (copy_shop, *line_col(repo_copy, copy_shop, "service_name: ", 14))
    ]
    assert rules_in(run, "REP010") == [
        (copy_shop, *line_col(repo_copy, copy_shop, "203.0.113.10]"))
    ]
    message = next(f.message for f in run.findings if f.rule == "REP010")
    assert f"already declared in {SHOP1}, a server of another client" in message


def test_server_name_is_unique_across_clients(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, PROD1, "name: prod1", "name: shop1")
    (repo_copy / PROD1).rename(repo_copy / "clients/cime-conseil/servers/shop1.yaml")
    rel = "clients/cime-conseil/servers/shop1.yaml"
    run = validate(repo_copy)
    assert rules_in(run, "REP005") == [(rel, *line_col(repo_copy, rel, "name: ", 6))]
    assert rules_in(run, "REP006") == rules_in(run, "REP010") == []


def test_ovh_service_name_is_unique(repo_copy: Path, validate: Callable[..., Run]) -> None:
    service = line_col(repo_copy, SHOP1, "service_name: ")
    name = (repo_copy / SHOP1).read_text().splitlines()[service[0] - 1].split(": ")[1]
    text = (repo_copy / PROD1).read_text()
    old = next(line for line in text.splitlines() if "service_name:" in line)
    edit(repo_copy, PROD1, old, f"  service_name: {name}")
    run = validate(repo_copy)
    assert rules_in(run, "REP006") == [(PROD1, *line_col(repo_copy, PROD1, "service_name: ", 14))]


def test_an_ip_belongs_to_one_client(repo_copy: Path, validate: Callable[..., Run]) -> None:
    text = (repo_copy / PROD1).read_text()
    old = next(line for line in text.splitlines() if line.startswith("ips:"))
    edit(repo_copy, PROD1, old, "ips: [192.0.2.200, 203.0.113.10]")
    run = validate(repo_copy)
    assert rules_in(run, "REP010") == [(PROD1, *line_col(repo_copy, PROD1, "203.0.113.10"))]
    message = next(f.message for f in run.findings if f.rule == "REP010")
    assert "a server of another client" in message


def test_an_ip_belongs_to_one_server_of_a_client(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    web1_ip = (repo_copy / WEB1).read_text().split("ips: [", 1)[1].split("]", 1)[0]
    text = (repo_copy / WEB2).read_text()
    old = next(line for line in text.splitlines() if line.startswith("ips:"))
    edit(repo_copy, WEB2, old, f"ips: [{web1_ip}]")
    run = validate(repo_copy)
    assert rules_in(run, "REP010") == [(WEB2, *line_col(repo_copy, WEB2, web1_ip))]
    message = next(f.message for f in run.findings if f.rule == "REP010")
    assert "another server of this client" in message


def test_ipv6_duplicates_are_found_whatever_their_spelling(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, SHOP1, "ips: [203.0.113.10]", "ips: [203.0.113.10, '2001:DB8::10']")
    text = (repo_copy / PROD1).read_text()
    old = next(line for line in text.splitlines() if line.startswith("ips:"))
    edit(repo_copy, PROD1, old, old.replace("]", ", '2001:db8:0:0::10']"))
    run = validate(repo_copy)
    assert [r[0] for r in rules_in(run, "REP010")] == [PROD1]


def test_duplicates_are_found_even_in_files_with_schema_errors(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    text = (repo_copy / PROD1).read_text()
    old = next(line for line in text.splitlines() if line.startswith("ips:"))
    edit(repo_copy, PROD1, old, "ips: [203.0.113.10]")
    edit(repo_copy, PROD1, "role: ", "rôle: ")
    run = validate(repo_copy)
    assert rules_in(run, "REP010") == [(PROD1, *line_col(repo_copy, PROD1, "203.0.113.10"))]
    assert any(f.rule == "SCH001" for f in run.findings)


def test_stray_files_under_clients_are_findings(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    strays = [
        "clients/README.md",
        "clients/alpine-books/notes.txt",
        "clients/alpine-books/servers/shop2.yml",
        "clients/alpine-books/servers/old/shop0.yaml",
        "clients/alpine-books/backup/client.yaml",
    ]
    for rel in strays:
        (repo_copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo_copy / rel).write_text("x: 1\n")
    run = validate(repo_copy)
    assert rules_in(run, "REP003") == sorted((rel, 1, 1) for rel in strays)
    clients = {f["file"]: f for f in json.loads(run.out)["findings"] if f["rule"] == "REP003"}
    assert clients["clients/README.md"]["client"] is None
    assert clients["clients/alpine-books/notes.txt"]["client"] == "alpine-books"


def test_missing_client_files_are_findings(repo_copy: Path, validate: Callable[..., Run]) -> None:
    (repo_copy / "clients/alpine-books/requests.yaml").unlink()
    (repo_copy / "clients/empty-client").mkdir()
    run = validate(repo_copy)
    assert rules_in(run, "REP004") == [
        ("clients/alpine-books/requests.yaml", 1, 1),
        ("clients/empty-client/client.yaml", 1, 1),
        ("clients/empty-client/requests.yaml", 1, 1),
    ]


# --- cache and workers --------------------------------------------------------------------------

DAY = dt.date(2026, 11, 2)


def summary(result: Result) -> list[tuple[str, int, int, str]]:
    return [(f.file, f.line, f.column, f.rule) for f in result.findings]


def test_cached_run_sees_an_edit(repo_copy: Path) -> None:
    first = validate_repository(repo_copy, today=DAY, use_cache=True, jobs=1)
    assert cache_path(repo_copy).is_file() and first.exit_code == 0
    assert not (repo_copy / CACHE_DIR).exists()  # outside the work tree
    assert validate_repository(repo_copy, today=DAY, use_cache=True).findings == first.findings
    edit(repo_copy, SHOP1, "role: production", "role: prod")
    second = validate_repository(repo_copy, today=DAY, use_cache=True)
    assert [f.rule for f in second.findings] == ["SCH002"]


def test_touched_but_unchanged_client_is_a_cache_hit(
    repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = 1_600_000_000
    for path in (repo_copy / "clients").rglob("*.yaml"):
        os.utime(path, (old, old))
    validate_repository(repo_copy, today=DAY, use_cache=True, jobs=1)
    checked: list[str] = []
    real = check.check_client

    def spy(root: Path, files: ClientFiles, *args: Any) -> Any:
        checked.append(files.client_id)
        return real(root, files, *args)

    monkeypatch.setattr(check, "check_client", spy)
    os.utime(repo_copy / SHOP1, (old + 60, old + 60))  # touched: the content hash decides
    assert validate_repository(repo_copy, today=DAY, use_cache=True, jobs=1).exit_code == 0
    assert checked == []
    edit(repo_copy, SHOP1, "role: production", "role: prod")
    assert validate_repository(repo_copy, today=DAY, use_cache=True, jobs=1).exit_code == 1
    assert checked == ["alpine-books"]


def test_policy_change_invalidates_the_cache(repo_copy: Path) -> None:
    assert validate_repository(repo_copy, today=DAY, use_cache=True).exit_code == 0
    (repo_copy / "policies/dag.yaml").write_text(
        (repo_copy / "policies/dag.yaml").read_text() + "surprise: 1\n"
    )
    result = validate_repository(repo_copy, today=DAY, use_cache=True)
    assert ("policies/dag.yaml", "SCH001") in {(f.file, f.rule) for f in result.findings}


def test_corrupt_cache_is_ignored(repo_copy: Path) -> None:
    validate_repository(repo_copy, today=DAY, use_cache=True)
    assert cache_path(repo_copy).is_file()
    cache_path(repo_copy).write_text("{not json")
    assert validate_repository(repo_copy, today=DAY, use_cache=True).exit_code == 0


def test_no_cache_writes_nothing(repo_copy: Path, validate: Callable[..., Run]) -> None:
    assert validate(repo_copy).code == 0
    assert not cache_path(repo_copy).exists() and not (repo_copy / CACHE_DIR).exists()


def _generate(target: Path, clients: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_validate", PROJECT / "bench/validate.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    bench.generate(target, clients)


def test_worker_processes_find_what_one_process_finds(tmp_path: Path) -> None:
    _generate(tmp_path, 30)
    edit(tmp_path, "clients/client-00007/servers/db1-00007.yaml", "role: production", "role: x")
    edit(tmp_path, "clients/client-00021/client.yaml", "\nname: ", "\nnom: ")
    serial = validate_repository(tmp_path, today=DAY, use_cache=False, jobs=1)
    parallel = validate_repository(tmp_path, today=DAY, use_cache=False, jobs=2)
    assert summary(parallel) == summary(serial)
    assert {f.file.split("/")[1] for f in serial.findings} == {"client-00007", "client-00021"}


def test_warm_cache_rechecks_only_the_changed_client(tmp_path: Path) -> None:
    _generate(tmp_path, 30)
    assert validate_repository(tmp_path, today=DAY, use_cache=True).exit_code == 0
    edit(tmp_path, "clients/client-00003/servers/web1-00003.yaml", "role: production", "role: x")
    result = validate_repository(tmp_path, today=DAY, use_cache=True)
    assert [(f.file, f.rule) for f in result.findings] == [
        ("clients/client-00003/servers/web1-00003.yaml", "SCH002")
    ]
