"""`dagsync sandbox up|down|status|run-backups`: the repository's world, on this machine.

`up` starts one test host (a network namespace with its own sshd, see
`dagsync.testing.hosts`) per server of the repository, per backup storage and per shared
mail host of `policies/dag.yaml`, under `.dagsync-sandbox/` (gitignored).  It plays DAG's
base set-up of the mail hosts (a TLS certificate, Dovecot and Postfix started), gives each
server a stand-in dump tool, MariaDB where MariaDB databases are declared, makes a passphrase
escrow folder, and, when the OVH driver exists, starts the OVH API emulator in the
background, seeded with the account the repository declares.  Then it writes
`.dagsync-sandbox/hosts.json`, the hosts override file that `plan` and `apply` use in
sandbox mode only (`DAGSYNC_SANDBOX=1`; never because the file exists):

- `hosts`: each server's address and host key become its test host's (`client/server`),
  DAG's own hosts are `dag/<name>`;
- `management_ranges`: the controller's bridge address, so the firewall keeps it in;
- `ssh_key`, `ssh_user`: the test hosts' key, root;
- `observer`: the sandbox's own observer keypair (`key`, the public line `apply` installs;
  `ssh_key`, the private key for `DAGSYNC_OBSERVER=1 DAGSYNC_SSH_KEY_FILE=... dagsync plan`);
- `environment`: variables plan and apply set while they run: the escrow folder
  (`DAGSYNC_PASSPHRASE_ESCROW`; the escrow refuses folders inside the repository, so it lives
  under `~/.local/state/dagsync/`) and the emulator's URL and credentials (`DAGSYNC_OVH_URL`,
  `OVH_*`; never an `ovh.conf`, which dagsync refuses inside a git work tree).

One more test host, `sources`, holds an address of every source the YAML declares, for
`dagsync sandbox probe|matrix` (`sandbox.reach`); no plan targets it.

So, as root:

    export DAGSYNC_SANDBOX=1
    dagsync sandbox up && dagsync plan && dagsync apply --yes
    dagsync sandbox run-backups && dagsync backup verify
    dagsync sandbox down

`down` stops the emulator, removes the hosts (processes, namespaces, links) and every file
`up` made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from ipaddress import IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.core import Target
from dagsync.reconcile.run import parallel as in_parallel
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.inventory import SANDBOX_DIR, SANDBOX_HOSTS_FILE, load_overrides
from dagsync.reconcile.transport.session import HostSession, Timeouts
from dagsync.reconcile.transport.ssh import credentials
from dagsync.sandbox.emulator import (
    OVH_FIXTURE,
    OVH_LOG,
    is_emulator,
    ovh_sandbox_available,
    start_emulator,
    stop_process,
    write_json,
)
from dagsync.sandbox.members import Member, default_network, members

if TYPE_CHECKING:
    from dagsync.testing.hosts.host import TestHost
    from dagsync.testing.hosts.lab import TestHosts
    from dagsync.testing.hosts.network import Network


STATE = f"{SANDBOX_DIR}/hosts"  # the test hosts' state folder
SANDBOX_STATE = f"{SANDBOX_DIR}/sandbox.json"  # what else `up` made: escrow, emulator
OBSERVER_KEY = "observer"  # == reconcile.resources.observer.OVERRIDE_KEY
OBSERVER_PRIVATE_KEY = "observer_ed25519"  # in the hosts' state folder, removed by `down`
EMULATOR_RATE_PER_MINUTE = 60_000  # the client's limit towards the local emulator
EMULATOR_POLL = 0.05  # seconds between two reads of a pending state (OVH: 5)
ESCROW_ENV = "DAGSYNC_PASSPHRASE_ESCROW"  # == dagsync.reconcile.escrow.ESCROW_ENV
DUMP_TOOL = "/root/.dagsync-sandbox-dump"  # on each server: DAGSYNC_DUMP_COMMAND of the job
BACKUP_JOB = "/etc/dagsync/backup-job"  # == dagsync.reconcile.backup.job.JOB_FILE
DUMP_DIR = "/var/backups/dagsync/databases"  # == dagsync.reconcile.backup.job.DUMP_DIR
PRIVATE = ("/srv/", "/var/", "/home/", "/root/", "/etc/")  # each test host has its own
MAIL_TOOLS = ("doveconf", "dovecot", "postconf", "postfix", "openssl")
_SBIN = "/usr/sbin:/usr/bin:/sbin:/bin"

_DUMP_SCRIPT = """#!/bin/sh
# dagsync sandbox: this stands in for the database dump tools.
echo "-- sandbox dump of $1 database $2, $(date -u +%FT%TZ)"
"""
_MAIL_BASE_SETUP = """
mkdir -p /etc/dovecot/private
openssl req -x509 -newkey ed25519 -nodes -subj /CN={name} -days 30 \
  -keyout /etc/dovecot/private/dovecot.key -out /etc/dovecot/private/dovecot.pem 2>/dev/null
