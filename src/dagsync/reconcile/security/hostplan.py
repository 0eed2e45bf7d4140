"""One target of the security driver: what it must run (`TargetSetup`), the one read that
tells what it runs (the same script on every target, so that the observer key may run it),
the pending changes in words, and the steps that apply them.

A client server gets its CrowdSec agent (when `security.intrusion_detection`) and firewall
bouncer (always: decisions reach every server of the scope), AIDE (when
`security.intrusion_detection`: « analyse des fichiers systèmes ») and ClamAV's scheduled scan
(when `security.antivirus`).  DAG's security host gets its local APIs.  Nothing secret is in
a change: the plan names files, the apply renders them again from the model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from dagsync.reconcile.core import Unknown
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.security import aide, antivirus, crowdsec, install
from dagsync.reconcile.security.install import File, Setup, Step
from dagsync.reconcile.security.text import visible
from dagsync.reconcile.shell import atomic_write, join, q

KIND = "security"
# command -> the Debian package that brings it
TOOLS = (
    ("crowdsec", "crowdsec"),
    ("cscli", "crowdsec"),
    ("crowdsec-firewall-bouncer", "crowdsec-firewall-bouncer"),
    ("aide", "aide"),
    ("clamscan", "clamav"),
)
SINGLE_FILES = (aide.CONFIG, aide.CRON, antivirus.CRON)
DAEMON_PIDS = ("/run/dagsync-crowdsec-*.pid", "/run/dagsync-lapi-*.pid")


@dataclass(frozen=True)
class TargetSetup:
    crowdsec: Setup
    aide: tuple[File, ...] = ()  # empty: no file integrity on this target
    antivirus: tuple[File, ...] = ()  # empty: no scheduled scan
    tools: tuple[str, ...] = ()  # the commands it needs

    @property
    def files(self) -> tuple[File, ...]:
        return (*self.crowdsec.files, *self.aide, *self.antivirus)


def server_setup(
    base: Setup, intrusion: bool, scan: bool, watched: Sequence[str] = aide.WATCHED
) -> TargetSetup:
    """A client server's setup: `base` (agent and bouncer, or the bouncer only), AIDE and
    ClamAV as its flags say."""
    head = f"{base.target}: {install.HEADER}"
    tools = ["crowdsec-firewall-bouncer"] + (["crowdsec", "aide"] if intrusion else [])
    tools += ["clamscan"] if scan else []
    return TargetSetup(
        base,
        aide.files(head, watched) if intrusion else (),
        antivirus.files(antivirus.SITE_PATHS, head) if scan else (),
        tuple(tools),
    )


def host_setup(base: Setup) -> TargetSetup:
    return TargetSetup(base, tools=("crowdsec", "cscli"))


# --- the read ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecurityObserved:
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 (absent: no file)
    daemons: dict[str, bool] = field(default_factory=dict)  # name -> running (absent: never)
    missing: tuple[str, ...] = ()  # commands not installed
    aide_database: bool = False


def read() -> str:
    """Read-only and the same on every target: tools, managed files' SHA-256, daemons."""
    tools = " ".join(sorted({t for t, _ in TOOLS}))
    singles = " ".join(q(p) for p in SINGLE_FILES)
    pids = " ".join(DAEMON_PIDS)
    return (
        f"for t in {tools}; do command -v \"$t\" >/dev/null 2>&1 || printf 'missing\\t%s\\n' "
        '"$t"; done\n'
        f'for f in {singles}; do if [ -f "$f" ]; then sha256sum "$f" | sed \'s/^/file\\t/\'; '
        "fi; done\n"
        f"if [ -d {q(crowdsec.ETC)} ]; then find {q(crowdsec.ETC)} -type f -print0 | sort -z "
        "| xargs -0 -r sha256sum | sed 's/^/file\\t/'; fi\n"
        f'for p in {pids}; do [ -e "$p" ] || continue; n=${{p#/run/dagsync-}}; n=${{n%.pid}}; '
        'if kill -0 "$(cat "$p")" 2>/dev/null; then s=running; else s=stopped; fi; '
        'printf \'daemon\\t%s\\t%s\\n\' "$n" "$s"; done\n'
        f"if [ -f {q(aide.DATABASE)} ]; then echo aide-database; fi\n"
        "true\n"
    )


