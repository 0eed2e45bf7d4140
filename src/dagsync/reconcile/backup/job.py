"""What a server's backup looks like on disk: the job script, its cron file and the keys.

Everything here is pure: values in, text out.  The job script is rendered whole from the
server's YAML; it dumps the declared databases (one consistent dump per engine), runs
`borg create` over the declared scope, then `borg prune` with the declared retention and
`borg compact`, and records its last success in `STATUS_FILE` (read by `dagsync plan`).

Two environment variables exist for tests and drills, never set by cron:

- `DAGSYNC_BACKUP_TIMESTAMP` (UTC, `YYYY-MM-DDTHH:MM:SS`) forges the archive date
  (`borg create --timestamp`), e.g. to prove that prune keeps the declared number of days;
- `DAGSYNC_DUMP_COMMAND` replaces the dump tools: it is called as `COMMAND ENGINE DATABASE`
  and writes the dump on its standard output.  Without it, an engine whose dump tool is
  missing makes the job fail loudly: a database is never skipped in silence.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dagsync.model.base import SAFE_PATH_PATTERN, SSH_PUBLIC_KEY_RE
from dagsync.model.server import BackupScope, DbEngine, Frequency
from dagsync.reconcile.shell import UnsafeValue, comment, one_line

CONFIG_DIR = "/root/.config/dagsync"
PASSPHRASE_FILE = f"{CONFIG_DIR}/borg-passphrase"
SSH_KEY_FILE = f"{CONFIG_DIR}/borg-ssh-key"
KNOWN_HOSTS_FILE = f"{CONFIG_DIR}/borg-known_hosts"
JOB_FILE = "/etc/dagsync/backup-job"
CRON_FILE = "/etc/cron.d/dagsync-backup"
STATE_DIR = "/var/lib/dagsync"
STATUS_FILE = f"{STATE_DIR}/backup-status.json"
# The node exporter's textfile collector (Debian's default folder): the job's last success as
# metrics, scraped by DAG's monitoring (the BackupTooOld alert, `dagsync status`).
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
METRICS_FILE = f"{TEXTFILE_DIR}/dagsync_backup.prom"
PERIOD_SECONDS = {Frequency.DAILY: 86400, Frequency.WEEKLY: 7 * 86400}
JOB_LOCK = f"{STATE_DIR}/backup.lock"
DUMP_DIR = "/var/backups/dagsync/databases"
LOG_FILE = "/var/log/dagsync-backup.log"
STORAGE_USER = "borg"
DEV_SPACE_PATH = "/srv/dev-space"
# "Système": the configuration of the machine (not the packages, reinstalled from Debian).
SYSTEM_PATHS = ("/etc", "/root", "/usr/local/etc", "/var/spool/cron", "/var/lib/dpkg/status")
# Site files when the YAML names no path.
DEFAULT_FILE_PATHS = ("/srv", "/var/www")
EXCLUDES = (f"{CONFIG_DIR}/borg-ssh-key", "/root/.cache")
HEADER = "managed by dagsync: rendered from the server's YAML, do not edit"
WARNING_EXIT = 1  # borg: finished with warnings (e.g. a file vanished while read)


@dataclass(frozen=True)
class DatabaseDump:
    engine: DbEngine
    name: str

    @property
    def file_name(self) -> str:
        suffix = "pgdump" if self.engine is DbEngine.POSTGRESQL else "sql"
        return f"{self.engine.value}-{self.name}.{suffix}"


@dataclass(frozen=True)
class Retention:
    """What `borg prune` keeps: `count` archives, one per day (daily) or per week (weekly)."""

    frequency: Frequency
    days: int

    @property
    def rule(self) -> str:
        return "daily" if self.frequency is Frequency.DAILY else "weekly"

    @property
    def count(self) -> int:
        return self.days if self.frequency is Frequency.DAILY else math.ceil(self.days / 7)

    def prune_args(self) -> tuple[str, ...]:
        return (f"--keep-{self.rule}", str(self.count))


@dataclass(frozen=True)
class JobSpec:
    """Everything the job of one server needs, in plain values."""

    key: str  # client/server, for comments
    repository: str  # ssh://borg@host:port/path
    archive_prefix: str
    retention: Retention
    required_paths: tuple[str, ...]  # declared: the job fails if one is missing
    optional_paths: tuple[str, ...]  # taken when present (system configuration)
    excludes: tuple[str, ...]
    databases: tuple[DatabaseDump, ...]
    schedule: str  # HH:MM
    storage_port: int
    frequency: Frequency = Frequency.DAILY  # the backup-age alert's period


def scope_paths(
    scope: Sequence[BackupScope], paths: Sequence[str], dev_space_here: bool
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(required, optional, excluded) paths for a declared scope.

    The dev space is excluded unless the scope asks for it (CGV 6.1: "n'est pas inclus dans
    la sauvegarde par défaut"), even when it lies under a site path.
    """
    required: list[str] = []
    optional: list[str] = []
    if BackupScope.SYSTEM in scope:
        optional += SYSTEM_PATHS
    if BackupScope.FILES in scope:
        if paths:
            required += paths
        else:
            optional += DEFAULT_FILE_PATHS
    wants_dev = BackupScope.DEV_SPACE in scope and dev_space_here
    if wants_dev:
        required.append(DEV_SPACE_PATH)
    if BackupScope.DATABASES in scope:
        required.append(DUMP_DIR)
    excluded = list(EXCLUDES) + ([] if wants_dev else [DEV_SPACE_PATH])
    return _unique(required), _unique(p for p in optional if p not in required), _unique(excluded)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return tuple(out)