dovecot </dev/null >/dev/null 2>&1
postfix start </dev/null >/dev/null 2>&1 || true
"""


def escrow_folder(root: Path) -> Path:
    """Outside the repository (the escrow refuses folders inside it), one per repository."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local/state")
    tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    folder = base / "dagsync" / f"sandbox-{tag}" / "escrow"
    if folder.is_relative_to(root.resolve()):
        folder = Path("/var/tmp") / f"dagsync-sandbox-{tag}" / "escrow"
    return folder


# --- up ------------------------------------------------------------------------------------


def up(root: Path, network: Network | None = None, *, emulator: bool = True) -> str:
    """Start the sandbox; on any failure, remove whatever was made and raise."""
    # lazy: importing it here keeps dagsync.sandbox.reach (dagsync.testing) out of this module's load
    from dagsync.sandbox.reach import SOURCES_HOST, attach, open_sandbox

    # lazy: importing it here keeps dagsync.sandbox.sources out of this module's load
    from dagsync.sandbox.sources import sources

    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing import services

    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing.hosts.checks import skip_reason

    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing.hosts.lab import up

    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing.hosts.outside import machine_addresses

    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing.hosts.system import TestHostsError

    # lazy: importing it here keeps dagsync.model, dagsync.validate out of this module's load
    from dagsync.validate.repository import load_repository

    reason = skip_reason()
    if reason:
        raise DagsyncError(f"the sandbox cannot start here: {reason}")
    if (root / SANDBOX_HOSTS_FILE).exists() or (root / SANDBOX_STATE).exists():
        raise DagsyncError("the sandbox is already up: `dagsync sandbox down` first")
    repo = load_repository(root, validate=False)
    wanted = members(repo)
    if not any(m.role == "server" for m in wanted):
        raise DagsyncError("the repository declares no server")
    outside = sources(repo, machine_addresses())
    net = network or default_network([IPv4Network(s.address) for s in outside])
    state: dict[str, Any] = {"version": 1, "escrow": str(escrow_folder(root))}
    write_json(root / SANDBOX_STATE, state)
    try:
        names = [m.name for m in wanted] + [SOURCES_HOST]
        lab = up(state_dir=root / STATE, names=names, network=net)
        lab = replace(lab, hosts=lab.hosts[:-1])  # the sources host: no plan targets it
        attach(open_sandbox(root, repo), [s.address for s in outside])
        notes = _prepare(lab, wanted) + services.databases(repo, lab, [m.key for m in wanted])
        environment = {ESCROW_ENV: _make_escrow(Path(state["escrow"]))}
        if emulator and ovh_sandbox_available():
            ovh = start_emulator(root, repo)
            state["emulator"] = {"pid": ovh.pid, "url": ovh.url}
            write_json(root / SANDBOX_STATE, state)
            environment.update(ovh.environment())
            notes.append(f"OVH API emulator on {ovh.url} (pid {ovh.pid})")
        overrides = _overrides(wanted, lab, net, environment)
        overrides[OBSERVER_KEY] = _observer_keypair(root / STATE)
        write_json(root / SANDBOX_HOSTS_FILE, overrides)
    except BaseException as exc:
        try:
            down(root)
        except DagsyncError as cleanup:
            raise DagsyncError(
                f"the sandbox could not start ({exc}) nor be removed ({cleanup})"
            ) from exc
        if isinstance(exc, TestHostsError):
            raise DagsyncError(f"the sandbox could not start: {exc}") from exc
        raise
    return _summary(wanted, lab, notes)


