"""The apply scope since the last apply: every target whose desired state differs from what
was last applied to it.

Each apply record keeps, per target it applied wholly and successfully, the digest of that
target's desired state at the applied commit (`dagsync.reconcile.digests`).  The scope at
HEAD is every target

- whose digest now differs from the digest of its last successful apply, whatever changed
  it (its client's files, `policies/`, DAG's settings, another client's network-wide
  blocklist, a server moving to another storage host...);
- or whose latest apply did not succeed (failed, interrupted, skipped): it stays in scope
  until an apply of it succeeds; a successful re-run clears it;
- or that was never applied with a digest: compared with the fallback revision (CI gives the
  push's "before"), or in scope when there is none.

Only records on commits of HEAD's history count, newest (by finish time) first (`history`).
When every target was applied by this dagsync and `policies/` is unchanged, the quick scope
reads only the clients that changed (`_quick`). The scope's types, the digests of a revision
and a pull request's scope are in `dagsync.reconcile.scope`.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dagsync.gitops.notes import SUCCESS, noted_commits, read_note
from dagsync.gitops.repo import GitRepo, open_repo, resolve, run
from dagsync.reconcile.scope import (
    ApplyScope,
    TargetScope,
    config_paths,
    digests_at,
    digests_of_revision,
)


@dataclass(frozen=True)
class Applied:
    """One target's entry in one apply record."""

    result: str
    digest: str | None
    commit: str
    finished_at: dt.datetime
    version: str = ""  # the dagsync that recorded it


@dataclass(frozen=True)
class History:
    """Per target key: its latest apply entry and its latest successful one with a digest."""

    latest: Mapping[str, Applied] = field(default_factory=dict)
    success: Mapping[str, Applied] = field(default_factory=dict)


# --- what was applied -------------------------------------------------------------------------


def history(repo: GitRepo, head: str) -> History:
    """Every apply entry recorded on a commit of `head`'s history, per target.

    "Latest" is by history, not by clocks (runners' clocks differ): an entry on a newer
    commit is later than one on an older commit, and within one note a record appended
    later is later (notes are append-only; the CI's record job keeps their order).
    """
    noted = noted_commits(repo)
    if not noted:
        return History()
    ancestors = run(repo, "rev-list", "--topo-order", head).split()
    latest: dict[str, Applied] = {}
    success: dict[str, Applied] = {}
    for sha in reversed(ancestors):  # oldest first: a later entry replaces an earlier one
        blob = noted.get(sha)
        if blob is None:
            continue
        for record in read_note(repo, blob, sha[:10], in_order=True).records:
            for server in record.servers:
                key = f"{record.client}/{server.server}"
                entry = Applied(
                    server.result, server.digest, sha, record.finished_at, record.dagsync_version
                )
                latest[key] = entry
                if server.result in SUCCESS and server.digest:
                    success[key] = entry
    return History(latest, success)


# --- the scope -------------------------------------------------------------------------------


def since_last_apply(
    root: Path, fallback: str | None = None, head: str = "HEAD", *, quick: bool = True
) -> ApplyScope:
    """The targets to apply at `head` (its work tree): see the module docstring.

    With `quick` (the default), when every target has a successful apply recorded by this
    dagsync and `policies/` is as it was then, only the clients whose folder changed since
    are read (`_quick`); otherwise every client is (the same answer, at validation's cost).
    """
    repo = open_repo(root)
    head_sha = resolve(repo, head)
    applied = history(repo, head_sha)
    if quick:
        found = _quick(repo, head_sha, applied)
        if found is not None:
            return replace(found, base=fallback)
    now = digests_at(repo.root)
    before: dict[str, str] | None = None
    targets = []
    for key, value in now.items():
        latest, success = applied.latest.get(key), applied.success.get(key)
        if latest is not None and latest.result not in SUCCESS:
            reason = f"its last apply, at {latest.commit[:10]}, was {latest.result}"
            targets.append(TargetScope(key, value, success.digest if success else None, reason))
        elif success is not None:
            if success.digest != value:
                reason = f"desired state changed since its last apply at {success.commit[:10]}"
                targets.append(TargetScope(key, value, success.digest, reason))
        else:
            if before is None:
                before = digests_of_revision(repo, fallback) if fallback else {}
            old = before.get(key)
            if fallback is None:
                targets.append(TargetScope(key, value, None, "never applied"))
            elif old != value:
                why = "new" if old is None else "desired state changed"
                reason = f"never applied with a digest; {why} since {fallback}"
                targets.append(TargetScope(key, value, old, reason))
    removed = tuple(
        TargetScope(key, None, entry.digest, "gone from the configuration")
        for key, entry in sorted(applied.success.items())
        if key not in now
    )
    return ApplyScope("since-last-apply", head_sha, fallback, len(now), tuple(targets), removed)


