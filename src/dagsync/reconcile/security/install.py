"""What goes on each host, as data, and the shell steps that put it there.

A `Setup` lists a host's files (written atomically, each checked before it is renamed into
place where the tool has a test mode), links into the package's hub, the commands that enrol
agents and bouncers with their local API, the tools' own checks of the whole configuration
(`crowdsec -t`, `crowdsec-firewall-bouncer -t`) and the daemons to run.  `steps` turns it into
`Step`s that any executor runs with `sh` (SSH session or test host alike): the script goes on
standard input when the step has no content of its own, so secrets never reach a command line
of the machine that runs dagsync.

Daemons run detached with a PID file under /run (`running` reads them), since neither a test
host nor dagsync's activation relies on systemd.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dagsync.reconcile.security import crowdsec
from dagsync.reconcile.security.credentials import DAGSYNC_MACHINE, Secrets
from dagsync.reconcile.security.crowdsec import LogSource, Net
from dagsync.reconcile.security.scope import Member, Scope
from dagsync.reconcile.shell import atomic_write, join, q

HEADER = "managed by dagsync: do not edit, changes are overwritten (docs/security-services.md)"
PID_DIR = "/run"


@dataclass(frozen=True)
class File:
    path: str
    content: str
    mode: str = "0644"


@dataclass(frozen=True)
class Daemon:
    name: str  # PID file /run/dagsync-<name>.pid
    argv: tuple[str, ...]

    @property
    def pid_file(self) -> str:
        return f"{PID_DIR}/dagsync-{self.name}.pid"


@dataclass(frozen=True)
class Setup:
    target: str
    files: tuple[File, ...]
    links: tuple[tuple[str, str], ...] = ()  # (link, target)
    folders: tuple[str, ...] = ()
    enrol: tuple[str, ...] = ()  # commands that carry secrets: sent on stdin only
    checks: tuple[str, ...] = ()
    daemons: tuple[Daemon, ...] = ()


@dataclass(frozen=True)
class Step:
    what: str
    script: str
    stdin: bytes | None = None  # None: the script itself goes on stdin (`sh -s`)


# --- the security host -----------------------------------------------------------------------


def _lapi_check(scope: Scope) -> str:
    return join("crowdsec", "-c", crowdsec.lapi_config_path(scope), "-no-cs", "-t")


def _cscli(scope: Scope, *args: str) -> str:
    return join("cscli", "-c", crowdsec.lapi_config_path(scope), "--error", *args)


def _enrol_scope(scope: Scope, secrets: Secrets) -> list[str]:
    names = [DAGSYNC_MACHINE, *(m.name for m in scope.members)]
    out = [
        _cscli(scope, "machines", "add", n, "--force", "-f", "/dev/null", "--password", pw)
        for n in names
        for pw in [secrets.machine_password(scope.key, n)]
    ]
    listed = _cscli(scope, "bouncers", "list", "-o", "raw")
    for member in scope.members:
        key = secrets.bouncer_key(scope.key, member.name)
        add = _cscli(scope, "bouncers", "add", member.name, "-k", key)
        out.append(f"{listed} | grep -q {q('^' + member.name + ',')} || {add} >/dev/null")
    return out


def security_host(scopes: Sequence[Scope], secrets: Secrets, protected: Sequence[Net]) -> Setup:
    """One local API per scope: config, profile, dagsync's own credentials; enrolment of
    every member's machine and bouncer."""
    files: list[File] = []
    folders: list[str] = []
    for scope in scopes:
        folder = crowdsec.lapi_dir(scope)
        head = f"{scope.key}: {HEADER}"
        files += [
            File(f"{folder}/config.yaml", crowdsec.lapi_config(scope, head)),
            File(f"{folder}/profiles.yaml", crowdsec.profiles(protected, head)),
            File(
                f"{folder}/local_api_credentials.yaml",
                crowdsec.dagsync_credentials(scope, secrets, head),
                "0600",
            ),
        ]
        folders += [f"{crowdsec.VAR}/{scope.key}", f"{crowdsec.LOGS}/{scope.key}"]
    return Setup(
        target="security-host",
        files=tuple(files),
        folders=tuple(folders),
        enrol=tuple(c for s in scopes for c in _enrol_scope(s, secrets)),
        checks=tuple(_lapi_check(s) for s in scopes),
        daemons=tuple(
            Daemon(f"lapi-{s.key}", ("crowdsec", "-c", crowdsec.lapi_config_path(s), "-no-cs"))
            for s in scopes
        ),
    )


