"""The desired state of every selected server, from the model alone (no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.model.policy import DagSettings
from dagsync.model.server import Role
from dagsync.reconcile.core import Note, Target
from dagsync.reconcile.hosts.blocklist import blocked_for
from dagsync.reconcile.hosts.registry import HOST_RESOURCES
from dagsync.reconcile.resource import Net, ServerInputs
from dagsync.reconcile.run import Selection
from dagsync.validate.repository import Repository


@dataclass(frozen=True)
class HostDesired:
    """What one server should look like, per resource kind, and what the reviewer should know."""

    inputs: ServerInputs
    states: tuple[tuple[str, Any], ...]  # (resource kind, desired state), registry order
    notes: tuple[Note, ...]

    @property
    def target(self) -> Target:
        return self.inputs.target

    def reads(self) -> tuple[tuple[str, str], ...]:
        by_kind = {r.KIND: r for r in HOST_RESOURCES}
        return tuple((kind, by_kind[kind].read(state)) for kind, state in self.states)


def dag_keys(settings: DagSettings) -> frozenset[str]:
    """The type and base64 key ("ssh-ed25519 AAAA...") of each key of policies/dag.yaml: the
    observer's and the storage and mail hosts' host keys (ACC008 refuses them as client keys;
    the renderers refuse them again)."""
    keys = [settings.observer.key if settings.observer else None]
    keys += [s.host_key for s in settings.backup_storages]
    keys += [m.host_key for m in settings.mail_hosts]
    return frozenset(" ".join(k.split()[:2]) for k in keys if k is not None)


def server_inputs(
    repo: Repository,
    selection: Selection,
    now: dt.datetime,
    extra_management: Sequence[Net] = (),
    acme: tuple[tuple[str, str], ...] = (),
) -> list[ServerInputs]:
    management = tuple(repo.settings.management_ranges) + tuple(extra_management)
    out = []
    for config, server in repo.servers():
        if not selection.wants(config.id, server.name):
            continue
        target = Target(config.id, server.name, production=server.role is Role.PRODUCTION)
        blocked = blocked_for(config.id, repo.clients, repo.settings)
        requests = tuple((r.id, r.summary) for r in config.requests)
        keys = dag_keys(repo.settings)
        out.append(
            ServerInputs(
                target,
                config.client,
                server,
                management,
                blocked,
                now,
                keys,
                requests,
                acme,
                repo.settings.monitoring,
            )
        )
    _refuse_unknown(repo, selection)
    return out


def _refuse_unknown(repo: Repository, selection: Selection) -> None:
    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.daghosts import DAG, dag_hosts

    known_clients = {c.id for c in repo.clients} | {DAG}  # `dag`: DAG's own hosts
    for client in selection.clients:
        if client not in known_clients:
            raise DagsyncError(f"no client `{client}` (known: {', '.join(sorted(known_clients))})")
    names = {s.name for _, s in repo.servers()} | {f"{c.id}/{s.name}" for c, s in repo.servers()}
    names |= set(dag_hosts(repo))
    for server in selection.servers:
        if server not in names:
            raise DagsyncError(f"no server `{server}` in the repository")


def host_desired(inputs: ServerInputs) -> HostDesired:
    states: list[tuple[str, Any]] = []
    notes: list[Note] = []
    for resource in HOST_RESOURCES:
        state, resource_notes = resource.desired(inputs)
        states.append((resource.KIND, state))
        notes.extend(resource_notes)
    return HostDesired(inputs, tuple(states), tuple(notes))
