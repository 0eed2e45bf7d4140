"""MariaDB (Debian's) in a test host: databases, users and grants exactly as declared, passwords
generated on the server and escrowed outside git, never in any output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import write_yaml
from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.config.yamlio import load
from dagsync.reconcile.escrow import ESCROW_ENV
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
)
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.testing.services import MARIADB_LOG, mariadb_available, start_mariadb

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-appstack-db")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("db")
CLIENT = "velo-savoie"
DB1 = f"clients/{CLIENT}/servers/db1.yaml"
KINDS = ("databases",)


@dataclass
class World:
    lab: TestHosts
    root: Path
    escrow: Path
    controller: str  # the address the test connects from (the bridge's)

    @property
    def db1(self) -> TestHost:
        return self.lab["db1"]

    def passwords(self) -> dict[str, str]:
        data = json.loads((self.escrow / CLIENT / "db1.mariadb.json").read_text())
        return {str(k): str(v) for k, v in data["secrets"].items()}


def yaml(path: Path) -> Any:
    data, problem = load(path.read_text())
    assert problem is None, problem
    return data


def databases(controller: str) -> list[dict[str, Any]]:
    return [
        {
            "engine": "mariadb",
            "name": "velo_shop",
            "users": [
                {
                    "name": "shop_app",
                    "privileges": "read_write",
                    "hosts": ["localhost", controller],
                },
                {"name": "erp_sync", "privileges": "read_only", "hosts": [f"{controller}/32"]},
            ],
        },
        {
            "engine": "mariadb",
            "name": "velo_stats",
            "users": [{"name": "stats", "privileges": "all", "hosts": [controller]}],
        },
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := skip_reason():
        pytest.skip(reason)
    if not mariadb_available():
        pytest.skip("Debian's mariadb-server is not installed")
    base = tmp_path_factory.mktemp("db")
    with pytest.MonkeyPatch.context() as mp:
        for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV):
            mp.delenv(var, raising=False)
        mp.setenv(SANDBOX_ENV, "1")
        mp.setenv(ESCROW_ENV, str(base / "escrow"))
        with testhosts(names=("db1",), state_dir=base / "th", network=NET) as lab:
            host = lab["db1"]
            start_mariadb(host, listen="0.0.0.0")
            controller = f"{NET.prefix}.1"
            root = base / "repo"
            for folder in ("policies", "schemas"):
                shutil.copytree(REPO / folder, root / folder)
            shutil.copytree(REPO / f"clients/{CLIENT}", root / f"clients/{CLIENT}")
            data = yaml(root / DB1)
            data["databases"] = databases(controller)
            write_yaml(root / DB1, data)
            overrides = {
                "version": 1,
                "hosts": {
                    f"{CLIENT}/db1": {
                        "address": host.address,
                        "port": 22,
                        "host_key": host.host_key_public,
                    }
                },
                "ssh_key": str(lab.client_key),
            }
            (root / ".dagsync-sandbox").mkdir()
            (root / ".dagsync-sandbox/hosts.json").write_text(json.dumps(overrides))
            yield World(lab, root, base / "escrow", controller)


def scope(w: World, **changes: Any) -> Scope:
    return Scope(w.root, **{"servers": ("db1",), "kinds": KINDS, "connect_timeout": 3.0, **changes})


def sql_as(w: World, user: str, statement: str) -> subprocess.CompletedProcess[str]:
    """`statement` run by `user` over TCP from the controller's address, with its escrowed
    password (in the environment, never on a command line)."""
    env = {**os.environ, "MYSQL_PWD": w.passwords()[user]}
    argv = ["mariadb", "--batch", "--skip-column-names", "--connect-timeout=5", "-h",
            w.db1.address, "-u", user, "-e", statement]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)


@pytest.fixture(scope="module")
def applied(world: World) -> Iterator[tuple[World, list[str]]]:
    """The first apply, and every output of the module's runs (for the secret grep)."""
    outputs: list[str] = []
    yield world, outputs


def run_captured(
    outputs: list[str], capsys: pytest.CaptureFixture[str], fn: Any, *args: Any, **kw: Any
) -> int:
    capsys.readouterr()
    code = int(fn(*args, **kw))
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err]
    return code


def plan(w: World, outputs: list[str], capsys: pytest.CaptureFixture[str], fmt: str = "json",
         **changes: Any) -> tuple[int, str]:  # fmt: skip
    code = run_captured(outputs, capsys, run_plan, scope(w, **changes), fmt, detailed_exitcode=True)
    return code, outputs[-2]


def apply(w: World, outputs: list[str], capsys: pytest.CaptureFixture[str], **changes: Any) -> int:
    return run_captured(outputs, capsys, run_apply, scope(w, **changes), yes=True, record=False)