def repository_url(user: str, address: str, port: int, path: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"ssh://{user}@{host}:{port}{path}"


def borg_rsh(port: int) -> str:
    """The ssh command borg uses: our key only, the storage's pinned host key only."""
    return " ".join(
        [
            "ssh",
            "-i",
            SSH_KEY_FILE,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={KNOWN_HOSTS_FILE}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=30",
            "-p",
            str(port),
        ]
    )


def borg_environment(repository: str, port: int) -> tuple[tuple[str, str], ...]:
    """The variables every borg command of a server runs with (no secret among them)."""
    return (
        ("BORG_REPO", repository),
        ("BORG_PASSCOMMAND", f"cat {PASSPHRASE_FILE}"),
        ("BORG_RSH", borg_rsh(port)),
        ("BORG_RELOCATED_REPO_ACCESS_IS_OK", "no"),
        ("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "no"),
    )


def env_prefix(repository: str, port: int) -> str:
    """`export A=...; export B=...;` for a remote shell command."""
    return "".join(f"export {k}={shlex.quote(v)}; " for k, v in borg_environment(repository, port))


_DUMP_FUNCTION = """fail() { echo "dagsync-backup: $*" >&2; exit 2; }
dump() {  # ENGINE DATABASE FILE
  if [ -n "${DAGSYNC_DUMP_COMMAND:-}" ]; then
    $DAGSYNC_DUMP_COMMAND "$1" "$2" > "$3" || fail "dump of $1 database $2 failed"
    return 0
  fi
  case "$1" in
    mariadb|mysql)
      command -v mysqldump >/dev/null 2>&1 || fail "mysqldump not found: cannot dump $1 database $2"
      mysqldump --single-transaction --quick --routines --triggers --events \\
        --databases "$2" > "$3" || fail "mysqldump of $2 failed" ;;
    postgresql)
      command -v pg_dump >/dev/null 2>&1 || fail "pg_dump not found: cannot dump database $2"
      runuser -u postgres -- pg_dump -Fc "$2" > "$3" || fail "pg_dump of $2 failed" ;;
    *) fail "unknown database engine $1" ;;
  esac
}
"""


def render_job(spec: JobSpec) -> str:
    """The whole job script of one server.  Every value is quoted (`shlex.quote`) as one word;
    a NUL, which no shell word can hold, is refused."""
    q = shlex.quote
    values = [*spec.required_paths, *spec.optional_paths, *spec.excludes, spec.archive_prefix]
    values += [spec.repository, *(db.name for db in spec.databases)]
    if any("\x00" in v for v in values):
        raise UnsafeValue("a path or name of the backup job contains a NUL character")
    exports = "\n".join(
        f"export {k}={q(v)}" for k, v in borg_environment(spec.repository, spec.storage_port)
    )
    lines = [
        "#!/bin/sh",
        comment(f"{HEADER} ({spec.key})."),
        comment(
            f"Daily at {spec.schedule} from {CRON_FILE}; see dagsync.reconcile.backup.job for the test"
        ),
        "# variables DAGSYNC_BACKUP_TIMESTAMP and DAGSYNC_DUMP_COMMAND.",
        "set -eu",
        "umask 077",
        "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "export LANG=C.UTF-8",
        exports,
        _DUMP_FUNCTION.rstrip("\n"),
        f"mkdir -p {q(STATE_DIR)}",
        f"exec 9>{q(JOB_LOCK)}",
        'flock -n 9 || fail "another backup is running"',
        'stamp="${DAGSYNC_BACKUP_TIMESTAMP:-$(date -u +%Y-%m-%dT%H:%M:%S)}"',
        f"name={q(spec.archive_prefix)}\"$(printf '%s' \"$stamp\" | tr ':' '-')\"",
        *_dump_lines(spec.databases),
        *_path_lines(spec),
        "rc=0",
        'borg create --timestamp "$stamp" --compression lz4 --exclude-caches '
        + " ".join(f"--exclude {q(p)}" for p in spec.excludes)
        + ' "::$name" "$@" || rc=$?',
        f'[ "$rc" -le {WARNING_EXIT} ] || fail "borg create failed ($rc)"',
        "borg prune --glob-archives "
        + q(spec.archive_prefix + "*")
        + " "
        + " ".join(spec.retention.prune_args()),
        "borg compact",
        *_status_lines(),
        *_metrics_lines(PERIOD_SECONDS[spec.frequency]),
    ]
    return "\n".join(lines) + "\n"


def _dump_lines(databases: Sequence[DatabaseDump]) -> list[str]:
    # The dump folder is always made afresh, even empty: a scope with `databases` and no
    # database declared yet archives an empty folder instead of failing every night.
    q = shlex.quote
    out = [f"rm -rf {q(DUMP_DIR)}", f"mkdir -p {q(DUMP_DIR)}"]
    for db in databases:
        out.append(f"dump {q(db.engine.value)} {q(db.name)} {q(DUMP_DIR + '/' + db.file_name)}")
    return out


def _path_lines(spec: JobSpec) -> list[str]:
    q = shlex.quote
    out = ["set --"]
    for path in spec.optional_paths:
        out.append(f'if [ -e {q(path)} ]; then set -- "$@" {q(path)}; fi')
    for path in spec.required_paths:
        # The path is an argument of its own, quoted: never pasted inside the message.
        out.append(f"[ -e {q(path)} ] || fail 'declared path does not exist:' {q(path)}")
        out.append(f'set -- "$@" {q(path)}')
    out.append('[ "$#" -gt 0 ] || fail "nothing to back up"')
    return out


def _status_lines() -> list[str]:
    q = shlex.quote
    return [
        "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
        'printf \'{"archive": "%s", "time": "%sZ", "finished": "%s", '
        '"exit": %s}\\n\' "$name" "$stamp" "$finished" "$rc" > ' + q(STATUS_FILE + ".tmp"),
        f"mv -f {q(STATUS_FILE + '.tmp')} {q(STATUS_FILE)}",
    ]


def _metrics_lines(period: int) -> list[str]:
    """The last success for the node exporter's textfile collector (when it is installed),
    written whole then renamed: the collector never reads half a file."""
    q = shlex.quote
    tmp = q(METRICS_FILE + ".tmp")
    name = "dagsync_backup_last_success_timestamp_seconds"
    return [
        f"if [ -d {q(TEXTFILE_DIR)} ]; then",
        f"  {{ echo '# HELP {name} When the last backup finished.'",
        f"    echo '# TYPE {name} gauge'",
        f'    echo "{name} $(date -u +%s)"',
        "    echo '# HELP dagsync_backup_period_seconds How often the backup runs.'",
        "    echo '# TYPE dagsync_backup_period_seconds gauge'",
        f"    echo 'dagsync_backup_period_seconds {period}'; }} > {tmp}",
        f"  chmod 0644 {tmp}",
        f"  mv -f {tmp} {q(METRICS_FILE)}",
        "fi",
    ]


def render_cron(key: str, schedule: str, frequency: Frequency) -> str:
    """The cron file: at `schedule` (the server's local time, Europe/Paris), as root."""
    hour, minute = _hour_minute(schedule)
    weekday = "*" if frequency is Frequency.DAILY else "0"
    return (
        f"{comment(f'{HEADER} ({key}).')}\n"
        f"# Backup {frequency.value} at {hour:02d}:{minute:02d} "
        "(CGV Art. 4: between 01:00 and 06:00).\n"
        "SHELL=/bin/sh\n"
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        f"{minute} {hour} * * {weekday} root {JOB_FILE} >>{LOG_FILE} 2>&1\n"
    )


def _hour_minute(schedule: str) -> tuple[int, int]:
    hour, sep, minute = schedule.partition(":")
    if not (sep and hour.isascii() and hour.isdigit() and minute.isascii() and minute.isdigit()):
        raise UnsafeValue(f"schedule {schedule!r} is not HH:MM")
    if not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
        raise UnsafeValue(f"schedule {schedule!r} is not a time of day")
    return int(hour), int(minute)


_SAFE_PATH = re.compile(SAFE_PATH_PATTERN)
_KEY_NAME = re.compile(r"[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*")


def _key_type_and_blob(public_key: str) -> tuple[str, str]:
    """The type and base64 blob of an OpenSSH public key line (its comment is dropped)."""
    if SSH_PUBLIC_KEY_RE.fullmatch(public_key) is None:
        raise UnsafeValue(f"{one_line(public_key[:40], 'public key')!r}... is not an OpenSSH key")
    kind, blob = public_key.split(" ")[:2]
    return kind, blob


def restricted_key_line(repository_path: str, public_key: str, key: str) -> str:
    """The storage's `authorized_keys` line: this key may only serve its own repository.

    The forced command is run by the storage user's shell: the path must be a safe path
    (no quote, `$`, backquote or space can reach that shell) and `key` a client/server pair.
    """
    if _SAFE_PATH.fullmatch(repository_path) is None:
        raise UnsafeValue(f"repository path {repository_path!r} cannot be put in a key option")
    if _KEY_NAME.fullmatch(key) is None:
        raise UnsafeValue(f"{key!r} is not a client/server pair")
    kind, blob = _key_type_and_blob(public_key)
    return (
        f'command="borg serve --restrict-to-repository {repository_path}",restrict '
        f"{kind} {blob} dagsync-borg {key}"
    )


def restricted_path(line: str) -> str | None:
    """The repository an `authorized_keys` line is restricted to (None: not one of ours)."""
    marker = 'command="borg serve --restrict-to-repository '
    if not line.startswith(marker):
        return None
    path, sep, _ = line[len(marker) :].partition('"')
    return path if sep else None


def known_hosts_line(address: str, port: int, host_key: str) -> str:
    if not address or any(c.isspace() or not c.isprintable() or c in "[]#," for c in address):
        raise UnsafeValue(f"address {address!r} cannot be written in known_hosts")
    name = address if port == 22 else f"[{address}]:{port}"
    kind, blob = _key_type_and_blob(" ".join(host_key.split(" ")[:2]))
    return f"{name} {kind} {blob}\n"
