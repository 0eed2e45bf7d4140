"""The GET-only OVH consumer key of plans: its rules are the GET rules of the one table every
call is checked against; `dagsync ovh credentials --read-only` prints them, `--request
--read-only` asks OVH (the emulator) for such a key; with it a plan works and every write is
refused by OVH."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from dagsync.commands.ovh import ovh as ovh_command
from dagsync.ovhapi.access import ACCESS_RULES, READ_ONLY_RULES
from dagsync.ovhapi.credentials import ENV_VARS, URL_ENV
from dagsync.reconcile.report import HostStatus
from dagsync.reconcile.resource import Status
from dagsync.sandbox.ovh import account_fixture
from dagsync.validate.repository import Repository, load_repository
from test_ovh_reconcile import FakeTime, apply, connect, mutations, plan, running

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No OVH credentials from the outside; HOME and the current directory are empty."""
    for name in (*ENV_VARS.values(), URL_ENV):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, tmp_path / "repo" / folder)
    return load_repository(tmp_path / "repo")


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def test_the_read_only_rules_are_the_get_rules_of_the_one_table() -> None:
    assert tuple(r for r in ACCESS_RULES if r.method == "GET") == READ_ONLY_RULES
    assert [str(r) for r in READ_ONLY_RULES] == [
        "GET /dedicated/server",
        "GET /dedicated/server/*",
        "GET /ip/*",
    ]
    writes = [r for r in ACCESS_RULES if r.method != "GET"]
    assert writes  # the full key can write, the read-only one cannot
    for rule in writes:
        assert not any(r.covers(rule.method, rule.path.replace("*", "x")) for r in READ_ONLY_RULES)


def test_credentials_read_only_prints_exactly_the_get_rules() -> None:
    result = CliRunner().invoke(ovh_command, ["credentials", "--read-only"])
    assert result.exit_code == 0, result.output
    title, *lines = result.output.splitlines()
    assert title == "OVH access rules of a read-only consumer key (dagsync plan):"
    assert [tuple(line.split()[:2]) for line in lines] == [
        (r.method, r.path) for r in READ_ONLY_RULES
    ]


def test_request_read_only_asks_for_a_get_only_key_that_plans_but_cannot_write(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        monkeypatch.setenv(URL_ENV, emu.url)
        monkeypatch.setenv("OVH_APPLICATION_KEY", emu.application_key)
        monkeypatch.setenv("OVH_APPLICATION_SECRET", emu.application_secret)
        before = {c.consumer_key for c in emu.credentials()}
        result = CliRunner().invoke(ovh_command, ["credentials", "--request", "--read-only"])
        assert result.exit_code == 0, result.output
        [new] = [c for c in emu.credentials() if c.consumer_key not in before]
        assert new.state == "pendingValidation"
        assert [(r.method, r.path) for r in new.rules] == [
            (r.method, r.path) for r in READ_ONLY_RULES
        ]
        assert "Read-only consumer key requested from" in result.output
        assert "OVH_READONLY_CONSUMER_KEY" in result.output
        assert emu.application_secret not in result.output
        [url] = [w for w in result.output.split() if "credentialToken=" in w]
        with urllib.request.urlopen(url, timeout=5) as page:  # the user validates it
            assert page.status == 200

        full = plan(repo, connect(emu, monkeypatch, fake))
        read_only_api = connect(emu, monkeypatch, fake, new.consumer_key)
        emu.clear_requests()
        seen = plan(repo, read_only_api)
        assert seen.has_changes and not seen.has_errors
        assert [t.unknown for t in seen.targets] == [() for _ in seen.targets]
        assert [(t.target.key, t.changes) for t in seen.targets] == [
            (t.target.key, t.changes) for t in full.targets
        ]
        assert mutations(emu) == []

        report = apply(repo, read_only_api)
        assert not report.ok
        failed = [r for r in report.results if r.status is HostStatus.FAILED]
        assert failed
        messages = [o.message for r in failed for o in r.outcomes if o.status is Status.FAILED]
        assert messages and all("lacks the access rule" in m for m in messages)
        assert {r.status for r in mutations(emu)} == {403}  # every write refused by OVH
        assert plan(repo, read_only_api).has_changes  # ... so nothing changed