def test_declared_users_use_their_own_database_and_cannot_read_another(
    applied: tuple[World, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    w, outputs = applied
    code, text = plan(w, outputs, capsys, "text")
    assert code == 2 and "create user shop_app@localhost" in text
    assert f"create user erp_sync@{w.controller}/255.255.255.255" in text
    assert apply(w, outputs, capsys) == 0, outputs[-2]
    assert set(w.passwords()) == {"shop_app", "erp_sync", "stats"}
    assert oct((w.escrow / CLIENT / "db1.mariadb.json").stat().st_mode & 0o777) == "0o600"
    mode = w.db1.run("stat -c '%a %U' /etc/dagsync/db/mariadb-shop_app.pw", check=True).stdout
    assert mode.split() == ["600", "root"]
    stats = sql_as(
        w, "stats", "CREATE TABLE velo_stats.t (n INT); INSERT INTO velo_stats.t VALUES (7)"
    )
    assert stats.returncode == 0, stats.stderr
    shop = sql_as(w, "shop_app", "SELECT 1")
    assert shop.returncode == 0, shop.stderr
    denied = sql_as(w, "shop_app", "SELECT n FROM velo_stats.t")
    assert denied.returncode != 0 and "denied" in denied.stderr
    assert sql_as(w, "erp_sync", "SHOW DATABASES").stdout.split() == [
        "information_schema", "velo_shop"
    ]  # fmt: skip


def test_a_second_apply_changes_nothing_and_a_hand_made_user_is_left_alone(
    applied: tuple[World, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    w, outputs = applied
    w.db1.run("mariadb -e \"CREATE USER 'handmade'@'localhost'\"", check=True)
    code, out = plan(w, outputs, capsys)
    data = json.loads(out)
    assert code == 0, out
    notes = [n["text"] for t in data["targets"] for n in t["notes"]]
    assert notes == ["user handmade@localhost was not created by dagsync: left alone"]
    assert apply(w, outputs, capsys) == 0
    users = w.db1.run("mariadb -N -e 'SELECT user FROM mysql.user'", check=True).stdout.split()
    assert "handmade" in users


def test_a_grant_removed_from_git_is_revoked_and_a_removed_user_is_locked_then_dropped(
    applied: tuple[World, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    w, outputs = applied
    assert sql_as(w, "shop_app", "CREATE TABLE IF NOT EXISTS velo_shop.o (n INT)").returncode != 0
    w.db1.run("mariadb -e 'CREATE TABLE IF NOT EXISTS velo_shop.o (n INT)'", check=True)
    assert sql_as(w, "shop_app", "INSERT INTO velo_shop.o VALUES (1)").returncode == 0
    data = yaml(w.root / DB1)
    data["databases"][0]["users"][0]["privileges"] = "read_only"
    del data["databases"][0]["users"][1]  # erp_sync
    write_yaml(w.root / DB1, data)
    code, text = plan(w, outputs, capsys, "text")
    assert code == 2
    assert "set the grants of shop_app@localhost" in text
    assert f"lock user erp_sync@{w.controller}/255.255.255.255" in text
    assert apply(w, outputs, capsys) == 0
    denied = sql_as(w, "shop_app", "INSERT INTO velo_shop.o VALUES (2)")
    assert denied.returncode != 0 and "denied" in denied.stderr
    assert sql_as(w, "shop_app", "SELECT n FROM velo_shop.o").stdout.split() == ["1"]
    locked = sql_as(w, "erp_sync", "SELECT 1")
    assert locked.returncode != 0 and "locked" in locked.stderr.lower()
    code, text = plan(w, outputs, capsys, "text")
    assert code == 0, text
    code, text = plan(w, outputs, capsys, "text", allow_destroy=True)
    assert code == 2 and f"drop user erp_sync@{w.controller}/255.255.255.255" in text
    assert apply(w, outputs, capsys, allow_destroy=True) == 0
    users = w.db1.run("mariadb -N -e 'SELECT user FROM mysql.user'", check=True).stdout.split()
    assert "erp_sync" not in users and "handmade" in users
    assert plan(w, outputs, capsys, allow_destroy=True)[0] == 0


def test_no_generated_password_appears_in_any_output(
    applied: tuple[World, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    w, outputs = applied
    for fmt in ("text", "json", "markdown"):
        plan(w, outputs, capsys, fmt)
    logs = w.db1.run(f"cat {MARIADB_LOG} /root/.mariadb_history 2>/dev/null")
    repo_files = [p.read_text(errors="replace") for p in w.root.rglob("*") if p.is_file()]
    passwords = w.passwords()
    assert len(passwords) == 3 and len(outputs) >= 10
    for secret in passwords.values():
        for text in [*outputs, logs.stdout, *repo_files]:
            assert secret not in text
