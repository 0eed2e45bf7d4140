"""Backups: the borg side of each server, and the `authorized_keys` of each storage host.

Server side (kind `backup`): a dedicated SSH key and a repository passphrase generated on
the server at the first apply (never in git, never printed, never overwritten), the
storage's pinned host key in a `known_hosts` of their own, the job script and its cron
file (rendered whole, written atomically), the repository initialised on the storage if
missing.  The job's last success is a read-only fact: a backup older than 26 hours shows
as a note in the plan.

Storage side (kind `backup-storage`): `dagsync.reconcile.backup.storage`.

The two sides depend on each other (the storage authorises a key the server generates; the
server initialises its repository once authorised): `dagsync.reconcile.backup.driver` orders them.
Read commands, parsers and the diff are pure; the server's changes are applied by
`dagsync.reconcile.backup.apply`, the storage's by `apply_storage`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dagsync.model.client import Client
from dagsync.model.server import BackupScope, Frequency, Server
from dagsync.reconcile.backup import job
from dagsync.reconcile.backup.job import Retention
from dagsync.reconcile.backup.retention import age_limit
from dagsync.reconcile.backup.storage import StorageObserved, StorageSpec
from dagsync.reconcile.core import Action, Change, Note, Unknown
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.shell import q

KIND = "backup"
# Server changes made before the storage authorises the server's key, and after.
PREPARE = ("ssh key", "passphrase", "known_hosts")
FINISH = ("repository", "escrow", "job script", "cron")


@dataclass(frozen=True)
class BackupDesired:
    key: str  # client/server
    storage: StorageSpec
    repo_path: str
    repository: str
    job: str
    cron: str
    known_hosts: str
    retention: Retention
    schedule: str
    files: tuple[str, ...] = ()  # declared site paths, where `backup verify` restores from


@dataclass(frozen=True)
class LastBackup:
    archive: str
    time: dt.datetime


@dataclass(frozen=True)
class BackupObserved:
    passphrase_sha256: str | None
    public_key: str | None
    job_sha256: str | None
    cron_sha256: str | None
    known_hosts_sha256: str | None
    last: LastBackup | None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- desired -------------------------------------------------------------------------------


def desired(client: Client, server: Server, storage: StorageSpec) -> BackupDesired:
    """The backup of `server` from the model alone."""
    key = f"{client.id}/{server.name}"
    backup = server.backup
    dev_here = server.hosts_dev_space or (
        client.dev_space is not None and client.dev_space.location == server.name
    )
    required, optional, excluded = job.scope_paths(backup.scope, backup.paths, dev_here)
    databases = (
        tuple(job.DatabaseDump(d.engine, d.name) for d in server.databases)
        if (BackupScope.DATABASES in backup.scope)
        else ()
    )
    repo_path = storage.repo_path(key)
    url = job.repository_url(storage.user, storage.address, storage.port, repo_path)
    retention = Retention(backup.frequency, backup.retention_days)
    spec = job.JobSpec(
        key,
        url,
        f"{server.name}-",
        retention,
        required,
        optional,
        excluded,
        databases,
        backup.schedule,
        storage.port,
        backup.frequency,
    )
    return BackupDesired(
        key,
        storage,
        repo_path,
        url,
        job.render_job(spec),
        job.render_cron(key, backup.schedule, backup.frequency),
        job.known_hosts_line(storage.address, storage.port, storage.host_key),
        retention,
        backup.schedule,
        tuple(p for p in required if p != job.DUMP_DIR),
    )


# --- read ----------------------------------------------------------------------------------

_FILES = (("job", job.JOB_FILE), ("cron", job.CRON_FILE), ("known", job.KNOWN_HOSTS_FILE))


def read(desired: BackupDesired) -> str:
    """Digests of the managed files (never the passphrase), the public key, the status."""
    lines = [
        f"if [ -s {q(job.PASSPHRASE_FILE)} ]; then "
        f"printf 'passphrase\\t%s\\n' \"$(tr -d ' \\n\\r\\t' < {q(job.PASSPHRASE_FILE)} "
        "| sha256sum | cut -d' ' -f1)\"; fi",
        f"if [ -s {q(job.SSH_KEY_FILE + '.pub')} ]; then "
        f"printf 'pubkey\\t%s\\n' \"$(head -n1 {q(job.SSH_KEY_FILE + '.pub')})\"; fi",
    ]
    for tag, path in _FILES:
        lines.append(
            f"if [ -f {q(path)} ]; then "
            f"printf '{tag}\\t%s\\n' \"$(sha256sum < {q(path)} | cut -d' ' -f1)\"; fi"
        )
    lines.append(
        f"if [ -s {q(job.STATUS_FILE)} ]; then "
        f"printf 'status\\t%s\\n' \"$(tr -d '\\n' < {q(job.STATUS_FILE)})\"; fi"
    )
    lines.append("true")
    return "\n".join(lines) + "\n"


def parse(result: CommandResult) -> BackupObserved | Unknown:
    if not result.ok:
        return Unknown(
            f"reading the backup files failed ({result.exit_code}): {result.stderr.strip()[-200:]}"
        )
    found = dict(line.split("\t", 1) for line in result.stdout.split("\n") if "\t" in line)
    return BackupObserved(
        found.get("passphrase") or None,
        " ".join(found["pubkey"].split()[:2]) if found.get("pubkey") else None,
        found.get("job") or None,
        found.get("cron") or None,
        found.get("known") or None,
        _status(found.get("status")),
    )


def _status(text: str | None) -> LastBackup | None:
    if not text:
        return None
    try:
        data = json.loads(text)
        when = dt.datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
        return LastBackup(
            str(data["archive"]), when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        )
    except (ValueError, KeyError, TypeError):
        return None


def encode(observed: BackupObserved) -> Any:
    last = observed.last
    return {
        "passphrase_sha256": observed.passphrase_sha256,
        "public_key": observed.public_key,
        "job_sha256": observed.job_sha256,
        "cron_sha256": observed.cron_sha256,
        "known_hosts_sha256": observed.known_hosts_sha256,
        "last": None if last is None else {"archive": last.archive, "time": last.time.isoformat()},
    }


# --- diff ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EscrowState:
    """Where the recovery copy goes (None: nowhere dagsync can write) and what it holds."""

    where: str | None
    digest: str | None  # SHA-256 of the escrowed passphrase, None: no copy


def _file_change(
    resource: str, observed_sha: str | None, content: str, path: str, mode: str, what: str
) -> list[Change]:
    if observed_sha == sha256(content):
        return []
    action = Action.CREATE if observed_sha is None else Action.UPDATE
    verb = "write" if observed_sha is None else "rewrite (drifted or changed)"
    return [
        Change(
            KIND,
            action,
            resource,
            f"{verb} {path}: {what}",
            payload={"path": path, "content": content, "mode": mode},
        )
    ]


def _credentials(
    d: BackupDesired, o: BackupObserved, storage: StorageObserved | Unknown
) -> tuple[list[Change | Note], bool]:
    """Key and passphrase changes, and whether the repository may be initialised."""
    out: list[Change | Note] = []
    repo_exists = isinstance(storage, StorageObserved) and d.repo_path in storage.repositories
    ok = True
    if o.passphrase_sha256 is None and repo_exists:
        out.append(
            Note(
                KIND,
                f"refused: {d.repository} exists but the server has no passphrase "
                f"({job.PASSPHRASE_FILE}): restore it from the escrow copy",
            )
        )
        ok = False
    elif o.passphrase_sha256 is None:
        out.append(
            Change(
                KIND,
                Action.CREATE,
                "passphrase",
                f"generate the repository passphrase in {job.PASSPHRASE_FILE} "
                "(kept on the server, never shown)",
                payload={"key": d.key},
            )
        )
    if o.public_key is None:
        out.append(
            Change(
                KIND,
                Action.CREATE,
                "ssh key",
                f"generate the server's borg SSH key {job.SSH_KEY_FILE}",
                payload={"key": d.key},
            )
        )
    return out, ok


def _repository(
    d: BackupDesired, storage: StorageObserved | Unknown, escrow: EscrowState
) -> list[Change | Note]:
    if isinstance(storage, Unknown):
        return [
            Note(KIND, f"repository {d.repo_path} on {d.storage.name}: unknown ({storage.reason})")
        ]
    if d.repo_path in storage.repositories:
        return []
    if escrow.where is None:
        return [
            Note(
                KIND,
                f"refused: {d.repository} is not initialised because its passphrase "
                "could not be escrowed (passphrase_escrow is not a folder)",
            )
        ]
    return [
        Change(
            KIND,
            Action.CREATE,
            "repository",
            f"initialise {d.repository} (repokey-blake2)",
            payload={"repository": d.repository, "port": d.storage.port},
        )
    ]


def _escrow(
    d: BackupDesired, o: BackupObserved, escrow: EscrowState, allowed: bool
) -> list[Change | Note]:
    if escrow.where is None or not allowed:
        return []
    if o.passphrase_sha256 is not None and o.passphrase_sha256 == escrow.digest:
        return []
    action = Action.CREATE if escrow.digest is None else Action.UPDATE
    return [
        Change(
            KIND,
            action,
            "escrow",
            f"recovery copy of the passphrase and repository key to {escrow.where}",
            payload={"key": d.key, "repository": d.repository, "port": d.storage.port},
        )
    ]


def _age(d: BackupDesired, o: BackupObserved, now: dt.datetime) -> list[Note]:
    limit = age_limit(d.retention.frequency)
    if o.last is None:
        return [Note(KIND, "no backup has completed yet")] if o.job_sha256 else []
    age = now - o.last.time
    if age < limit:
        return []
    return [
        Note(
            KIND,
            f"last backup too old: {o.last.archive} at {o.last.time:%Y-%m-%d %H:%M} "
            f"UTC, {age.total_seconds() / 3600:.1f} h ago "
            f"(limit {limit.total_seconds() / 3600:g} h)",
        )
    ]


def diff(
    desired: BackupDesired,
    observed: BackupObserved,
    storage: StorageObserved | Unknown,
    escrow: EscrowState,
    now: dt.datetime,
) -> list[Change | Note]:
    """The server's changes, given what its storage holds and what the escrow holds."""
    out, allowed = _credentials(desired, observed, storage)
    out += _file_change(
        "known_hosts",
        observed.known_hosts_sha256,
        desired.known_hosts,
        job.KNOWN_HOSTS_FILE,
        "0600",
        f"pin the host key of {desired.storage.name}",
    )
    if allowed:
        out += _repository(desired, storage, escrow)
    out += _escrow(desired, observed, escrow, allowed)
    out += _file_change(
        "job script",
        observed.job_sha256,
        desired.job,
        job.JOB_FILE,
        "0700",
        f"dumps, borg create, prune --keep-{desired.retention.rule} {desired.retention.count}",
    )
    out += _file_change(
        "cron",
        observed.cron_sha256,
        desired.cron,
        job.CRON_FILE,
        "0644",
        f"daily at {desired.schedule}"
        if desired.retention.frequency is Frequency.DAILY
        else f"weekly at {desired.schedule}",
    )
    out += _age(desired, observed, now)
    return out
