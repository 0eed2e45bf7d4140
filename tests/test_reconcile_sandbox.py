"""`dagsync sandbox up`, then `plan` and `apply` on the example repository, then `down`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.errors import DagsyncError
from dagsync.reconcile.inventory import HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV
from dagsync.sandbox import down, status, up
from dagsync.testing import hosts as th
from dagsync.testing.hosts import Network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-sandbox")]

REPO = Path(__file__).resolve().parents[1]
NET = Network("10.205.0", bridge="dssbxt0", ns_prefix="dssbxt-", veth_prefix="dssbxtv")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if reason := th.skip_reason():
        pytest.skip(reason)
    for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "repo"
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def _leftovers() -> list[str]:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = [p.name for p in Path("/sys/class/net").iterdir()]
    return [n for n in names.split() + links if n.startswith(("dssbxt", NET.bridge))]


def test_sandbox_up_then_plan_and_apply_work_on_the_repository_then_down_removes_all(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        assert "6 test hosts" in up(repo, NET)
        overrides = json.loads((repo / ".dagsync-sandbox/hosts.json").read_text())
        assert sorted(overrides["hosts"]) == [
            "alpine-books/shop1",
            "cime-conseil/dev1",
            "cime-conseil/prod1",
            "velo-savoie/db1",
            "velo-savoie/web1",
            "velo-savoie/web2",
        ]
        assert overrides["management_ranges"] == ["10.205.0.1/32"]
        with pytest.raises(DagsyncError, match="already up"):
            up(repo, NET)
        assert run_plan(Scope(repo), "text", detailed_exitcode=True) == 2
        assert "on 6 of 6 server(s)" in capsys.readouterr().out
        assert run_apply(Scope(repo), yes=True, record=False) == 0
        assert "Apply: 6 applied." in capsys.readouterr().out
        assert run_plan(Scope(repo), "text", detailed_exitcode=True) == 0
        assert "sandbox: up (6 hosts" in status(repo)
    finally:
        down(repo)
    assert not (repo / ".dagsync-sandbox").exists()
    assert _leftovers() == []
    assert status(repo) == "sandbox: down"
