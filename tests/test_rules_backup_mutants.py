"""The backup rules' whole findings (rule, file, line, column, server, message, as literals) on a
client whose broken server is not the first and whose broken key is not the first child of
`backup`.  Written to kill the mutants that survived in `bench/mutation.py rules/backup`:
BKP007's `continue` turned into `break`, `server=` dropped or set to None, a finding's path
mutated (its fallback position differs from the key's), a message set to None."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagsync.validate.run import validate_repository

PROJECT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 12, 1)
DB1 = "clients/velo-savoie/servers/db1.yaml"
WEB2 = "clients/velo-savoie/servers/web2.yaml"
CLIENT = "clients/velo-savoie/client.yaml"
ASK = (
    "add `request: REQ-...` to `backup` citing the client's request recorded in "
    "clients/velo-savoie/requests.yaml"
)
MORE_STORAGES = (
    "  - name: lim-backup-1\n    host: backup1.lim.dagtechnologies.example\n    datacenter: lim1\n"
    "  - name: gra-backup-1\n    host: backup1.gra.dagtechnologies.example\n    datacenter: gra2\n"
    "  - name: far-backup-1\n    host: backup1.far.dagtechnologies.example\n    datacenter: zzz1\n"
)

Seen = tuple[str, str, int, int, str | None, str]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backup-rules") / "repo"
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, root / folder)
    _edit(
        root,
        "policies/dag.yaml",
        "  - name: rbx-backup-1\n",
        MORE_STORAGES + "  - name: rbx-backup-1\n",
    )
    return root


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    saved = {p: p.read_text() for p in (pristine / "clients/velo-savoie").rglob("*.yaml")}
    yield pristine
    for path, text in saved.items():
        path.write_text(text)


def _edit(root: Path, rel: str, find: str, replace: str) -> None:
    path = root / rel
    text = path.read_text()
    assert text.count(find) == 1, f"{find!r} must occur once in {rel}"
    path.write_text(text.replace(find, replace))


def findings(root: Path, prefix: str = "BKP") -> list[Seen]:
    result = validate_repository(root, only=["velo-savoie"], use_cache=False, today=TODAY)
    return [
        (f.rule, f.file, f.line, f.column, f.server, f.message)
        for f in result.findings
        if f.rule.startswith(prefix)
    ]


def test_the_example_client_is_clean_with_the_extra_storages(repo: Path) -> None:
    assert findings(repo) == []


def test_every_backup_rule_names_the_server_the_key_and_the_fix_on_a_later_server(
    repo: Path,
) -> None:
    _edit(repo, DB1, "  storage: sbg-backup-1\n", "  storage: my-nas\n")
    _edit(repo, WEB2, "  frequency: daily\n", "  frequency: weekly\n")
    _edit(repo, WEB2, '  schedule: "02:00"\n', '  schedule: "07:00"\n')
    _edit(repo, WEB2, "  retention_days: 7\n", "  retention_days: 3\n")
    _edit(repo, WEB2, "  scope: [system, files, databases]\n", "  scope: [system, dev_space]\n")
    _edit(repo, WEB2, "  storage: sbg-backup-1\n", "  storage: lim-backup-1\n")
    assert findings(repo) == [
        (
            "BKP006",
            DB1,
            55,
            12,
            "db1",
            "backup storage `my-nas` is not in policies/dag.yaml: use one of `sbg-backup-1`, "
            "`lim-backup-1`, `gra-backup-1`, `far-backup-1`, `rbx-backup-1`",
        ),
        (
            "BKP001",
            WEB2,
            51,
            14,
            "web2",
            f"backups run `weekly`, the CGV default is `daily`: set `frequency: daily`, or {ASK}",
        ),
        (
            "BKP002",
            WEB2,
            52,
            13,
            "web2",
            "backups start at 07:00, outside the CGV window 01:00-06:00: start between 01:00 "
            f"and before 06:00, or {ASK}",
        ),
        (
            "BKP003",
            WEB2,
            53,
            19,
            "web2",
            "backups are kept 3 days; CGV 2024-01 keeps 7 rolling days: set "
            f"`retention_days: 7`, or {ASK}",
        ),
        (
            "BKP004",
            WEB2,
            54,
            10,
            "web2",
            f"backups must also cover `files`, `databases`: add them to `scope`, or {ASK}",
        ),
        (
            "BKP005",
            WEB2,
            54,
            10,
            "web2",
            f"the dev space is not backed up by default: remove `dev_space` from `scope`, or {ASK}",
        ),
        (
            "BKP007",
            WEB2,
            55,
            12,
            "web2",
            "backup storage `lim-backup-1` is in lim1, in DE; the CGV stores backups in FR: use "
            "a storage there",
        ),
    ]


def test_one_missing_scope_item_is_it_not_them(repo: Path) -> None:
    _edit(repo, WEB2, "  scope: [system, files, databases]\n", "  scope: [system, files]\n")
    assert findings(repo) == [
        (
            "BKP004",
            WEB2,
            54,
            10,
            "web2",
            f"backups must also cover `databases`: add it to `scope`, or {ASK}",
        )
    ]


@pytest.mark.parametrize(
    ("schedule", "column"), [('"06:00"', 13), ('"00:59"', 13), ("'23:30'", 13)]
)
def test_the_window_excludes_its_end_and_what_lies_before_its_start(
    repo: Path, schedule: str, column: int
) -> None:
    _edit(repo, WEB2, '  schedule: "02:00"\n', f"  schedule: {schedule}\n")
    shown = schedule.strip("\"'")
    assert findings(repo) == [
        (
            "BKP002",
            WEB2,
            52,
            column,
            "web2",
            f"backups start at {shown}, outside the CGV window 01:00-06:00: start between 01:00 "
            f"and before 06:00, or {ASK}",
        )
    ]


@pytest.mark.parametrize("schedule", ['"01:00"', '"05:59"'])
def test_the_window_includes_its_start_and_its_last_minute(repo: Path, schedule: str) -> None:
    _edit(repo, WEB2, '  schedule: "02:00"\n', f"  schedule: {schedule}\n")
    assert findings(repo) == []


def test_a_longer_retention_is_a_derogation_too(repo: Path) -> None:
    _edit(repo, WEB2, "  retention_days: 7\n", "  retention_days: 14\n")
    assert [f[:5] for f in findings(repo)] == [("BKP003", WEB2, 53, 19, "web2")]


def test_a_storage_at_the_servers_own_site_is_refused_on_that_server(repo: Path) -> None:
    _edit(repo, DB1, "  storage: sbg-backup-1\n", "  storage: my-nas\n")
    _edit(repo, WEB2, "  storage: sbg-backup-1\n", "  storage: gra-backup-1\n")
    assert findings(repo, "BKP008") == [
        (
            "BKP008",
            WEB2,
            55,
            12,
            "web2",
            "backup storage `gra-backup-1` (gra2) is at the same site as the server (gra3): use "
            "a storage at another site",
        )
    ]


def test_a_storage_in_an_unlisted_datacenter_says_so(repo: Path) -> None:
    _edit(repo, WEB2, "  storage: sbg-backup-1\n", "  storage: far-backup-1\n")
    assert findings(repo) == [
        (
            "BKP007",
            WEB2,
            55,
            12,
            "web2",
            "backup storage `far-backup-1` is in zzz1, in a datacenter policies/dag.yaml does "
            "not list; the CGV stores backups in FR: use a storage there",
        )
    ]


def test_a_backed_up_dev_space_without_request_is_the_clients_finding(repo: Path) -> None:
    text = (repo / CLIENT).read_text()
    assert "dev_space:" not in text
    block = (
        "dev_space:\n  enabled: true\n  location: external\n  size_gb: 30\n"
        "  production_size_gb: 20\n  archive_gb: 10\n  backed_up: true\n"
    )
    (repo / CLIENT).write_text(text + block)
    line = text.count("\n") + 7  # `backed_up`, the last key of the block
    assert findings(repo) == [
        (
            "BKP005",
            CLIENT,
            line,
            14,
            None,
            "the dev space is not backed up by default: add `request: REQ-...` to `dev_space` "
            "citing the client's request recorded in clients/velo-savoie/requests.yaml",
        )
    ]


@pytest.mark.parametrize(
    "first",
    [
        "my-nas",  # not in policies/dag.yaml: BKP006's concern, skipped here
        "lim-backup-1",  # outside France: BKP007's concern, skipped here
    ],
)
def test_the_backup_site_is_checked_on_every_server_after_one_skipped(
    repo: Path, first: str
) -> None:
    _edit(repo, DB1, "  storage: sbg-backup-1\n", f"  storage: {first}\n")
    _edit(repo, WEB2, "  storage: sbg-backup-1\n", "  storage: rbx-backup-1\n")
    assert findings(repo, "BKP009") == [
        (
            "BKP009",
            WEB2,
            55,
            12,
            "web2",
            "backup storage `rbx-backup-1` is in rbx8; CGV 2024-01 stores backups at `sbg`: use "
            f"a storage there, or {ASK}",
        )
    ]