# --- a client server ---------------------------------------------------------------------------


def client_server(
    scope: Scope,
    member: Member,
    address: str,
    secrets: Secrets,
    allowed: Sequence[Net],
    sources: Sequence[LogSource] = crowdsec.DEFAULT_SOURCES,
    agent: bool = True,
) -> Setup:
    """The agent (with dagsync's whitelist) and the nftables bouncer of one server, both
    talking to its scope's local API at `address`; without `agent` (the server's
    `security.intrusion_detection` is off, by request) only the bouncer: the server still
    applies its scope's decisions but detects nothing."""
    head = f"{member.client}/{member.server}: {HEADER}"
    url = crowdsec.lapi_url(address, scope)
    bouncer = File(
        crowdsec.BOUNCER_CONFIG,
        crowdsec.bouncer_config(url, secrets.bouncer_key(scope.key, member.name), head),
        "0600",
    )
    bouncer_check = join("crowdsec-firewall-bouncer", "-c", crowdsec.BOUNCER_CONFIG, "-t")
    bouncer_daemon = Daemon(
        "crowdsec-bouncer", ("crowdsec-firewall-bouncer", "-c", crowdsec.BOUNCER_CONFIG)
    )
    if not agent:
        target = f"{member.client}/{member.server}"
        return Setup(target, (bouncer,), checks=(bouncer_check,), daemons=(bouncer_daemon,))
    folder = crowdsec.AGENT_DIR
    files = (
        File(crowdsec.AGENT_CONFIG, crowdsec.agent_config(head)),
        File(f"{folder}/acquis.yaml", crowdsec.acquisition(sources, head)),
        File(crowdsec.WHITELIST, crowdsec.whitelist(allowed, head)),
        File(
            f"{folder}/local_api_credentials.yaml",
            crowdsec.agent_credentials(scope, member, address, secrets, head),
            "0600",
        ),
        bouncer,
    )
    hub = [
        (f"{folder}/{stage}/{item.rsplit('/', 1)[1]}", f"{crowdsec.HUB}/{item}")
        for stage, item in crowdsec.AGENT_ITEMS
    ]
    links = (*hub, (f"{folder}/patterns", "/etc/crowdsec/patterns"))
    return Setup(
        target=f"{member.client}/{member.server}",
        files=files,
        links=links,
        folders=(f"{folder}/parsers/s00-raw", f"{folder}/parsers/s01-parse", f"{folder}/scenarios"),
        checks=(
            join("crowdsec", "-c", crowdsec.AGENT_CONFIG, "-no-api", "-t"),
            bouncer_check,
        ),
        daemons=(
            Daemon("crowdsec-agent", ("crowdsec", "-c", crowdsec.AGENT_CONFIG, "-no-api")),
            bouncer_daemon,
        ),
    )


# --- steps -------------------------------------------------------------------------------------


def _start(daemon: Daemon, restart: bool) -> str:
    pid = q(daemon.pid_file)
    alive = f'[ -s {pid} ] && kill -0 "$(cat {pid})" 2>/dev/null'
    stop = (
        f'if {alive}; then kill "$(cat {pid})"; '
        f'i=0; while kill -0 "$(cat {pid})" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; fi'
    )
    log = q(f"/var/log/dagsync-{daemon.name}.out")
    launch = f"setsid {join(*daemon.argv)} </dev/null >>{log} 2>&1 & echo $! > {pid}"
    return f"{stop}\n{launch}" if restart else f"{alive} || {{ {launch}; }}"


