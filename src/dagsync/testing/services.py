"""Debian's service daemons started inside a test host (no systemd there): what DAG's base
set-up of a server does before dagsync manages what runs on it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts
from dagsync.testing.hosts.system import TestHostsError

MARIADB_LOG = "/var/log/dagsync-test-mariadb.log"
_SBIN = "/usr/sbin:/usr/bin:/sbin:/bin"


def mariadb_available() -> bool:
    return all(shutil.which(t, path=_SBIN) for t in ("mariadbd", "mariadb", "mariadb-admin"))


def start_mariadb(host: TestHost, *, listen: str = "127.0.0.1", timeout: float = 60.0) -> None:
    """MariaDB in `host` (its own /var/lib/mysql and /run/mysqld), small buffers; returns
    once it answers on its socket."""
    host.run(
        "mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && "
        f"setsid mariadbd --user=mysql --bind-address={listen} --skip-name-resolve "
        "--innodb-buffer-pool-size=16M --performance-schema=OFF "
        f">{MARIADB_LOG} 2>&1 </dev/null &",
        check=True,
    )
    deadline = time.monotonic() + timeout
    while host.run("mariadb-admin ping >/dev/null 2>&1").returncode != 0:
        if time.monotonic() > deadline:
            log = host.run(f"tail -n 20 {MARIADB_LOG}").stdout
            raise TestHostsError(f"MariaDB did not start in {host.name}: {log}")
        time.sleep(0.2)


def databases(repo: Any, lab: TestHosts, keys: Sequence[str]) -> list[str]:
    """Start MariaDB on the test hosts (`lab.hosts`, one per `client/server` key, in order)
    of the servers that declare MariaDB databases; notes for the sandbox's summary."""
    wanted = {f"{c.id}/{s.name}" for c, s in repo.servers() for d in s.databases
              if d.engine.value in ("mariadb", "mysql")}  # fmt: skip
    hosts = [h for key, h in zip(keys, lab.hosts, strict=True) if key in wanted]
    if not hosts:
        return []
    if not mariadb_available():
        return ["databases: MariaDB missing (apt install mariadb-server): not started"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(start_mariadb, hosts))
    return [f"MariaDB started on {len(hosts)} server(s) declaring MariaDB databases"]
