"""Nothing local is trusted as if it had been reviewed (issue 13, item 3).

A validation cache committed with `git add -f` cannot make `validate` or the apply's
validation gate pass; CI never reads a cache; any tracked file under dagsync's state or
cache folders is an error (LOC001) at the file itself.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from conftest import copy_repository
from dagsync.errors import DagsyncError
from dagsync.reconcile.extras import Extras, read_extras
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SANDBOX_HOSTS_FILE,
    Overrides,
    ignored_sandbox_notice,
    load_overrides,
    overrides_path,
)
from dagsync.validate.repository import refuse_invalid
from dagsync.validate.run import validate_repository
from dagsync.validate.speed.cache import CACHE_DIR, CACHE_FILE, cache_path, in_ci

DAY = dt.date(2026, 11, 2)
SHOP1 = "clients/alpine-books/servers/shop1.yaml"
SSH_FROM_ANYWHERE = (
    "  open_ports:\n"
    "    - protocol: tcp\n"
    "      port: 22\n"
    "      service: ssh\n"
    "      sources: [any]\n"
    "      public: true\n"
    "      justification: Remote work.\n"
)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout


def _repo(tmp_path: Path) -> Path:
    root = copy_repository(tmp_path / "repo")
    (root / ".gitignore").write_text(".dagsync-cache/\n.dagsync-sandbox/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "seed")
    return root


def _open_ssh_to_the_internet(root: Path) -> None:
    path = root / SHOP1
    path.write_text(path.read_text().replace("  open_ports:\n", SSH_FROM_ANYWHERE, 1))


def _poisoned_cache(root: Path, legit: Path) -> dict[str, object]:
    """What an attacker computes: the cache of a clean run, with every client's key and
    stats replaced by those of the poisoned files (the keys depend only on the repository)."""
    data: dict[str, object] = json.loads(legit.read_text())
    from dagsync.validate.run import discover
    from dagsync.validate.speed.cache import client_digest

    layout = discover(root.resolve())
    clients = data["clients"]
    assert isinstance(clients, dict)
    for client_id, entry in clients.items():
        entry["key"] = client_digest(root.resolve(), layout.clients[client_id])
        entry["stats"] = None
        entry["findings"] = []
    return data


def test_a_committed_poisoned_cache_does_not_make_validate_or_the_apply_gate_pass(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    assert validate_repository(root, today=DAY).exit_code == 0  # a clean, cached run
    _open_ssh_to_the_internet(root)
    poison = _poisoned_cache(root, cache_path(root))
    for target in (root / CACHE_DIR / CACHE_FILE, cache_path(root)):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(poison))
    # the user's own cache folder is outside the tree: only the committed copy is the attack
    cache_path(root).unlink()
    _git(root, "add", "-f", f"{CACHE_DIR}/{CACHE_FILE}")
    result = validate_repository(root, today=DAY)
    assert [(f.file, f.line, f.rule) for f in result.findings] == [
        (f"{CACHE_DIR}/{CACHE_FILE}", 1, "LOC001"),
        (SHOP1, 36, "SEC002"),
    ]
    with pytest.raises(DagsyncError, match="2 validation error"):
        refuse_invalid(root)
    _git(root, "rm", "-q", "--cached", f"{CACHE_DIR}/{CACHE_FILE}")  # still in the work tree
    with pytest.raises(DagsyncError, match=f"1 validation error.*first at {SHOP1}:36:"):
        refuse_invalid(root)


def test_ci_never_reads_the_cache_even_a_poisoned_one_in_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    assert validate_repository(root, today=DAY).exit_code == 0
    _open_ssh_to_the_internet(root)
    cache_path(root).write_text(json.dumps(_poisoned_cache(root, cache_path(root))))
    assert validate_repository(root, today=DAY).exit_code == 0  # outside CI: trusted, by design
    monkeypatch.setenv("CI", "true")
    before = cache_path(root).read_bytes()
    result = validate_repository(root, today=DAY)
    assert [(f.file, f.rule) for f in result.findings] == [(SHOP1, "SEC002")]
    assert cache_path(root).read_bytes() == before  # nor written


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("TRUE", True), ("false", False), ("", False), ("0", False)],
)
def test_ci_is_recognised_from_the_ci_variable(value: str, expected: bool) -> None:
    assert in_ci({"CI": value}) is expected


def test_a_cache_folder_others_can_write_is_not_read(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert validate_repository(root, today=DAY).exit_code == 0
    _open_ssh_to_the_internet(root)
    cache_path(root).write_text(json.dumps(_poisoned_cache(root, cache_path(root))))
    folder = cache_path(root).parent
    folder.chmod(0o777)  # writable by others: the point of the test
    result = validate_repository(root, today=DAY)
    assert [(f.file, f.rule) for f in result.findings] == [(SHOP1, "SEC002")]


def test_the_cache_is_keyed_by_the_repository_path_outside_the_tree(tmp_path: Path) -> None:
    one, two = copy_repository(tmp_path / "one"), copy_repository(tmp_path / "two")
    assert cache_path(one) != cache_path(two)
    assert tmp_path not in cache_path(one).parents
    validate_repository(one, today=DAY)
    assert cache_path(one).is_file() and not cache_path(two).exists()
    assert not (one / CACHE_DIR).exists()


def test_each_tracked_state_file_is_an_error_at_the_file(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / ".dagsync-sandbox").mkdir()
    (root / ".dagsync-sandbox/hosts.json").write_text('{"management_ranges": ["0.0.0.0/0"]}')
    (root / ".dagsync-cache").mkdir()
    (root / ".dagsync-cache/mail-usage.json").write_text("{}")
    assert validate_repository(root, today=DAY, use_cache=False).exit_code == 0  # ignored: fine
    _git(root, "add", "-f", ".dagsync-sandbox/hosts.json", ".dagsync-cache/mail-usage.json")
    result = validate_repository(root, today=DAY, use_cache=False)
    assert [(f.file, f.line, f.column, f.rule, str(f.severity)) for f in result.findings] == [
        (".dagsync-cache/mail-usage.json", 1, 1, "LOC001", "error"),
        (".dagsync-sandbox/hosts.json", 1, 1, "LOC001", "error"),
    ]
    assert "git rm --cached .dagsync-sandbox/hosts.json" in result.findings[1].message


def test_tracked_state_is_found_when_the_repository_is_a_subfolder(tmp_path: Path) -> None:
    top = tmp_path / "top"
    root = copy_repository(top / "config")
    (root / ".dagsync-sandbox").mkdir()
    (root / ".dagsync-sandbox/hosts.json").write_text("{}")
    _git(top, "init", "-q", "-b", "main")
    _git(top, "add", "-f", ".")
    result = validate_repository(root, today=DAY, use_cache=False)
    assert [(f.file, f.rule) for f in result.findings] == [
        (".dagsync-sandbox/hosts.json", "LOC001")
    ]


def test_no_git_no_tracked_state(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "plain")
    (root / ".dagsync-cache").mkdir()
    (root / ".dagsync-cache/anything.json").write_text("{}")
    assert validate_repository(root, today=DAY, use_cache=False).findings == ()


# --- sandbox state: only in sandbox mode, never widening anything -----------------------------

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF+0NLAofU66ht9s98VkVf2f+nD56ggkTZhuefrMA3fO"


def _sandbox_file(root: Path, **extra: object) -> Path:
    data: dict[str, object] = {
        "version": 1,
        "hosts": {"alpine-books/shop1": {"address": "10.203.0.11", "host_key": HOST_KEY}},
        "management_ranges": ["10.203.0.1/32"],
        "environment": {
            "DAGSYNC_PASSPHRASE_ESCROW": "/var/lib/escrow",
            "DAGSYNC_OVH_URL": "http://127.0.0.1:41367/1.0",
        },
    }
    data.update(extra)
    path = root / SANDBOX_HOSTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def no_override_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(HOSTS_FILE_ENV, raising=False)
    monkeypatch.delenv(SANDBOX_ENV, raising=False)
    return monkeypatch


def test_a_present_sandbox_file_is_ignored_without_sandbox_mode(
    tmp_path: Path, no_override_env: pytest.MonkeyPatch
) -> None:
    root = copy_repository(tmp_path / "repo")
    _sandbox_file(root, management_ranges=["0.0.0.0/0"])
    assert overrides_path(root) is None
    assert load_overrides(overrides_path(root)) == Overrides()
    assert read_extras(overrides_path(root)) == Extras()
    assert ignored_sandbox_notice(root) == (
        "note: .dagsync-sandbox/hosts.json is ignored: this run targets the servers declared "
        "in git; set DAGSYNC_SANDBOX=1 to target the sandbox"
    )
    no_override_env.setenv(SANDBOX_ENV, "1")
    assert ignored_sandbox_notice(root) is None
    assert overrides_path(root) == root / SANDBOX_HOSTS_FILE


def test_sandbox_mode_without_a_sandbox_is_a_clear_error(
    tmp_path: Path, no_override_env: pytest.MonkeyPatch
) -> None:
    no_override_env.setenv(SANDBOX_ENV, "1")
    with pytest.raises(DagsyncError, match=r"DAGSYNC_SANDBOX=1 but the sandbox is not up"):
        overrides_path(copy_repository(tmp_path / "repo"))


def test_the_sandbox_files_own_settings_are_accepted(tmp_path: Path) -> None:
    path = _sandbox_file(tmp_path)
    overrides = load_overrides(path)
    assert [str(r) for r in overrides.management_ranges] == ["10.203.0.1/32"]
    assert overrides.hosts["alpine-books/shop1"].address == "10.203.0.11"
    assert read_extras(path).environment == {
        "DAGSYNC_PASSPHRASE_ESCROW": "/var/lib/escrow",
        "DAGSYNC_OVH_URL": "http://127.0.0.1:41367/1.0",
    }


@pytest.mark.parametrize(
    "ranges",
    [["0.0.0.0/0"], ["::/0"], ["10.0.0.0/8"], ["203.0.113.0/25"], ["8.8.8.8/32"], ["0.0.0.0"]],
)
def test_an_override_cannot_widen_the_management_ranges(tmp_path: Path, ranges: list[str]) -> None:
    path = _sandbox_file(tmp_path, management_ranges=ranges)
    with pytest.raises(DagsyncError, match="never widen the management ranges"):
        load_overrides(path)


@pytest.mark.parametrize("address", ["8.8.8.8", "2a01:4f8::1", "0.0.0.0", "not-an-address"])
def test_an_override_cannot_point_a_server_at_a_public_address(
    tmp_path: Path, address: str
) -> None:
    hosts = {"alpine-books/shop1": {"address": address, "host_key": HOST_KEY}}
    with pytest.raises(DagsyncError, match="not a hosts override file"):
        load_overrides(_sandbox_file(tmp_path, hosts=hosts))


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"OVH_ENDPOINT": "ovh-eu"}, "OVH_ENDPOINT refused"),
        ({"PATH": "/tmp/evil"}, "PATH refused"),
        ({"DAGSYNC_SSH_KEY_FILE": "/tmp/key"}, "DAGSYNC_SSH_KEY_FILE refused"),
        ({"DAGSYNC_OVH_URL": "https://eu.api.ovh.com/1.0"}, "DAGSYNC_OVH_URL refused"),
        ({"DAGSYNC_OVH_URL": "http://127.0.0.1.evil.example/1.0"}, "DAGSYNC_OVH_URL refused"),
        ({"DAGSYNC_OVH_URL": "file:///etc/passwd"}, "DAGSYNC_OVH_URL refused"),
    ],
)
def test_an_override_sets_only_the_allowed_variables(
    tmp_path: Path, environment: dict[str, str], message: str
) -> None:
    path = _sandbox_file(tmp_path, environment=environment)
    with pytest.raises(DagsyncError, match=message):
        read_extras(path)


def test_sandbox_mode_refuses_a_sandbox_file_that_git_tracks(
    tmp_path: Path, no_override_env: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    _sandbox_file(root)
    no_override_env.setenv(SANDBOX_ENV, "1")
    assert overrides_path(root) == root / SANDBOX_HOSTS_FILE  # ignored by git: fine
    _git(root, "add", "-f", SANDBOX_HOSTS_FILE)
    with pytest.raises(DagsyncError, match=r"hosts.json is tracked by git"):
        overrides_path(root)
