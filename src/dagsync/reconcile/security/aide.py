"""File integrity with AIDE (CGV Art. 4, « analyse des fichiers systèmes pour détecter toute
modification ou intrusion »): its configuration, its database's initialisation after an apply
(so that dagsync's own changes are not alerts), its check, and the reading of its report.

AIDE reads a path as a regular expression: dagsync writes only paths of letters, digits and
`/_.-`, with every `.` escaped.  The report is AIDE 0.18's JSON (`report_format=json`, set
before `report_url`, which it applies to).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dagsync.reconcile.security.install import File, Step
from dagsync.reconcile.security.text import visible
from dagsync.reconcile.shell import UnsafeValue, atomic_write, join, q

CONFIG = "/etc/dagsync/aide.conf"
DB_DIR = "/var/lib/dagsync-aide"
DATABASE = f"{DB_DIR}/aide.db"
LAST_CHECK = f"{DB_DIR}/last-check.json"
CRON = "/etc/cron.d/dagsync-aide"
# What a Debian server's integrity rests on; volatile files under them are left out.
WATCHED = ("/etc", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/lib", "/boot")
EXCLUDED = ("/etc/mtab", "/etc/adjtime", "/etc/resolv.conf", "/etc/ld.so.cache")
_PATH = re.compile(r"/[A-Za-z0-9_./-]*")


def _regex(path: str) -> str:
    if not _PATH.fullmatch(path) or "/../" in f"{path}/":
        raise UnsafeValue(f"AIDE path {path!r}: only letters, digits and /_.- are written")
    return path.replace(".", "\\.")


def config(
    header: str, watched: Sequence[str] = WATCHED, excluded: Sequence[str] = EXCLUDED
) -> str:
    lines = [
        f"# {header}",
        f"database_in=file:{DATABASE}",
        f"database_out=file:{DATABASE}.new",
        "gzip_dbout=no",
        "log_level=warning",
        "report_format=json",
        "report_url=stdout",
        "Watch = p+i+n+u+g+s+m+c+sha256",
        *(f"!{_regex(p)}$" for p in excluded),
        *(f"{_regex(p)} Watch" for p in watched),
    ]
    return "\n".join(lines) + "\n"


def cron(header: str, hour: int = 4) -> str:
    """The daily check, its JSON report kept for `dagsync status`."""
    if not 0 <= hour <= 23:
        raise UnsafeValue(f"hour {hour} is not 0-23")
    check = f"aide --check -c {CONFIG} > {LAST_CHECK}.new; mv {LAST_CHECK}.new {LAST_CHECK}"
    return f"# {header}\n0 {hour} * * * root {check}\n"


def files(
    header: str, watched: Sequence[str] = WATCHED, excluded: Sequence[str] = EXCLUDED
) -> tuple[File, ...]:
    return (File(CONFIG, config(header, watched, excluded)), File(CRON, cron(header)))


def write_steps(managed: Sequence[File]) -> list[Step]:
    """The files, the configuration checked by AIDE itself before it is renamed into place."""
    out = [Step("aide folder", join("mkdir", "-p", DB_DIR))]
    for f in managed:
        check = 'aide --config-check -c "$tmp"' if f.path == CONFIG else None
        script = atomic_write(f.path, f.content.encode(), mode=f.mode, check=check)
        out.append(Step(f"write {f.path}", script, f.content.encode()))
    return out


def init_step() -> Step:
    """A new database of what is there now: the last step of an apply that changed files."""
    return Step(
        "aide init",
        f"aide --init -c {q(CONFIG)} >/dev/null && mv -f {q(DATABASE + '.new')} {q(DATABASE)}",
    )


def check_step() -> Step:
    """Run the check now and keep its report where the daily check keeps it; print it."""
    report = q(LAST_CHECK)
    script = (
        f"aide --check -c {q(CONFIG)} > {report}.new; rc=$?; mv {report}.new {report}; "
        f"cat {report}; [ $rc -lt 14 ]"
    )
    return Step("aide check", script)


@dataclass(frozen=True)
class Integrity:
    """What AIDE saw differ from its database; `error` when the report could not be read."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    error: str | None = None

    @property
    def clean(self) -> bool:
        return self.error is None and not (self.added or self.removed or self.changed)

    def lines(self, target: str) -> list[str]:
        """Status lines for `target`, one per file."""
        if self.error is not None:
            return [f"{target}: integrity unknown ({self.error})"]
        return [
            f"{target}: file {what} since the last apply: {path}"
            for what, paths in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", self.changed),
            )
            for path in paths
        ]


def parse_report(text: str) -> Integrity:
    """AIDE's JSON report; anything else is an error, never "clean"."""
    try:
        data = json.loads(text)
    except ValueError:
        return Integrity(error="no AIDE report")
    if not isinstance(data, dict) or ("number_of_entries" not in data and "outline" not in data):
        return Integrity(error="not an AIDE report")

    def paths(key: str) -> tuple[str, ...]:
        """The file names as `text.visible` shows them: a server-supplied name is never
        printed raw (a newline or an escape in it would forge output lines)."""
        value = data.get(key) or {}
        return tuple(sorted(visible(str(p)) for p in value)) if isinstance(value, dict) else ()

    return Integrity(paths("added"), paths("removed"), paths("changed"))