def steps(setup: Setup, restart: bool = True) -> list[Step]:
    """Write, link, enrol, check the whole configuration, then (re)start the daemons: a
    configuration that fails its check stops the steps before any daemon sees it."""
    out = [Step("folders", join("mkdir", "-p", *setup.folders))] if setup.folders else []
    out += [
        Step(
            f"write {f.path}",
            atomic_write(f.path, f.content.encode(), mode=f.mode),
            f.content.encode(),
        )
        for f in setup.files
    ]
    if setup.links:
        out.append(
            Step("hub links", "\n".join(join("ln", "-sfn", t, link) for link, t in setup.links))
        )
    out += [Step("enrol", "set -e\n" + "\n".join(setup.enrol))] if setup.enrol else []
    out += [Step(f"check: {c}", c) for c in setup.checks]
    out += [Step(f"start {d.name}", _start(d, restart)) for d in setup.daemons]
    return out


def running_script(daemons: Iterable[Daemon]) -> str:
    """Prints `name running` or `name stopped` per daemon."""
    lines = []
    for d in daemons:
        pid = q(d.pid_file)
        check = f'[ -s {pid} ] && kill -0 "$(cat {pid})" 2>/dev/null'
        lines.append(
            f"if {check}; then echo {q(d.name)} running; else echo {q(d.name)} stopped; fi"
        )
    return "\n".join(lines) + "\n"


def parse_running(output: str) -> dict[str, bool]:
    """`running_script`'s output: daemon -> running; a line it cannot read is left out (unknown)."""
    states: dict[str, bool] = {}
    for line in output.splitlines():
        name, _, state = line.rpartition(" ")
        if name and state in ("running", "stopped"):
            states[name] = state == "running"
    return states


# --- plan: what the host runs against the setup ----------------------------------------------


@dataclass(frozen=True)
class Observed:
    files: dict[str, str | None]  # path -> SHA-256, None when absent; missing: unknown
    daemons: dict[str, bool]  # name -> running; missing: unknown


def read_script(setup: Setup) -> str:
    """Read-only: each managed file's SHA-256 (`- PATH` when absent), each daemon's state."""
    lines = [
        f"if [ -f {q(f.path)} ]; then sha256sum {q(f.path)}; else echo - {q(f.path)}; fi"
        for f in setup.files
    ]
    return "\n".join(lines) + "\n" + running_script(setup.daemons)


def parse_read(output: str) -> Observed:
    files: dict[str, str | None] = {}
    for line in output.splitlines():
        head, _, rest = line.partition(" ")
        if head == "-" and rest:
            files[rest] = None
        elif len(head) == 64 and rest.startswith(" "):
            files[rest[1:]] = head
    return Observed(files, parse_running(output))


def changes(setup: Setup, observed: Observed) -> list[str]:
    """What an apply would do, in words; empty when the host matches the model.  A value
    that could not be read counts as a change (`unknown`), never as absent."""
    out: list[str] = []
    for f in setup.files:
        digest = hashlib.sha256(f.content.encode()).hexdigest()
        if f.path not in observed.files:
            out.append(f"unknown {f.path}")
        elif observed.files[f.path] is None:
            out.append(f"create {f.path}")
        elif observed.files[f.path] != digest:
            out.append(f"update {f.path}")
    for d in setup.daemons:
        state = observed.daemons.get(d.name)
        if state is None:
            out.append(f"unknown state of {d.name}")
        elif not state:
            out.append(f"start {d.name} (stopped)")
    return out


def apply_steps(setup: Setup, pending: Sequence[str]) -> list[Step]:
    """The steps for `pending` (from `changes`): everything, daemons restarted, when a file
    changes; only the stopped daemons started otherwise; nothing when nothing is pending."""
    if not pending:
        return []
    if any(not p.startswith("start ") for p in pending):
        return steps(setup, restart=True)
    return [s for s in steps(setup, restart=False) if s.what.startswith("start ")]