# --- the quick scope: only the clients that changed since their targets' last apply -----------

QUICK_LIMIT = 400  # clients to read (at their applied commits and now) before reading them all


def _trees(repo: GitRepo, rev: str) -> tuple[dict[str, str], str | None]:
    """The tree of each `clients/<id>` at `rev`, and the tree of `policies`."""
    clients: dict[str, str] = {}
    for line in run(repo, "ls-tree", "-z", rev, "--", repo.git_path("clients/")).split("\0"):
        if line:
            meta, path = line.split("\t", 1)
            if meta.split()[1] == "tree":
                clients[path.rsplit("/", 1)[-1]] = meta.split()[2]
    policies = run(repo, "ls-tree", "-z", rev, "--", repo.git_path("policies")).split("\0")[0]
    return clients, (policies.split()[2] if policies else None)


def _keys(repo: GitRepo, rev: str, root: Path) -> tuple[set[str], dict[str, str]]:
    """Every target key at `rev`, from file names and policies/dag.yaml (nothing parsed but
    that file): `<client>/<server>` and `@ovh` per `clients/<id>/servers/<name>.yaml`."""
    # lazy: importing it here keeps annotated_types, bcrypt, cryptography (+13) out of this module's load
    from dagsync.reconcile.daghosts import dag_hosts_of, fleet_of

    # lazy: importing it here keeps annotated_types, cython_runtime, dagsync.config (+8) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    names = run(repo, "ls-tree", "-r", "-z", "--name-only", rev, "--", repo.git_path("clients/"))
    keys: set[str] = set()
    for path in filter(None, names.split("\0")):
        rel = repo.rel(path) or ""
        parts = rel.split("/")
        if len(parts) == 4 and parts[2] == "servers" and parts[3].endswith(".yaml"):
            key = f"{parts[1]}/{parts[3].removesuffix('.yaml')}"
            keys |= {key, f"{key}@ovh"}
    settings = load_policies(root, Collector(None)).dag
    if settings is None:
        return set(), {}
    return keys | set(dag_hosts_of(settings)), fleet_of(settings)


def _parts_at(repo: GitRepo, rev: str | None, clients: set[str]) -> dict[str, Any] | None:
    """The `ClientPart` of each of `clients` at `rev` (None: the work tree); None when one
    cannot be read (then the whole configuration is read instead)."""
    # lazy: importing it here keeps annotated_types, bcrypt, cryptography (+15) out of this module's load
    from dagsync.reconcile.digestpool import load_client

    # lazy: importing it here keeps annotated_types, bcrypt, cryptography (+15) out of this module's load
    from dagsync.reconcile.digests import client_part

    # lazy: importing it here keeps annotated_types, cython_runtime, dagsync.config (+8) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    def parts(root: Path) -> dict[str, Any] | None:
        policies = load_policies(root, Collector(None))
        if policies.dag is None:
            return None
        out: dict[str, Any] = {}
        for client in sorted(clients):
            if not (root / "clients" / client / "client.yaml").is_file():
                continue  # not there at that revision
            found = Collector(None)
            config = load_client(root, client, found)
            if found.findings or config is None:
                return None
            out[client] = client_part(config, policies.dag, policies.cgv)
        return out

    if rev is None:
        return parts(repo.root)
    wanted = [repo.git_path("policies"), *(repo.git_path(f"clients/{c}") for c in clients)]
    with tempfile.TemporaryDirectory(prefix="dagsync-scope-") as tmp:
        _extract(repo, rev, wanted, Path(tmp))
        return parts(Path(tmp))


def _extract(repo: GitRepo, rev: str, paths: list[str], out: Path) -> None:
    listing = run(repo, "ls-tree", "-r", "-z", "--full-tree", rev, "--", *paths).split("\0")
    for line in filter(None, listing):
        meta, path = line.split("\t", 1)
        mode, kind, blob = meta.split()
        rel = repo.rel(path)
        if kind != "blob" or rel is None or mode == "120000":
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(repo.repo.odb.stream(bytes.fromhex(blob)).read())


