"""The observer account: `dagsync plan` with a key that can read and cannot write.

Design.  The observer's public key (``policies/dag.yaml``, ``observer.key``) is installed in
root's ``authorized_keys`` as its own block, with ``restrict`` (no pty, no forwarding of
any kind, no ``~/.ssh/rc``) and a forced command::

    restrict,command="/usr/bin/python3 -I /etc/dagsync/observer" ssh-ed25519 AAAA... dagsync-observer

sshd runs that command whatever the client asks; the client's request is only the text of
``SSH_ORIGINAL_COMMAND``.  The wrapper (rendered by `observer_wrapper`, installed atomically and
compiled before activation) splits that text with ``shlex.split`` and accepts exactly one of
the argv patterns of its table: a read's name, then one argument per typed parameter, each
matching its strict pattern in full.  It then runs *its own* copy of that read's script
(``sh -c``, parameters quoted with ``shlex.quote``, standard input closed); the request's text is
never given to a shell.  Anything else is refused (exit 126), logged to syslog (facility auth,
tag ``dagsync-observer``) and to ``/var/log/dagsync-observer.log``.

One request may also name several reads (``batch NONCE name arg... name arg...``): each item
is matched exactly as a request of its own (its name, then exactly its parameters' count of
arguments, each matching its pattern in full), each read at most once, the nonce 16 hex
digits; any refused item refuses (and logs) the whole request.  The wrapper then runs the
very script the root key's batch runs (`dagsync.reconcile.transport.facts.batch`, whose framing is
embedded in the wrapper with the table), so the client splits the sections with
`facts.split` as it does for root: a plan reads a host's resources in one round trip either
way.

Why root with a forced command, not a user of its own with sudo rules: the plan's reads need
root (``nft list ruleset``, ``/etc/shadow``'s lock flags, root's and borg's
``authorized_keys``, the passphrase's digest), so a separate user would need sudo (not
installed on every host, and one more policy language to keep exact) or setuid helpers.
Here sshd enforces the forced command before anything runs, ``restrict`` removes every
other channel, and the one program that decides is ours, with a table derived from the read
builders themselves.  What the observer can read is exactly what the plan reads; those reads
print digests, lock flags and public keys, never a secret (the account read prints only the
first character of the password field, the backup read only the passphrase's SHA-256).

The table (`observer_reads.READS`) is built from the same builders the drivers call: the host
resources of `dagsync.reconcile.hosts.registry` (batched by the engine, one `batch` request for
an observer), the backup read of each server, the storage read of each backup storage, the
shared mail read of each mail host, and the observer's own read of its wrapper and key.  A test
plans the example repository and fails if any read a driver issues has no entry here.

An observer session (`Credentials.observer`, set by ``DAGSYNC_OBSERVER=1``) sends, for each
read command or batch of reads, its request (`observer_reads.request_for`); it takes no lock
and runs no write: `plan` needs neither.  The resource itself (kind ``observer``, targets: the
client servers and DAG's storage and mail hosts) installs the wrapper and the key block, and
empties the block when the key leaves ``policies/dag.yaml``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagsync.errors import DagsyncError
from dagsync.model.base import SSH_PUBLIC_KEY_RE
from dagsync.reconcile.core import Action, Change, Detail, Target, Unknown, lines
from dagsync.reconcile.daghosts import (
    Host,
    close_all,
    dag_endpoint,
    dag_target,
    host_result,
    observe_all,
    target_plan,
)
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.monitoring import driver as monitoring
from dagsync.reconcile.observer_reads import BEGIN, END, KEYS_FILE, KIND, READS, WRAPPER_FILE, read
from dagsync.reconcile.observer_wrapper import PYTHON, key_line, render_wrapper
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport
from dagsync.reconcile.resource import CommandResult, Executor, Outcome, Status
from dagsync.reconcile.run import parallel
from dagsync.reconcile.shell import atomic_write, q
from dagsync.reconcile.transport.inventory import endpoint
from dagsync.reconcile.transport.ssh import credentials

if TYPE_CHECKING:
    from dagsync.reconcile.daghosts import Host
    from dagsync.reconcile.driverspec import Confirm, Context
    from dagsync.reconcile.plan import Plan
    from dagsync.reconcile.report import ApplyReport
    from dagsync.reconcile.transport.inventory import Overrides

OVERRIDE_KEY = "observer"  # the hosts override file's {"key": public key} (the sandbox's)


# --- desired, read, diff, apply ------------------------------------------------------------


@dataclass(frozen=True)
class ObserverDesired:
    wrapper: str | None  # None: no observer declared, nothing installed
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ObserverObserved:
    wrapper_sha256: str | None
    present: bool  # the key block exists
    lines: tuple[str, ...]


def desired(public_key: str | None) -> ObserverDesired:
    if public_key is None:
        return ObserverDesired(None, ())
    return ObserverDesired(render_wrapper(), (key_line(public_key),))


def parse(result: CommandResult) -> ObserverObserved | Unknown:
    if not result.ok:
        return Unknown(f"reading the observer failed ({result.exit_code}): {result.stderr[-200:]}")
    digest: str | None = None
    found: list[str] = []
    present = False
    for raw in result.stdout.split("\n"):
        tag, _, rest = raw.partition("\t")
        if tag == "wrapper":
            digest = rest.strip() or None
        elif tag == "block" and not rest:
            present = True
        elif tag == "line" and rest.strip() and not rest.lstrip().startswith("#"):
            found.append(rest.strip())
    return ObserverObserved(digest, present, tuple(found))


def encode(observed: ObserverObserved) -> Any:
    return {
        "wrapper_sha256": observed.wrapper_sha256,
        "present": observed.present,
        "lines": list(observed.lines),
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def diff(wanted: ObserverDesired, observed: ObserverObserved) -> list[Change]:
    changes = []
    if wanted.wrapper is not None and observed.wrapper_sha256 != _sha256(wanted.wrapper):
        action = Action.CREATE if observed.wrapper_sha256 is None else Action.UPDATE
        changes.append(
            Change(
                KIND,
                action,
                WRAPPER_FILE,
                f"{action} the observer's forced command ({len(READS)} reads allowed)",
                lines(" ", sorted(r.name for r in READS)),
                {"content": wanted.wrapper},
            )
        )
    if observed.lines != wanted.lines:
        if wanted.lines:
            summary, action = (
                "authorise the observer key (read-only, forced command)",
                (Action.UPDATE if observed.present else Action.CREATE),
            )
        else:
            summary, action = "revoke the observer key (none in policies/dag.yaml)", Action.UPDATE
        details = tuple(Detail("-", _short(x)) for x in observed.lines if x not in wanted.lines)
        details += tuple(Detail("+", _short(x)) for x in wanted.lines if x not in observed.lines)
        changes.append(
            Change(KIND, action, f"{KEYS_FILE} ({BEGIN[2:]})", summary, details,
                   {"lines": list(wanted.lines)})
        )  # fmt: skip
    return changes


def _short(line: str) -> str:
    words = line.split()
    return " ".join(w if len(w) < 40 else f"{w[:12]}...{w[-8:]}" for w in words)


WRAPPER_CHECK = (
    f'{PYTHON} -I -c \'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")\' "$tmp"'
)


def install_wrapper(content: str) -> str:
    """The script that installs the wrapper (stdin: its content), compiled before the rename."""
    return atomic_write(
        WRAPPER_FILE, content.encode(), mode="0755", owner="root:root", check=WRAPPER_CHECK
    )


def replace_block(key_lines: Sequence[str]) -> tuple[str, bytes]:
    """A script that swaps the observer's block of root's keys for its stdin, keeping every
    other line (the root-access block, DAG's own keys)."""
    block = "\n".join([BEGIN, *key_lines, END]) + "\n"
    command = f"""set -e
umask 077
mkdir -p /root/.ssh
f={KEYS_FILE}
tmp=$(mktemp "$f.dagsync-XXXXXX")
trap 'rm -f "$tmp"' EXIT HUP INT TERM
{{ if [ -f "$f" ]; then awk 'index($0, "{BEGIN}") == 1 {{ s = 1; next }}
  index($0, "{END}") == 1 {{ s = 0; next }} !s' "$f"; fi; cat; }} > "$tmp"
[ "$(tail -n 1 "$tmp")" = {q(END)} ] || {{ echo 'dagsync: incomplete upload' >&2; exit 3; }}
chmod 0600 "$tmp"
mv -f "$tmp" "$f"
trap - EXIT HUP INT TERM
"""
    return command, block.encode()


def apply(executor: Executor, changes: Sequence[Change]) -> list[Outcome]:
    """The wrapper first (a key without its wrapper would run nothing), then the key block;
    the key is not authorised if the wrapper could not be installed."""
    outcomes: list[Outcome] = []
    ordered = sorted(changes, key=lambda c: c.resource != WRAPPER_FILE)
    for change in ordered:
        if any(o.status is not Status.APPLIED for o in outcomes):
            outcomes.append(Outcome(change, Status.SKIPPED, "the wrapper was not installed"))
            continue
        if change.resource == WRAPPER_FILE:
            content = str(change.payload["content"])
            result = executor.run(install_wrapper(content), stdin=content.encode())
        else:
            command, block = replace_block([str(x) for x in change.payload["lines"]])
            result = executor.run(command, stdin=block)
        status = Status.APPLIED if result.ok else Status.FAILED
        outcomes.append(Outcome(change, status, "" if result.ok else result.stderr.strip()[-500:]))
    return outcomes


# --- the driver: every client server, DAG's storage and mail hosts -------------------------


def public_key(settings_key: str | None, overrides_path: Path | None) -> str | None:
    """The observer key: the override file's `observer.key` (the sandbox's own keypair),
    else policies/dag.yaml's."""
    if overrides_path is not None:
        try:
            data = json.loads(overrides_path.read_text())
            value = (data.get(OVERRIDE_KEY) or {}).get("key")
        except (OSError, ValueError, AttributeError) as exc:
            raise DagsyncError(f"{overrides_path}: not a hosts override file ({exc})") from exc
        if value is not None:
            if not isinstance(value, str) or not SSH_PUBLIC_KEY_RE.match(value.strip()):
                raise DagsyncError(
                    f"{overrides_path}: observer.key is not one OpenSSH public key line"
                )
            return value.strip()
    return settings_key


def hosts(ctx: Context) -> list[Host]:
    """The client servers of the selection, and DAG's storage, mail, monitoring and security
    hosts unless
    the selection names other servers (`--server`, `dag/<name>`): an apply of the changed
    clients, as CI runs it, keeps the observer of DAG's own hosts current too."""
    # lazy: importing it here keeps dagsync.reconcile out of this module's load
    from dagsync.reconcile.backup import driver as backup_driver

    out: list[Host] = []
    for config, server in ctx.repo.servers():
        if not ctx.selection.wants(config.id, server.name):
            continue
        target = Target(config.id, server.name, production=server.role.value == "production")
        out.append(Host(target, endpoint(target.key, server, ctx.overrides), KIND))
    dag: list[Host] = []
    for storage in ctx.repo.settings.backup_storages:
        host = Host(dag_target(storage.name), None, KIND)
        try:
            host.endpoint = backup_driver.storage_endpoint(storage, ctx.overrides)
        except DagsyncError as exc:
            host.error = str(exc)
        dag.append(host)
    watchers = [h for h, _ in monitoring.hosts_of(ctx.repo.settings, ctx.overrides)]
    for other in mail._hosts(ctx.repo, ctx.overrides) + watchers:
        dag.append(Host(other.target, other.endpoint, KIND, error=other.error))
    for sec in ctx.repo.settings.security_hosts[:1]:
        host = Host(dag_target(sec.name), None, KIND)
        try:
            host.endpoint = dag_endpoint(
                sec.name, "security host", sec.address, sec.host_key, ctx.overrides
            )
        except DagsyncError as exc:
            host.error = str(exc)
        dag.append(host)
    out += [h for h in dag if not ctx.selection.servers or h.target.key in ctx.selection.servers]
    for host in out:
        host.read, host.parse, host.encode = read(), parse, encode
    return out


def _wanted(ctx: Context) -> ObserverDesired:
    declared = ctx.repo.settings.observer
    return desired(public_key(declared.key if declared else None, ctx.overrides.path))


def _plan(hosts_: Sequence[Host], wanted: ObserverDesired) -> Plan:

    targets = []
    for host in hosts_:
        items = diff(wanted, host.observed) if isinstance(host.observed, ObserverObserved) else None
        targets.append(target_plan(host, items))
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Plan(tuple(sorted(targets, key=lambda t: t.target.key)), created)


def _credentials(ctx: Context, overrides: Overrides) -> Any:

    return credentials(ctx.repo.settings.ssh_user, overrides)


def plan(ctx: Context) -> Plan:
    """Read the observer's wrapper and key on every host (nothing changed)."""

    wanted = _wanted(ctx)
    targets = hosts(ctx)
    observe_all(targets, ctx.options, _credentials(ctx, ctx.overrides), keep=False)
    return _plan(targets, wanted)


def apply_all(ctx: Context, confirm: Confirm, saved: Plan | None = None) -> ApplyReport:
    """Lock and read every host, plan, confirm, install in parallel."""

    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    wanted = _wanted(ctx)
    targets = hosts(ctx)
    try:
        observe_all(
            targets,
            ctx.options,
            _credentials(ctx, ctx.overrides),
            keep=True,
            holder=ctx.options.holder or "dagsync apply (observer)",
        )
        chosen = _plan(targets, wanted)
        if chosen.has_changes and not confirm(chosen):
            raise DagsyncError("apply cancelled: nothing was changed")
        planned = {t.target.key: t.changes for t in chosen.targets}

        def one(host: Host) -> Any:
            changes = planned.get(host.target.key, ())
            done = apply(host.session, changes) if host.session and changes else []
            return host_result(host, changes, done, time.monotonic() - clock)

        results = parallel(one, targets, ctx.options.parallel)
    finally:
        close_all(targets)
    finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return ApplyReport(chosen, tuple(results), started, finished)
