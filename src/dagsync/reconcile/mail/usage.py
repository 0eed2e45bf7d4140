"""Reading each shared-mail domain's mail store size on DAG's mail hosts (`dagsync mail usage`).

Read only: every mail host runs the usage command of `dagsync.reconcile.mail.files`; a
domain's size is the largest any host reports, and the hosts that could not be read are
listed.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagsync.reconcile.core import Unknown
from dagsync.reconcile.daghosts import observe_all
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.mail.resource import _hosts
from dagsync.reconcile.run import RunOptions
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository


def read_usage(
    repo: Repository, overrides: Overrides, options: RunOptions, domains: Sequence[str]
) -> tuple[dict[str, int], list[str]]:
    """Each domain's mail store size in bytes, the largest found on any mail host (they hold
    the same mail or a domain lives on one), and the hosts that could not be read."""
    hosts = _hosts(repo, overrides)
    for host in hosts:
        host.read = mc.usage_command(domains)
        host.parse = lambda r: mc.parse_usage(r.stdout) if r.ok else Unknown(r.stderr.strip())
    observe_all(hosts, options, credentials(repo.settings.ssh_user, overrides), keep=False)
    sizes: dict[str, int] = {}
    failed = []
    for host in hosts:
        if isinstance(host.observed, dict):
            for domain, size in host.observed.items():
                sizes[domain] = max(size, sizes.get(domain, 0))
        else:
            reason = host.error or getattr(host.observed, "reason", "not read")
            failed.append(f"{host.target.key}: {reason}")
    return sizes, failed