def _observer_keypair(folder: Path) -> dict[str, str]:
    """The sandbox's own observer keypair (never the one of policies/dag.yaml): the override
    file's `observer` entry, installed by `apply` and used by `DAGSYNC_OBSERVER=1 plan`."""
    key = folder / OBSERVER_PRIVATE_KEY
    comment = "dagsync-sandbox-observer"
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)]
    subprocess.run(argv, check=True, capture_output=True)
    public = " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])
    return {"key": public, "ssh_key": str(key)}


def _make_escrow(folder: Path) -> str:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.parent.chmod(0o700)
    return str(folder)


def _overrides(
    wanted: Sequence[Member], lab: TestHosts, net: Network, environment: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "version": 1,
        "hosts": {
            m.key: {"address": h.address, "port": h.port, "host_key": h.host_key_public}
            for m, h in zip(wanted, lab.hosts, strict=True)
        },
        "management_ranges": [f"{net.prefix}.1/32"],
        "ssh_key": str(lab.client_key),
        "ssh_user": "root",
        "environment": dict(environment),
        "ovh": {"rate_per_minute": EMULATOR_RATE_PER_MINUTE, "poll_interval": EMULATOR_POLL},
    }


def _prepare(lab: TestHosts, wanted: Sequence[Member]) -> list[str]:
    """DAG's base set-up of each host (what dagsync does not own); notes for the user."""
    notes = []
    missing = [t for t in MAIL_TOOLS if shutil.which(t, path=_SBIN) is None]
    if missing:
        notes.append(
            f"mail hosts: {', '.join(missing)} missing (apt install dovecot-imapd postfix): "
            "`dagsync plan` will show them as unknown"
        )
    if shutil.which("borg", path=_SBIN) is None:
        notes.append("backups: borg missing (apt install borgbackup)")
    commands = []
    for member, host in zip(wanted, lab.hosts, strict=True):
        if member.role == "server":
            commands.append((host, _server_setup(member, notes)))
        elif member.role == "mail host" and not missing:
            commands.append((host, _MAIL_BASE_SETUP.format(name=host.name)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda pair: _run(*pair), commands))
    return notes


def _server_setup(member: Member, notes: list[str]) -> str:
    """The stand-in dump tool, and a page in each site folder (a client's files)."""
    lines = [
        f"printf %s {shlex.quote(_DUMP_SCRIPT)} > {DUMP_TOOL}",
        f"chmod 0755 {DUMP_TOOL}",
        # The job requires its dump folder even when the server declares no database.
        f"mkdir -p {DUMP_DIR}",
    ]
    for folder in member.site:
        if not folder.startswith(PRIVATE):
            notes.append(f"{member.key}: {folder} is shared with this machine: not created")
            continue
        page = shlex.quote(f"{folder.rstrip('/')}/index.html")
        lines += [
            f"mkdir -p {shlex.quote(folder)}",
            f"echo {shlex.quote(f'sandbox site of {member.key}')} > {page}",
        ]
    return " && ".join(lines)


def _run(host: TestHost, command: str) -> None:
    result = host.run(command, timeout=60)
    if result.returncode != 0:
        raise DagsyncError(f"sandbox host {host.name}: set-up failed: {result.stderr.strip()}")


def _summary(wanted: Sequence[Member], lab: TestHosts, notes: Sequence[str]) -> str:
    width = max(len(m.key) for m in wanted)
    lines = [
        f"{m.key:<{width}}  {h.address:<13} {m.role}"
        for m, h in zip(wanted, lab.hosts, strict=True)
    ]
    servers = sum(1 for m in wanted if m.role == "server")
    return "\n".join(
        [
            *lines,
            *notes,
            f"sandbox up: {len(wanted)} test hosts ({servers} servers, "
            f"{len(wanted) - servers} of DAG's); now run `DAGSYNC_SANDBOX=1 dagsync plan` and "
            "`DAGSYNC_SANDBOX=1 dagsync apply` (without DAGSYNC_SANDBOX=1 they target the "
            "servers declared in git); `dagsync sandbox down` removes everything",
        ]
    )