def _quick(repo: GitRepo, head: str, applied: History) -> ApplyScope | None:
    """The scope from the clients changed since each target's last successful apply, or
    None when it cannot be told that way (then every client is read).

    Exact, because a target's digest depends only on its client's folder, `policies/`,
    dagsync's rendering code (`renderer_id`), and what other clients give to every target: the network-wide
    blocklist (every server), the servers each storage keeps, each client's mail (the mail
    hosts), the OVH services (the account).  So a target whose last successful apply was at
    commit C keeps its digest when `policies/` and dagsync are the same as at C, its client's
    folder is unchanged since C, and the clients whose folder did change since C give the
    same to it at C and now.
    """
    # lazy: importing it here keeps annotated_types, bcrypt, cryptography (+15) out of this module's load
    from dagsync.reconcile.digests import renderer_id

    if run(repo, "status", "--porcelain", "--", *config_paths(repo)).strip():
        return None  # the work tree is not HEAD
    keys, fleet = _keys(repo, head, repo.root)
    if not keys or any(k not in applied.success for k in keys):
        return None  # a target never applied: compare with the fallback (reads everything)
    successes = {k: applied.success[k] for k in keys}
    if any(e.version != renderer_id() for e in successes.values()):
        return None  # another dagsync (version or rendering code) may render differently
    head_trees, head_policies = _trees(repo, head)
    changed: dict[str, set[str]] = {}
    for commit in {e.commit for e in successes.values()}:
        trees, policies = _trees(repo, commit)
        if policies != head_policies:
            return None
        changed[commit] = {
            c for c in trees.keys() | head_trees.keys() if trees.get(c) != head_trees.get(c)
        }
    if sum(len(c) for c in changed.values()) > QUICK_LIMIT:
        return None
    now = _parts_at(repo, None, set().union(*changed.values()))
    then = {c: _parts_at(repo, c, ids) for c, ids in changed.items()}
    if now is None or any(p is None for p in then.values()):
        return None
    targets = []
    for key in sorted(keys):
        latest, success = applied.latest[key], successes[key]
        if latest.result not in SUCCESS:
            reason = f"its last apply, at {latest.commit[:10]}, was {latest.result}"
            targets.append(TargetScope(key, None, success.digest, reason))
            continue
        ids = changed[success.commit]
        before = then[success.commit] or {}
        after = {c: now[c] for c in ids if c in now}
        if _moved(key, before, after, fleet.get(key)):
            reason = f"desired state changed since its last apply at {success.commit[:10]}"
            targets.append(TargetScope(key, None, success.digest, reason))
    removed = tuple(
        TargetScope(key, None, entry.digest, "gone from the configuration")
        for key, entry in sorted(applied.success.items())
        if key not in keys
    )
    return ApplyScope("since-last-apply", head, None, len(keys), tuple(targets), removed)


def _moved(key: str, before: dict[str, Any], after: dict[str, Any], of: str | None) -> bool:
    """Does target `key` take something different from the changed clients now (`after`)
    than at its last apply (`before`)?  Both map each changed client to its part; `of` names
    the field of the parts that a host rendered from every client (mail, monitoring) takes."""
    # lazy: importing it here keeps annotated_types, bcrypt, cryptography (+13) out of this module's load
    from dagsync.reconcile.daghosts import DAG, OVH_ACCOUNT

    def every(parts: dict[str, Any], field: str) -> list[Any]:
        return sorted(x for p in parts.values() for x in getattr(p, field))

    client = key.split("/", 1)[0]
    if key == OVH_ACCOUNT:
        return every(before, "services") != every(after, "services")
    if of is not None:
        return sorted(getattr(p, of) for p in before.values()) != sorted(
            getattr(p, of) for p in after.values()
        )
    if client == DAG:  # a storage host: the servers it keeps
        name = key.split("/", 1)[1]
        kept = [pair for pair in every(before, "storages") if pair[1] == name]
        return kept != [pair for pair in every(after, "storages") if pair[1] == name]
    if key.endswith("@ovh"):
        old, new = before.get(client), after.get(client)
        if client not in before and client not in after:
            return False
        return old is None or new is None or dict(old.ovh).get(key) != dict(new.ovh).get(key)
    if every(before, "shared") != every(after, "shared"):
        return True  # the network-wide blocklist lands on every server
    if sorted(set(every(before, "scopes"))) != sorted(set(every(after, "scopes"))):
        return True  # the CrowdSec scopes' ports follow their order: every server's bouncer
    if client not in before and client not in after:
        return False
    old, new = before.get(client), after.get(client)
    return old is None or new is None or dict(old.servers).get(key) != dict(new.servers).get(key)
