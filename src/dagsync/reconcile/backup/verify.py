"""`dagsync backup verify`: proof from the archives themselves, per server.

For each selected server, over its SSH connection (the server holds the passphrase and the
key its storage accepts): `borg list --json` of its archives, the newest younger than 26
hours (7 days and 2 hours for a weekly backup), the archives exactly those the declared
retention keeps, `borg check`, and with `restore_test` one file extracted into a temporary
folder and compared with the archive's own SHA-256 (and with the live file).  Nothing is
changed, no lock is taken: borg's own repository lock keeps a running job safe.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from dagsync.reconcile import escrow as escrows
from dagsync.reconcile.backup import job
from dagsync.reconcile.backup import resource as res
from dagsync.reconcile.backup.borgjson import Archive, BorgOutputError, parse_list, parse_offset
from dagsync.reconcile.backup.driver import build
from dagsync.reconcile.backup.retention import Freshness, RetentionCheck, check_retention, freshness
from dagsync.reconcile.daghosts import Host
from dagsync.reconcile.resource import Executor
from dagsync.reconcile.run import RunOptions, Selection, parallel
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository

CHECK_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Restore:
    path: str  # as stored in the archive (no leading slash)
    archive_sha256: str
    restored_sha256: str
    live_sha256: str | None

    @property
    def ok(self) -> bool:
        return bool(self.restored_sha256) and self.restored_sha256 == self.archive_sha256

    def describe(self) -> str:
        if not self.ok:
            return (
                f"/{self.path} restored with SHA-256 {self.restored_sha256[:16] or 'none'}, "
                f"the archive says {self.archive_sha256[:16]}: MISMATCH"
            )
        live = (
            "identical to the live file"
            if self.live_sha256 == self.restored_sha256
            else "the live file has changed since"
            if self.live_sha256
            else "no live file any more"
        )
        return f"/{self.path} restored byte for byte (SHA-256 {self.restored_sha256[:16]}…), {live}"


@dataclass(frozen=True)
class Verdict:
    key: str
    repository: str
    archives: tuple[Archive, ...] = ()
    fresh: Freshness | None = None
    retention: RetentionCheck | None = None
    check: str | None = None  # None: passed
    restore: Restore | None = None
    restore_error: str | None = None
    error: str | None = None
    escrow: str = "not checked"  # "ok", "MISSING", "DIFFERENT" or why it cannot be checked

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.fresh is not None
            and self.fresh.ok
            and self.retention is not None
            and self.retention.ok
            and self.check is None
            and self.restore_error is None
            and self.escrow not in ("MISSING", "DIFFERENT")
            and (self.restore is None or self.restore.ok)
        )

    def lines(self) -> list[str]:
        head = f"{self.key}  {self.repository}  {'OK' if self.ok else 'FAILED'}"
        if self.error is not None:
            return [head, f"  error: {self.error}"]
        out = [head]
        if self.fresh is not None:
            out.append(f"  {self.fresh.describe()}")
        if self.retention is not None:
            out.append(f"  retention: {self.retention.describe()}")
        out.append(f"  borg check: {'ok' if self.check is None else self.check}")
        out.append(f"  passphrase escrow: {self.escrow}")
        if self.restore is not None:
            out.append(f"  restore test: {self.restore.describe()}")
        if self.restore_error is not None:
            out.append(f"  restore test: FAILED: {self.restore_error}")
        return out

    def as_json(self) -> dict[str, Any]:
        newest = self.fresh.newest if self.fresh else None
        return {
            "server": self.key,
            "repository": self.repository,
            "ok": self.ok,
            "error": self.error,
            "archives": len(self.archives),
            "newest": None
            if newest is None
            else {"name": newest.name, "time": newest.time.isoformat()},
            "age_hours": (
                None
                if self.fresh is None or self.fresh.age is None
                else round(self.fresh.age.total_seconds() / 3600, 2)
            ),
            "fresh": self.fresh.ok if self.fresh else None,
            "retention": None
            if self.retention is None
            else {
                "rule": self.retention.declared.rule,
                "declared": self.retention.declared.count,
                "kept": len(self.retention.kept),
                "beyond": [a.name for a in self.retention.extra],
                "ok": self.retention.ok,
            },
            "check": "ok" if self.check is None else self.check,
            "restore": None
            if self.restore is None
            else {
                "path": "/" + self.restore.path,
                "ok": self.restore.ok,
                "sha256": self.restore.restored_sha256,
                "identical_to_live": self.restore.live_sha256 == self.restore.restored_sha256,
            },
            "restore_error": self.restore_error,
            "escrow": self.escrow,
        }


# --- commands and parsers ------------------------------------------------------------------


def list_command(d: res.BackupDesired, prefix: str) -> str:
    return (
        "date +%z && "
        + job.env_prefix(d.repository, d.storage.port)
        + f"borg list --json --glob-archives {shlex.quote(prefix + '*')}"
    )


def parse_listing(stdout: str) -> tuple[Archive, ...]:
    offset, _, rest = stdout.partition("\n")
    return parse_list(rest, parse_offset(offset))


def candidates_command(d: res.BackupDesired, archive: str, paths: Sequence[str]) -> str:
    """Regular files of `paths` in `archive`, with their SHA-256, at most 50."""
    args = " ".join(shlex.quote(p.lstrip("/")) for p in paths)
    return (
        job.env_prefix(d.repository, d.storage.port)
        + "borg list --format '{type} {sha256} {path}{NL}' "
        + f"{shlex.quote('::' + archive)} {args} | grep '^- ' | head -n 50"
    )


def pick_file(listing: str) -> tuple[str, str] | None:
    """(path, sha256) of the first regular file of a `candidates_command` listing."""
    for line in listing.split("\n"):
        kind, _, rest = line.partition(" ")
        sha, _, path = rest.partition(" ")
        if kind == "-" and len(sha) == 64 and path:
            return path, sha
    return None


def restore_command(d: res.BackupDesired, archive: str, path: str) -> str:
    """Extract one file into a fresh temporary folder; print its SHA-256 and the live one's."""
    where, live = shlex.quote(path), shlex.quote("/" + path)
    return (
        job.env_prefix(d.repository, d.storage.port)
        + 'd=$(mktemp -d) && trap \'rm -rf "$d"\' EXIT && cd "$d" && '
        + f"borg extract {shlex.quote('::' + archive)} {where} && "
        + f"printf 'restored %s\\n' \"$(sha256sum < {where} | cut -d' ' -f1)\" && "
        + f"if [ -f {live} ]; then printf 'live %s\\n' \"$(sha256sum < {live} | cut -d' ' -f1)\"; fi"
    )


