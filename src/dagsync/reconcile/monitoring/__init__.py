"""DAG's supervision on Prometheus (CGV Art. 4): configuration rendered from git.

`render.render` turns policies/dag.yaml's `monitoring:` and the clients' servers into the
files of a monitoring host; `load` reads what it needs from a repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagsync import __version__
from dagsync.errors import RepositoryError
from dagsync.model.monitoring import Monitoring
from dagsync.model.policy import CgvPolicy
from dagsync.validate.repository import ClientConfig, Repository, load_repository


@dataclass(frozen=True)
class Inputs:
    """Everything the monitoring configuration is rendered from."""

    repo: Repository
    monitoring: Monitoring
    cgv: Mapping[str, CgvPolicy]


def inputs(repo: Repository, cgv: Mapping[str, CgvPolicy]) -> Inputs:
    if repo.settings.monitoring is None:
        raise RepositoryError(f"{repo.root}/policies/dag.yaml declares no `monitoring:`")
    return Inputs(repo, repo.settings.monitoring, cgv)


def watched_state(config: ClientConfig, policy: CgvPolicy | None) -> dict[str, Any]:
    """What the monitoring configuration takes from one client (its share of the monitoring
    hosts' digest, `reconcile.digests`): a change here is a change of their files."""
    terms = (
        (policy.alert_interval_max_minutes, policy.uptime_interval_max_minutes) if policy else ()
    )
    return {
        "client": config.id,
        "contract": config.client.contract.cgv_version,
        "root access": config.client.contract.root_access,
        "maintenance": config.client.maintenance,
        "name": config.client.name,
        "contacts": config.client.contacts,
        "articles": [t.article for t in terms],
        "servers": [
            (s.name, s.role, s.ips, s.supervision, s.app_server, s.databases)
            for s in config.servers
        ],
        "renderer": __version__,
    }


def load(root: Path, *, validate: bool = True) -> Inputs:
    """The repository at `root` with its CGV versions."""
    # lazy: importing it here keeps cython_runtime, dagsync.config, dagsync.findings (+3) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    repo = load_repository(root, validate=validate)
    return inputs(repo, load_policies(repo.root, Collector(None)).cgv)