def parse(result: CommandResult) -> SecurityObserved | Unknown:
    if not result.ok:
        return Unknown(
            f"reading the security services failed ({result.exit_code}): "
            f"{visible(result.stderr.strip()[-200:])}"
        )
    files: dict[str, str] = {}
    daemons: dict[str, bool] = {}
    missing: list[str] = []
    database = False
    for line in result.stdout.split("\n"):
        tag, _, rest = line.partition("\t")
        if tag == "file" and (match := re.fullmatch(r"([0-9a-f]{64})  (/.+)", rest)):
            files[match.group(2)] = match.group(1)
        elif tag == "daemon":
            name, _, state = rest.partition("\t")
            if state in ("running", "stopped"):
                daemons[name] = state == "running"
        elif tag == "missing":
            missing.append(rest)
        elif line == "aide-database":
            database = True
    return SecurityObserved(files, daemons, tuple(sorted(missing)), database)


def encode(observed: SecurityObserved) -> object:
    return {
        "files": dict(sorted(observed.files.items())),
        "daemons": dict(sorted(observed.daemons.items())),
        "missing": list(observed.missing),
        "aide database": observed.aide_database,
    }


# --- what differs --------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def packages(setup: TargetSetup, have: SecurityObserved) -> list[str]:
    wanted = dict(TOOLS)
    return sorted({wanted[t] for t in setup.tools if t in have.missing})


def pending(setup: TargetSetup, have: SecurityObserved) -> list[str]:
    """What an apply would do, in words (no content, no secret); empty when converged."""
    out = [f"install {p}" for p in packages(setup, have)]
    for f in setup.files:
        sha = have.files.get(f.path)
        if sha is None:
            out.append(f"create {f.path}")
        elif sha != _sha(f.content):
            out.append(f"update {f.path}")
    for d in setup.crowdsec.daemons:
        if not have.daemons.get(d.name, False):
            out.append(f"start {d.name} (stopped)")
    if setup.aide and not have.aide_database:
        out.append("aide init (no database yet)")
    return out


# --- the steps -------------------------------------------------------------------------------


def _install_step(names: Sequence[str]) -> Step:
    return Step(
        "install " + " ".join(names),
        "DEBIAN_FRONTEND=noninteractive "
        + join("apt-get", "install", "-y", "--no-install-recommends", *names),
    )


def _touches(lines: Sequence[str], files: Sequence[File]) -> bool:
    paths = {f.path for f in files}
    return any(line.split(" ", 1)[1] in paths for line in lines if " " in line)


def apply_steps(setup: TargetSetup, lines: Sequence[str]) -> list[Step]:
    """The steps for `lines` (from `pending`): packages first; CrowdSec's whole setup when
    one of its files changes (checked by `crowdsec -t` and the bouncer's `-t` before any
    daemon restarts), else only the stopped daemons; AIDE's configuration checked by
    `aide --config-check` before it replaces the old one; ClamAV's database loaded before
    the scan is scheduled; AIDE's database initialised last, so that this apply's own changes
    are never integrity alerts."""
    if not lines:
        return []
    wanted = [line.split(" ", 1)[1] for line in lines if line.startswith("install ")]
    out = [_install_step(wanted)] if wanted else []
    changed = [line for line in lines if line.startswith(("create ", "update "))]
    if _touches(changed, setup.crowdsec.files):
        out += install.steps(setup.crowdsec, restart=True)
    elif any(line.startswith("start ") for line in lines):
        out += [
            s for s in install.steps(setup.crowdsec, restart=False) if s.what.startswith("start ")
        ]
    if setup.aide and _touches(changed, setup.aide):
        out += aide.write_steps(setup.aide)
    if setup.antivirus and _touches(changed, setup.antivirus):
        out.append(antivirus.check_step())
        out += [
            Step(
                f"write {f.path}",
                atomic_write(f.path, f.content.encode(), mode=f.mode),
                f.content.encode(),
            )
            for f in setup.antivirus
        ]
    if setup.aide:
        out.append(aide.init_step())
    return out