def parse_restore(stdout: str) -> tuple[str, str | None]:
    found = dict(line.split(" ", 1) for line in stdout.split("\n") if " " in line)
    return found.get("restored", ""), found.get("live")


# --- running -------------------------------------------------------------------------------


def _restore(
    session: Executor, d: res.BackupDesired, newest: Archive, paths: Sequence[str]
) -> Restore:
    listing = session.run(candidates_command(d, newest.name, paths), timeout=CHECK_TIMEOUT)
    picked = pick_file(listing.stdout)
    if picked is None:
        raise ValueError(f"no regular file under {', '.join(paths)} in {newest.name}")
    path, sha = picked
    result = session.run(restore_command(d, newest.name, path), timeout=CHECK_TIMEOUT)
    if not result.ok:
        raise ValueError(
            f"borg extract failed ({result.exit_code}): {result.stderr.strip()[-300:]}"
        )
    restored, live = parse_restore(result.stdout)
    return Restore(path, sha, restored, live)


def restore_paths(d: res.BackupDesired) -> tuple[str, ...]:
    """Where to take the test file from: the declared site files, else /etc/hostname."""
    return d.files or ("/etc/hostname",)


def escrow_status(session: Executor, d: res.BackupDesired, where: escrows.Escrow) -> str:
    """Does the escrow hold the passphrase the server uses (compared by SHA-256)?"""
    if not where.supported:
        return f"cannot be checked ({where.describe()})"
    observed = res.parse(session.run(res.read(d)))
    if not isinstance(observed, res.BackupObserved) or observed.passphrase_sha256 is None:
        return "cannot be checked (no passphrase on the server)"
    held = escrows.escrowed_digest(where, d.key)
    if held is None:
        return "MISSING"
    return "ok" if held == observed.passphrase_sha256 else "DIFFERENT"


def _verify_one(
    host: Host,
    d: res.BackupDesired,
    creds: Any,
    options: RunOptions,
    restore_test: bool,
    now: dt.datetime,
    where: escrows.Escrow,
) -> Verdict:
    base = Verdict(host.target.key, d.repository)
    if host.endpoint is None:
        return Verdict(base.key, base.repository, error=host.error or "no address")
    session = HostSession(host.target, host.endpoint, creds, options.timeouts)
    try:
        session.open()
        verdict = _verify_session(session, base, d, restore_test, now)
        return replace(verdict, escrow=escrow_status(session, d, where))
    except HostError as exc:
        return Verdict(base.key, base.repository, error=str(exc))
    finally:
        session.close()


def _verify_session(
    session: Executor, base: Verdict, d: res.BackupDesired, restore_test: bool, now: dt.datetime
) -> Verdict:
    prefix = base.key.split("/", 1)[1] + "-"
    listed = session.run(list_command(d, prefix), timeout=CHECK_TIMEOUT)
    if not listed.ok:
        return Verdict(
            base.key,
            base.repository,
            error=f"borg list failed ({listed.exit_code}): {listed.stderr.strip()[-300:]}",
        )
    try:
        archives = parse_listing(listed.stdout)
    except BorgOutputError as exc:
        return Verdict(base.key, base.repository, error=str(exc))
    checked = session.run(
        job.env_prefix(d.repository, d.storage.port) + "borg check", timeout=CHECK_TIMEOUT
    )
    check = None if checked.ok else f"FAILED ({checked.exit_code}): {checked.stderr.strip()[-300:]}"
    restore, restore_error = None, None
    fresh = freshness(archives, now, d.retention.frequency)
    if restore_test and fresh.newest is not None:
        try:
            restore = _restore(session, d, fresh.newest, restore_paths(d))
        except ValueError as exc:
            restore_error = str(exc)
    elif restore_test:
        restore_error = "no archive to restore from"
    return Verdict(
        base.key,
        base.repository,
        archives,
        fresh,
        check_retention(archives, d.retention),
        check,
        restore,
        restore_error,
    )


def verify(
    repo: Repository,
    selection: Selection,
    overrides: Overrides,
    options: RunOptions,
    *,
    restore_test: bool = False,
    now: dt.datetime | None = None,
) -> list[Verdict]:
    """One verdict per selected server, in parallel."""
    run = build(repo, selection, overrides)
    creds = credentials(repo.settings.ssh_user, overrides)
    when = now or dt.datetime.now(dt.UTC)
    where = escrows.resolve(repo.settings.passphrase_escrow, repo.root)
    items = sorted(run.servers.items())

    def one(item: tuple[str, tuple[Host, res.BackupDesired | None]]) -> Verdict:
        key, (host, desired) = item
        if desired is None:
            return Verdict(key, "", error=host.error or "no backup declared")
        return _verify_one(host, desired, creds, options, restore_test, when, where)

    return parallel(one, items, options.parallel)
