"""Antivirus with ClamAV (CGV Art. 4, « Système antivirus : interventions préventives et
curatives »): scheduled scans of the sites' folders, their report kept for `dagsync status`,
and the reading of that report.

Signatures live in `DATABASE` (freshclam's from DAG's mirror in production; in tests a
signature file the test generates, e.g. for the EICAR test string).  Before a scan result is
trusted, `clamscan` must load the database (`check_step`): a malformed signature file makes
ClamAV exit 2, which is an error, never "clean".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dagsync.reconcile.security.install import File, Step
from dagsync.reconcile.security.text import visible
from dagsync.reconcile.shell import UnsafeValue, q

DATABASE = "/var/lib/clamav"
STATE = "/var/lib/dagsync-clamav"
LAST_SCAN = f"{STATE}/last-scan.txt"
CRON = "/etc/cron.d/dagsync-clamav"
# Where a Debian server's sites and their upload folders live (the model has no docroot yet).
SITE_PATHS = ("/var/www", "/srv")
_PATH = re.compile(r"/[A-Za-z0-9_./-]*")
_FOUND = re.compile(r"^(?P<path>/.*): (?P<signature>\S+) FOUND$", re.S)


def _path(path: str) -> str:
    if not _PATH.fullmatch(path) or "/../" in f"{path}/":
        raise UnsafeValue(f"scan path {path!r}: only letters, digits and /_.- are written")
    return path


def scan_command(paths: Sequence[str]) -> str:
    """Scan `paths` recursively, print only what is infected; keep the report and exit 0
    (clean), 1 (found) or 2 (ClamAV failed: the report says so)."""
    words = " ".join(q(_path(p)) for p in paths)
    report = q(LAST_SCAN)
    return (
        f"mkdir -p {q(STATE)}; clamscan -r --infected --no-summary --database={q(DATABASE)} "
        f"{words} > {report}.new 2>&1; rc=$?; echo exit $rc >> {report}.new; "
        f"mv {report}.new {report}; cat {report}; [ $rc -le 1 ]"
    )


def cron(paths: Sequence[str], header: str, hour: int = 3) -> str:
    if not 0 <= hour <= 23:
        raise UnsafeValue(f"hour {hour} is not 0-23")
    body = scan_command(paths).replace("%", "\\%")  # cron reads % as a line break
    return f"# {header}\n0 {hour} * * * root {body} >/dev/null\n"


def files(paths: Sequence[str], header: str) -> tuple[File, ...]:
    return (File(CRON, cron(paths, header)),)


def check_step() -> Step:
    """ClamAV loads the signature database (exit 2 on a malformed signature)."""
    return Step(
        "clamscan database check",
        f'probe=$(mktemp); clamscan --no-summary --database={q(DATABASE)} "$probe" >/dev/null; '
        'rc=$?; rm -f "$probe"; exit $rc',
    )


def scan_step(paths: Sequence[str]) -> Step:
    return Step("clamscan", scan_command(paths))


@dataclass(frozen=True)
class Detections:
    found: tuple[tuple[str, str], ...] = ()  # (path, signature)
    error: str | None = None

    def lines(self, target: str) -> list[str]:
        if self.error is not None:
            return [f"{target}: antivirus scan failed ({self.error})"]
        return [f"{target}: {sig} found in {path}" for path, sig in self.found]


def parse_scan(text: str) -> Detections:
    """The kept report: FOUND lines, then `exit N`; no exit line or an exit of 2 or more is
    an error.  A file name may hold line breaks (clamscan prints it raw): the lines before a
    FOUND line that do not start a path belong to its name; an exit of 1 whose report names
    no file is an error, never clean."""
    lines = text.split("\n")
    exits = [line.split()[1] for line in lines if re.fullmatch(r"exit \d+", line)]
    if not exits:
        return Detections(error="no scan report")
    if int(exits[-1]) >= 2:
        return Detections(error=f"clamscan exit {exits[-1]}")
    found: list[tuple[str, str]] = []
    pending: list[str] = []  # a name broken by line breaks, from its first line (a path)
    for line in lines:
        if line.startswith("/"):
            pending = []
        elif not pending:
            continue  # not part of a name: a warning of clamscan's, the exit line
        match = _FOUND.match("\n".join([*pending, line]))
        if match is None:
            pending.append(line)
            continue
        # server-supplied names, never printed raw (`text.visible`)
        found.append((visible(match["path"]), visible(match["signature"])))
        pending = []
    if int(exits[-1]) == 1 and not found:
        return Detections(error="clamscan found infected files that its report does not name")
    return Detections(tuple(found))