# --- down and status -----------------------------------------------------------------------


def down(root: Path) -> str:
    """Stop the emulator, remove the hosts (their state folder knows their network), the
    escrow folder and every file of the sandbox."""
    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing.hosts.system import TestHostsError

    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing.hosts.teardown import down

    state = _read_state(root)
    pid = state.get("emulator", {}).get("pid")
    if isinstance(pid, int):
        stop_process(pid)
    if (root / STATE).exists():
        try:
            down(root / STATE)
        except TestHostsError as exc:
            raise DagsyncError(f"the sandbox could not be removed: {exc}") from exc
    escrow = state.get("escrow")
    if isinstance(escrow, str):
        shutil.rmtree(Path(escrow).parent, ignore_errors=True)
        with contextlib.suppress(OSError):  # ~/.local/state/dagsync, if nothing else is there
            Path(escrow).parent.parent.rmdir()
    for name in (SANDBOX_HOSTS_FILE, SANDBOX_STATE, OVH_FIXTURE, OVH_LOG):
        (root / name).unlink(missing_ok=True)
    folder = root / SANDBOX_DIR
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return "sandbox down: test hosts, emulator, escrow folder and override file removed"


def _read_state(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / SANDBOX_STATE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def status(root: Path) -> str:
    # lazy: importing it here keeps dagsync.sandbox.reach (dagsync.testing) out of this module's load
    from dagsync.sandbox.reach import status_rows

    path = root / SANDBOX_HOSTS_FILE
    if not path.exists():
        return "sandbox: down"
    data = json.loads(path.read_text())
    rows = [f"{key:<32} {value['address']}" for key, value in data["hosts"].items()]
    emulator = _read_state(root).get("emulator")
    if emulator:
        alive = "running" if is_emulator(int(emulator["pid"])) else "NOT RUNNING"
        rows.append(f"{'OVH API emulator':<32} {emulator['url']} ({alive})")
    rows += status_rows(root)
    return "\n".join([f"sandbox: up ({len(data['hosts'])} hosts, override file {path})", *rows])


# --- running the backup jobs now -------------------------------------------------------------


def run_backups(root: Path, *, parallel: int = 4, timeout: float = 600.0) -> tuple[str, bool]:
    """Run every server's backup job once (the test hosts run no cron), with the stand-in
    dump tool; returns the report and whether every job succeeded."""
    # lazy: importing it here keeps dagsync.model, dagsync.validate out of this module's load
    from dagsync.validate.repository import load_repository

    path = root / SANDBOX_HOSTS_FILE
    if not path.exists():
        raise DagsyncError("the sandbox is not up: `dagsync sandbox up` first")
    repo = load_repository(root, validate=False)
    overrides = load_overrides(path)
    creds = credentials(repo.settings.ssh_user, overrides)
    servers = [(c.id, s.name) for c, s in repo.servers() if f"{c.id}/{s.name}" in overrides.hosts]
    command = f"DAGSYNC_DUMP_COMMAND={DUMP_TOOL} {BACKUP_JOB}"

    def one(pair: tuple[str, str]) -> str:

        target = Target(*pair)
        session = HostSession(target, overrides.hosts[target.key], creds, Timeouts(10, timeout))
        try:
            result = session.open().run(command)
        except HostError as exc:
            return f"{target.key}: FAILED ({exc})"
        finally:
            session.close()
        if result.ok:
            return f"{target.key}: backed up"
        why = (result.stderr.strip() or result.stdout.strip())[-300:]
        return f"{target.key}: FAILED (exit {result.exit_code}): {why}"

    lines = in_parallel(one, servers, parallel)
    ok = not any("FAILED" in line for line in lines)
    return "\n".join([*lines, f"{len(lines)} backup job(s) run"]), ok
