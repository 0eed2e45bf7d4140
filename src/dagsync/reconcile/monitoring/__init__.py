"""DAG's supervision on Prometheus (CGV Art. 4): configuration rendered from git.

`render.render` turns policies/dag.yaml's `monitoring:` and the clients' servers into the
files of a monitoring host; `load` reads what it needs from a repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagsync.errors import RepositoryError
from dagsync.model.monitoring import Monitoring
from dagsync.model.policy import CgvPolicy
from dagsync.repository import Repository, load_repository


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


def load(root: Path, *, validate: bool = True) -> Inputs:
    """The repository at `root` with its CGV versions."""
    from dagsync.check import Collector, load_policies

    repo = load_repository(root, validate=validate)
    return inputs(repo, load_policies(repo.root, Collector(None)).cgv)
