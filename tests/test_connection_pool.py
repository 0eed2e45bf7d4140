"""A plan logs in once per host, whichever drivers read it (reconcile/transport/pool.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dagsync.reconcile.core import Target
from dagsync.reconcile.transport import session as session_module
from dagsync.reconcile.transport.errors import Unreachable
from dagsync.reconcile.transport.inventory import Credentials, Endpoint
from dagsync.reconcile.transport.pool import ConnectionPool, active, shared_connections
from dagsync.reconcile.transport.session import HostSession

WEB1 = Endpoint("10.9.0.11", 22, "ssh-ed25519 AAAAweb1", "declared")
DB1 = Endpoint("10.9.0.12", 22, "ssh-ed25519 AAAAdb1", "declared")
ROOT = Credentials(user="root", key_file=None)
OBSERVER = Credentials(user="dagsync-observer", key_file=None)


class FakeConnection:
    def __init__(self, endpoint: Endpoint, user: str) -> None:
        self.endpoint, self.user, self.closed = endpoint, user, 0

    def close(self) -> None:
        self.closed += 1


class Connector:
    """Counts logins; the first login to each host waits until `release` is set, so that
    every thread asks for it while it is being made."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.logins: list[tuple[str, str]] = []
        self.made: list[FakeConnection] = []
        self.fail = fail or set()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, endpoint: Endpoint, credentials: Credentials, timeout: float) -> Any:
        with self._lock:
            self.logins.append((endpoint.address, credentials.user))
        self.release.wait(5)
        if endpoint.address in self.fail:
            raise Unreachable(f"SSH with {endpoint.address}:22 failed: timed out")
        connection = FakeConnection(endpoint, credentials.user)
        with self._lock:
            self.made.append(connection)
        return connection


def _many(pool: ConnectionPool, connector: Connector, endpoint: Endpoint, n: int) -> list[Any]:
    def one(_: int) -> Any:
        try:
            return pool.get(endpoint, ROOT, 5.0, connector)
        except Unreachable as exc:
            return exc

    with ThreadPoolExecutor(n) as threads:
        futures = [threads.submit(one, i) for i in range(n)]
        connector.release.set()
        return [f.result() for f in futures]


def test_drivers_asking_for_one_host_at_once_share_one_login() -> None:
    pool, connector = ConnectionPool(), Connector()
    got = _many(pool, connector, WEB1, 4)
    assert connector.logins == [("10.9.0.11", "root")]
    assert len({id(c) for c in got}) == 1 and got[0] is connector.made[0]


def test_a_failed_login_is_the_error_of_every_driver_without_a_second_try() -> None:
    pool, connector = ConnectionPool(), Connector(fail={"10.9.0.11"})
    got = _many(pool, connector, WEB1, 3)
    assert connector.logins == [("10.9.0.11", "root")]
    assert [str(e) for e in got] == ["SSH with 10.9.0.11:22 failed: timed out"] * 3


def test_another_host_or_another_user_is_another_login() -> None:
    pool, connector = ConnectionPool(), Connector()
    connector.release.set()
    pool.get(WEB1, ROOT, 5.0, connector)
    pool.get(DB1, ROOT, 5.0, connector)
    pool.get(WEB1, OBSERVER, 5.0, connector)
    pool.get(WEB1, ROOT, 5.0, connector)
    assert connector.logins == [
        ("10.9.0.11", "root"),
        ("10.9.0.12", "root"),
        ("10.9.0.11", "dagsync-observer"),
    ]
    assert pool.logins() == 3
    pool.close()
    assert [c.closed for c in connector.made] == [1, 1, 1]


def test_a_session_closing_leaves_the_shared_connection_to_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = Connector()
    connector.release.set()
    monkeypatch.setattr(session_module, "connect", connector)
    with shared_connections():
        first = HostSession(Target("velo-savoie", "web1"), WEB1, ROOT).open()
        second = HostSession(Target("velo-savoie", "web1"), WEB1, ROOT).open()
        first.close()
        assert connector.made[0].closed == 0  # the other driver still reads over it
        second.close()
        assert connector.made[0].closed == 0
    assert connector.made[0].closed == 1  # closed once, when the plan ends
    assert connector.logins == [("10.9.0.11", "root")]


def test_without_a_plan_under_way_each_session_logs_in_and_closes_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = Connector()
    connector.release.set()
    monkeypatch.setattr(session_module, "connect", connector)
    assert active() is None
    for _ in range(2):
        HostSession(Target("velo-savoie", "web1"), WEB1, ROOT).open().close()
    assert len(connector.logins) == 2 and [c.closed for c in connector.made] == [1, 1]


def test_a_session_that_locks_leaves_the_pool_for_a_connection_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = Connector()
    connector.release.set()
    monkeypatch.setattr(session_module, "connect", connector)
    taken: list[Any] = []
    monkeypatch.setattr(
        HostSession, "_take_lock", lambda self, holder, ttl: taken.append(self._connection)
    )
    with shared_connections():
        reader = HostSession(Target("velo-savoie", "web1"), WEB1, ROOT).open()
        locker = HostSession(Target("velo-savoie", "web1"), WEB1, ROOT).open()
        locker.lock("alice@laptop pid 1", 60)
        shared: Any = reader._connection
        assert taken == [connector.made[1]] and connector.made[1] is not shared
        locker.close()
        assert connector.made[1].closed == 1 and connector.made[0].closed == 0
    assert [c.closed for c in connector.made] == [1, 1]


def test_overlapping_plans_share_one_pool_closed_when_the_last_ends() -> None:
    connector = Connector()
    connector.release.set()
    with shared_connections() as outer:
        with shared_connections() as inner:
            assert inner is outer
            inner.get(WEB1, ROOT, 5.0, connector)
        assert active() is outer and connector.made[0].closed == 0
    assert active() is None and connector.made[0].closed == 1
