"""The databases resource without a host: the SQL renderer against hostile names, the parser
from recorded `mariadb --batch` output, the diff from desired + observed to changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from dagsync.reconcile.appstack import databases as dbs
from dagsync.reconcile.appstack import sql
from dagsync.reconcile.core import Action, Change, DiffOptions, Note, Unknown
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.resource import ApplyOptions, CommandResult
from dagsync.reconcile.run import Selection
from dagsync.reconcile.shell import UnsafeValue
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
ALL = frozenset(sql.PRIVILEGES["all"])
RW = frozenset(sql.PRIVILEGES["read_write"])


def desired_of(server: str) -> tuple[dbs.DbDesired, tuple[Note, ...]]:
    repo = load_repository(REPO, validate=False)
    return dbs.desired(server_inputs(repo, Selection(servers=(server,)), NOW)[0])


# --- renderer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("render", "value"),
    [
        (sql.database, "shop`; DROP DATABASE mysql; --"),
        (sql.database, "Shop"),
        (sql.database, ""),
        (sql.user, "a'@'%' IDENTIFIED BY 'x"),
        (sql.user, "root\n"),
        (sql.host, "%' OR '1'='1"),
        (sql.host, "local\\host"),
        (sql.host, "a b"),
        (sql.mariadb_host, "10.0.0.1/33"),
        (sql.mariadb_host, "10.0.0.1/24"),  # host bits set: not a network
        (sql.mariadb_host, "2001:db8::/32"),
    ],
)
def test_a_hostile_name_never_reaches_a_statement(render: object, value: str) -> None:
    with pytest.raises(UnsafeValue):
        render(value)  # type: ignore[operator]


def test_statements_quote_each_part() -> None:
    assert sql.grant("read_only", "shop", "shop_ro", "10.0.0.0/255.255.255.0") == (
        "GRANT SELECT ON `shop`.* TO 'shop_ro'@'10.0.0.0/255.255.255.0';"
    )
    assert sql.revoke_all("shop", "a", "%") == "REVOKE ALL PRIVILEGES ON `shop`.* FROM 'a'@'%';"
    assert sql.mariadb_host("203.0.113.32/28") == "203.0.113.32/255.255.255.240"


def test_the_create_script_never_holds_a_password_and_passes_it_on_stdin() -> None:
    script = dbs.create_user_script("shop_app", "localhost", [["shop", "read_write"]])
    assert "openssl rand -hex 24" in script
    assert "IDENTIFIED BY" in script and '"$pw" | mariadb --batch' in script
    calls = [line for line in script.splitlines() if "mariadb " in line]
    assert calls and all("| mariadb --batch" in line for line in calls)  # statements on stdin
    assert "--password" not in script and "MYSQL_PWD" not in script


# --- desired -------------------------------------------------------------------------------


def test_users_are_one_account_per_declared_host_with_mariadbs_netmask_form() -> None:
    state, notes = desired_of("velo-savoie/db1")
    assert notes == ()
    assert state.databases == ("velo_shop",)
    assert [(a.user, a.host, a.grants) for a in state.accounts] == [
        ("erp_sync", "203.0.113.32/255.255.255.240", (("velo_shop", "read_only"),)),
        ("shop_app", "203.0.113.41", (("velo_shop", "read_write"),)),
        ("shop_app", "203.0.113.42", (("velo_shop", "read_write"),)),
    ]


def test_postgresql_databases_are_noted_not_managed() -> None:
    state, notes = desired_of("cime-conseil/prod1")
    assert state == dbs.DbDesired((), ())
    assert notes == (Note("databases", "database portal (postgresql): not managed yet"),)


# --- parse ---------------------------------------------------------------------------------


RECORDED = (
    "client yes\nserver up\n"
    "managed\tshop_app\tlocalhost\n"
    "db\tinformation_schema\ndb\tshop\n"
    "account\troot\tlocalhost\topen\naccount\tshop_app\tlocalhost\tlocked\n"
    "grant\t'shop_app'@'localhost'\tshop\tSELECT\n"
)


def test_the_read_is_parsed_from_recorded_output() -> None:
    observed = dbs.parse(CommandResult(0, RECORDED, ""))
    assert observed == dbs.DbObserved(
        True,
        True,
        frozenset({"information_schema", "shop"}),
        frozenset({("root", "localhost", False), ("shop_app", "localhost", True)}),
        frozenset({("shop_app", "localhost", "shop", "SELECT")}),
        frozenset({("shop_app", "localhost")}),
    )


def test_a_server_that_is_not_running_or_not_installed_is_said_so() -> None:
    down = dbs.parse(CommandResult(0, "client yes\nserver down\n", ""))
    assert down == dbs.DbObserved(True, False)
    assert dbs.parse(CommandResult(0, "client no\n", "")) == dbs.DbObserved(False, False)


@pytest.mark.parametrize(
    "result",
    [
        CommandResult(3, "client yes\nserver up\n", "ERROR 2002 (HY000): Can't connect"),
        CommandResult(0, "client yes\nserver up\naccount\troot\n", ""),
        CommandResult(0, "client yes\nserver up\ngrant\troot@localhost\tshop\tSELECT\n", ""),
        CommandResult(0, "client maybe\n", ""),
    ],
)
def test_an_unreadable_server_is_unknown_never_empty(result: CommandResult) -> None:
    assert isinstance(dbs.parse(result), Unknown)


# --- diff ----------------------------------------------------------------------------------

SHOP = dbs.DbDesired(("shop",), (dbs.Account("shop_app", "localhost", (("shop", "read_write"),)),))


def observed(**fields: object) -> dbs.DbObserved:
    base = dbs.DbObserved(True, True, frozenset({"shop"}))
    return replace(base, **fields)  # type: ignore[arg-type]


def grants(user: str, db: str, privileges: frozenset[str]) -> frozenset[tuple[str, str, str, str]]:
    return frozenset((user, "localhost", db, p) for p in privileges)


def diff(want: dbs.DbDesired, have: dbs.DbObserved, destroy: bool = False) -> list[object]:
    return list(dbs.diff(want, have, DiffOptions(destroy)))


def test_a_fresh_server_gets_its_database_and_users() -> None:
    out = diff(SHOP, observed(databases=frozenset()))
    assert [(c.action, c.payload["op"]) for c in out if isinstance(c, Change)] == [
        (Action.CREATE, "database"),
        (Action.CREATE, "create-user"),
    ]


def test_a_converged_server_gives_nothing() -> None:
    have = observed(
        accounts=frozenset({("shop_app", "localhost", False)}),
        managed=frozenset({("shop_app", "localhost")}),
        grants=grants("shop_app", "shop", RW),
    )
    assert diff(SHOP, have) == []


def test_extra_grants_are_revoked_and_missing_ones_granted() -> None:
    have = observed(
        accounts=frozenset({("shop_app", "localhost", False)}),
        managed=frozenset({("shop_app", "localhost")}),
        grants=grants("shop_app", "shop", ALL) | grants("shop_app", "other", RW),
    )
    [change] = diff(SHOP, have)
    assert isinstance(change, Change) and change.payload["op"] == "grants"
    assert change.payload["revoke"] == ["other", "shop"]
    assert change.payload["grants"] == [["shop", "read_write"]]


def test_an_account_dagsync_did_not_create_is_never_touched() -> None:
    have = observed(accounts=frozenset({("shop_app", "localhost", False), ("app", "%", False)}))
    out = diff(SHOP, have, destroy=True)
    assert all(isinstance(o, Note) for o in out)
    assert [o.text for o in out] == [  # type: ignore[attr-defined]
        "user shop_app@localhost exists and was not created by dagsync: left alone",
        "user app@% was not created by dagsync: left alone",
    ]


def test_a_removed_user_is_locked_and_dropped_only_with_allow_destroy() -> None:
    have = observed(
        accounts=frozenset({("gone", "localhost", False)}),
        managed=frozenset({("gone", "localhost")}),
    )
    empty = dbs.DbDesired(("shop",), ())
    [lock] = diff(empty, have)
    assert isinstance(lock, Change) and lock.action is Action.LOCK
    [drop] = diff(empty, have, destroy=True)
    assert isinstance(drop, Change) and drop.action is Action.DELETE
    locked = replace(have, accounts=frozenset({("gone", "localhost", True)}))
    assert diff(empty, locked) == []


def test_a_declared_user_found_locked_is_unlocked() -> None:
    have = observed(
        accounts=frozenset({("shop_app", "localhost", True)}),
        managed=frozenset({("shop_app", "localhost")}),
        grants=grants("shop_app", "shop", RW),
    )
    [change] = diff(SHOP, have)
    assert isinstance(change, Change) and change.payload["unlock"] is True


def test_a_stopped_server_proposes_nothing() -> None:
    out = diff(SHOP, dbs.DbObserved(True, False))
    assert out == [
        Note("databases", "MariaDB is not running: 1 database(s) cannot be read or created")
    ]


def test_without_an_escrow_no_user_is_created() -> None:
    class Never:
        target = None

        def run(self, *a: object, **k: object) -> CommandResult:
            raise AssertionError("nothing may run")

    [change] = [c for c in diff(SHOP, observed()) if isinstance(c, Change)]
    [outcome] = dbs.apply(Never(), [change], ApplyOptions(escrow=None))  # type: ignore[arg-type]
    assert outcome.status.value == "failed" and "escrow" in outcome.message
