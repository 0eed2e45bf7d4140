"""The readers of the report's host sources, over SSH: Prometheus on the first monitoring
host that answers, and each server's borg archive list (the listing of `backup verify`,
without its `borg check` or restore test: a report reads, it does not test)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagsync.reconcile import monitoring
from dagsync.reconcile.backup.borgjson import BorgOutputError
from dagsync.reconcile.backup.driver import build
from dagsync.reconcile.backup.resource import BackupDesired
from dagsync.reconcile.backup.verify import CHECK_TIMEOUT, list_command, parse_listing
from dagsync.reconcile.daghosts import Host
from dagsync.reconcile.run import RunOptions, Selection, parallel
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import load_overrides, overrides_path
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.report import prometheus
from dagsync.report.build import ArchiveTimes, Readers
from dagsync.report.model import Month, NotMonitored, ServerAvailability, Why

Times = tuple[dt.datetime, ...] | str


def live_readers(root: Path, options: RunOptions) -> Readers:
    inputs = monitoring.load(root)
    overrides = load_overrides(overrides_path(root))

    def availability(client: str, month: Month) -> tuple[ServerAvailability, ...] | NotMonitored:
        if not prometheus.hosts_declared(inputs):
            return NotMonitored("no monitoring host in policies/dag.yaml", Why.NO_SOURCE)
        found, problems = prometheus.read(inputs, overrides, options, client, month)
        if found is None:
            return NotMonitored(
                "no monitoring host answered: " + "; ".join(problems), Why.UNREACHABLE
            )
        return found

    def archives(client: str) -> ArchiveTimes | NotMonitored:
        run = build(inputs.repo, Selection((client,)), overrides)
        creds = credentials(inputs.repo.settings.ssh_user, overrides)

        def one(item: tuple[str, tuple[Host, BackupDesired | None]]) -> tuple[str, Times]:
            key, (host, desired) = item
            server = key.split("/", 1)[1]
            if desired is None or host.endpoint is None:
                return server, host.error or "no backup declared"
            session = HostSession(host.target, host.endpoint, creds, options.timeouts)
            try:
                session.open()
                listed = session.run(list_command(desired, server + "-"), timeout=CHECK_TIMEOUT)
                if not listed.ok:
                    return server, f"borg list failed ({listed.exit_code})"
                return server, tuple(a.time for a in parse_listing(listed.stdout))
            except (HostError, BorgOutputError) as exc:
                return server, str(exc)
            finally:
                session.close()

        return dict(parallel(one, sorted(run.servers.items()), options.parallel))

    return Readers(availability, archives)
