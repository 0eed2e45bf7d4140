"""The observer account: `dagsync plan` with a key that can read and cannot write.

Design.  The observer's public key (``policies/dag.yaml``, ``observer.key``) is installed in
root's ``authorized_keys`` as its own block, with ``restrict`` (no pty, no forwarding of
any kind, no ``~/.ssh/rc``) and a forced command::

    restrict,command="/usr/bin/python3 -I /etc/dagsync/observer" ssh-ed25519 AAAA... dagsync-observer

sshd runs that command whatever the client asks; the client's request is only the text of
``SSH_ORIGINAL_COMMAND``.  The wrapper (rendered here, installed atomically and compiled
before activation) splits that text with ``shlex.split`` and accepts exactly one of the
argv patterns of its table: a read's name, then one argument per typed parameter, each
matching its strict pattern in full.  It then runs *its own* copy of that read's script
(``sh -c``, parameters quoted with ``shlex.quote``, standard input closed); the request's
text is never given to a shell.  Anything else is refused (exit 126), logged to syslog
(facility auth, tag ``dagsync-observer``) and to ``/var/log/dagsync-observer.log``.

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

The table (`READS`) is built from the same builders the drivers call: the host resources of
`dagsync.reconcile.hosts.registry` (batched by the engine, one `batch` request for an observer),
the backup read of each server, the storage read of each backup storage, the shared mail read
of each mail host, and this module's own read.  A test plans the example repository and
fails if any read a driver issues has no entry here.

An observer session (`Credentials.observer`, set by ``DAGSYNC_OBSERVER=1``) sends, for each
read command or batch of reads, its request (`request_for`); it takes no lock and runs no
write: `plan` needs neither.  The resource itself (kind ``observer``, targets: the client
servers and DAG's storage and mail hosts) installs the wrapper and the key block, and
empties the block when the key leaves ``policies/dag.yaml``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagsync.errors import DagsyncError
from dagsync.model.base import SAFE_PATH_PATTERN, SSH_PUBLIC_KEY_RE, USER_NAME_PATTERN
from dagsync.reconcile.core import Action, Change, Detail, Unknown, lines
from dagsync.reconcile.resource import CommandResult, Executor, Outcome, Status
from dagsync.reconcile.shell import atomic_write, q
from dagsync.reconcile.transport import facts
from dagsync.reconcile.transport.errors import HostError
from dagsync.reconcile.transport.session import REFUSED_EXIT

if TYPE_CHECKING:
    from dagsync.reconcile.daghosts import Host
    from dagsync.reconcile.driverspec import Confirm, Context
    from dagsync.reconcile.plan import Plan
    from dagsync.reconcile.report import ApplyReport
    from dagsync.reconcile.transport.inventory import Overrides

KIND = "observer"
WRAPPER_FILE = "/etc/dagsync/observer"
PYTHON = "/usr/bin/python3"
LOG_FILE = "/var/log/dagsync-observer.log"
SYSLOG_TAG = "dagsync-observer"
KEYS_FILE = "/root/.ssh/authorized_keys"
BEGIN = "# BEGIN dagsync observer"
END = "# END dagsync observer"
KEY_COMMENT = "dagsync-observer"
FORCED_COMMAND = f"{PYTHON} -I {WRAPPER_FILE}"
KEY_OPTIONS = f'restrict,command="{FORCED_COMMAND}"'
OVERRIDE_KEY = "observer"  # the hosts override file's {"key": public key} (the sandbox's)

# --- the table of reads --------------------------------------------------------------------

_ARG = re.compile(r"@@DAGSYNC_ARG_([0-9])@@")
# Every shlex.quote() output: bare safe characters, or single-quoted (our parameters never
# hold a quote, so no `'"'"'` escape can occur in a valid request).
_QUOTED = r"('[^']*'|[A-Za-z0-9_@%+=:,./-]+)"
NAMES_PATTERN = (
    rf"({USER_NAME_PATTERN[1:-1]}( {USER_NAME_PATTERN[1:-1]}){{0,499}})?"  # "" or "a b c"
)
PATH_PATTERN = SAFE_PATH_PATTERN[1:-1]
BATCH = "batch"  # the request word of several reads at once
NONCE_PATTERN = r"[0-9a-f]{16}"  # facts.batch's nonce (secrets.token_hex(8))


def batch_frame() -> str:
    """`facts.batch`'s text for one read, with DAGSYNC_BATCH_NONCE, _NAME and _BODY where the
    nonce, the read's name and its script go (the wrapper fills them in one pass)."""
    script, _ = facts.batch([("DAGSYNC_BATCH_NAME", "DAGSYNC_BATCH_BODY")], "DAGSYNC_BATCH_NONCE")
    return script[:-1]  # facts.batch joins the reads' texts with newlines and ends with one


def _sentinel(index: int) -> str:
    return f"@@DAGSYNC_ARG_{index}@@"


@dataclass(frozen=True)
class ObserverRead:
    """One read the observer may run: its name (the request's first word), the pattern of
    each parameter, and its script with `@@DAGSYNC_ARG_<i>@@` where parameter i goes."""

    name: str
    params: tuple[str, ...]
    template: str

    def render(self, args: Sequence[str]) -> str:
        """The script for these arguments; ValueError unless each matches its pattern."""
        if len(args) != len(self.params):
            raise ValueError(f"{self.name} takes {len(self.params)} argument(s), not {len(args)}")
        for arg, pattern in zip(args, self.params, strict=True):
            if not re.fullmatch(pattern, arg):
                raise ValueError(f"{self.name}: argument {arg[:60]!r} refused")
        return _ARG.sub(lambda m: q(args[int(m.group(1))]), self.template)

    def arguments(self, command: str) -> list[str] | None:
        """The arguments that render exactly `command`, or None."""
        parts = _ARG.split(self.template)
        literal, indexes = parts[0::2], [int(i) for i in parts[1::2]]
        pattern = re.escape(literal[0]) + "".join(_QUOTED + re.escape(text) for text in literal[1:])
        match = re.fullmatch(pattern, command, re.S)
        if match is None:
            return None
        found: dict[int, str] = {}
        for index, quoted in zip(indexes, match.groups(), strict=True):
            value = quoted[1:-1] if quoted.startswith("'") else quoted
            if found.setdefault(index, value) != value:
                return None
        args = [found.get(i, "") for i in range(len(self.params))]
        try:
            return args if self.render(args) == command else None
        except ValueError:
            return None


def _reads() -> tuple[ObserverRead, ...]:
    """Every read of a plan, from the builders the drivers call (parameters as sentinels).

    The firewall, root-access and backup reads take their desired state but read none of
    its fields; a builder that starts to use one fails here, at import, not on a host.
    """
    from dagsync.reconcile.backup import resource as backup
    from dagsync.reconcile.backup import storage
    from dagsync.reconcile.hosts import accounts, registry
    from dagsync.reconcile.mail import resource as mail
    from dagsync.reconcile.monitoring import driver as monitoring

    unused: Any = None
    out: list[ObserverRead] = []
    for resource in registry.HOST_RESOURCES:
        if resource.KIND == accounts.KIND:
            spec = accounts.AccountSpec(_sentinel(0), "ssh", "", (), "")
            out.append(ObserverRead(resource.KIND, (NAMES_PATTERN,), accounts.read([spec])))
        else:
            out.append(ObserverRead(resource.KIND, (), resource.read(unused)))
    out.append(ObserverRead(backup.KIND, (), backup.read(unused)))
    where = storage.StorageSpec("", "", 22, "", _sentinel(0))
    out.append(ObserverRead(storage.STORAGE_KIND, (PATH_PATTERN,), storage.storage_read(where)))
    out.append(ObserverRead(mail.KIND, (), mail.read(mail.desired([])[0])))
    out.append(ObserverRead(monitoring.KIND, (), monitoring.read()))
    out.append(ObserverRead(KIND, (), read()))
    return tuple(out)


def table() -> dict[str, ObserverRead]:
    return {r.name: r for r in READS}


class ObserverRefused(HostError):
    """A command the observer account may not run (nothing was sent)."""


def request_for(command: str) -> str:
    """The observer request (`name arg...`, or `batch NONCE name arg... name arg...` for a
    `facts.batch` of reads, shell-quoted) that runs exactly `command`."""
    for entry in READS:
        args = entry.arguments(command)
        if args is not None:
            return shlex.join([entry.name, *args])
    request = _batch_request(command)
    if request is not None:
        return request
    first = command.strip().splitlines()[0][:80] if command.strip() else ""
    raise ObserverRefused(
        f"the observer account cannot run this command (not one of the plan's reads): "
        f"{first!r}; plans only are run with the observer key"
    )


def batch_script(nonce: str, items: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The `facts.batch` script of these reads (name, arguments), as the wrapper runs it;
    ValueError for a read or an argument the table refuses."""
    if not re.fullmatch(NONCE_PATTERN, nonce):
        raise ValueError(f"the nonce {nonce[:40]!r} is not {NONCE_PATTERN}")
    if not items:
        raise ValueError("an empty batch")
    known = table()
    commands: list[tuple[str, str]] = []
    for name, args in items:
        if name not in known:
            raise ValueError(f"{name[:40]!r} is not one of the plan's reads")
        if any(name == done for done, _ in commands):
            raise ValueError(f"{name} twice in one batch")
        commands.append((name, known[name].render(args)))
    return facts.batch(commands, nonce)[0]


def _batch_request(command: str) -> str | None:
    """The `batch` request that runs exactly `command` (a `facts.batch` script), or None."""
    before_nonce = batch_frame().partition("DAGSYNC_BATCH_NONCE")[0]
    first = re.match(re.escape(before_nonce) + f"({NONCE_PATTERN})", command)
    if first is None:
        return None
    nonce = first.group(1)
    frame = re.escape(batch_frame()).replace("DAGSYNC_BATCH_NONCE", nonce)
    frame = frame.replace("DAGSYNC_BATCH_NAME", r"(?P<name>[a-z][a-z-]*)", 1)
    frame = frame.replace("DAGSYNC_BATCH_NAME", r"(?P=name)")
    item = re.compile(frame.replace("DAGSYNC_BATCH_BODY", r"(?P<body>.*?)") + "\n", re.S)
    known, position = table(), 0
    items: list[tuple[str, list[str]]] = []
    while position < len(command):
        match = item.match(command, position)
        entry = known.get(match.group("name")) if match else None
        if match is None or entry is None:
            return None
        stripped = ObserverRead(entry.name, entry.params, entry.template.strip())
        args = stripped.arguments(match.group("body"))
        if args is None:
            return None
        items.append((entry.name, args))
        position = match.end()
    try:
        if not items or batch_script(nonce, items) != command:
            return None
    except ValueError:
        return None
    return shlex.join([BATCH, nonce, *(word for name, args in items for word in (name, *args))])


# --- the wrapper ---------------------------------------------------------------------------

_WRAPPER = '''#!{python} -I
"""dagsync observer: the forced command of the observer key in root's authorized_keys.

Rendered and installed by dagsync (dagsync.reconcile.observer); do not edit.
Runs exactly one of the plan's reads, or a batch of them, named by SSH_ORIGINAL_COMMAND;
refuses and logs anything else.
"""
import json
import os
import re
import shlex
import sys
import syslog
import time

TABLE = json.loads({table!r})
ARG = re.compile(r"@@DAGSYNC_ARG_([0-9])@@")
LOG = {log!r}
MAX_REQUEST = 65536
BATCH = {batch!r}
NONCE = {nonce!r}
FRAME = {frame!r}  # dagsync.reconcile.transport.facts.batch's text around one read
FRAME_SLOT = re.compile(r"DAGSYNC_BATCH_(NONCE|NAME|BODY)")
MAX_BATCH = len(TABLE)  # each read at most once


def render(name, args):
    """(script, "") for one read and its arguments, matched exactly, else (None, why)."""
    entry = TABLE.get(name)
    if entry is None:
        return None, "not one of the plan's reads"
    if len(args) != len(entry["params"]):
        return None, "%s takes %d argument(s), not %d" % (name, len(entry["params"]), len(args))
    for arg, pattern in zip(args, entry["params"]):
        if re.fullmatch(pattern, arg) is None:
            return None, "argument refused for %s" % name
    return ARG.sub(lambda m: shlex.quote(args[int(m.group(1))]), entry["template"]), ""


def decide_batch(words):
    """`batch NONCE name arg... name arg...`: every item matched as a request of its own
    (each read takes exactly its parameters' count of words), each read at most once; the
    script is the framing of facts.batch around each read, in order."""
    if not words or re.fullmatch(NONCE, words[0]) is None:
        return None, "batch: the first argument is not a nonce"
    nonce, rest, parts, seen = words[0], words[1:], [], set()
    if not rest:
        return None, "batch: no read (empty batch)"
    while rest:
        name = rest[0]
        if len(seen) == MAX_BATCH:
            return None, "batch: more than %d reads" % MAX_BATCH
        if name in seen:
            return None, "batch: %s twice" % name
        count = len(TABLE[name]["params"]) if name in TABLE else 0
        script, why = render(name, rest[1 : 1 + count])
        if script is None:
            return None, "batch item %d (%s): %s" % (len(seen) + 1, ascii(name[:40]), why)
        seen.add(name)
        slots = {{"NONCE": nonce, "NAME": shlex.quote(name), "BODY": script.strip()}}
        parts.append(FRAME_SLOT.sub(lambda m: slots[m.group(1)], FRAME))
        rest = rest[1 + count :]
    return "\\n".join(parts) + "\\n", ""


def decide(raw):
    """(script, "") for an allowed request, else (None, why)."""
    if len(raw) > MAX_REQUEST:
        return None, "request too long"
    try:
        argv = shlex.split(raw)
    except ValueError as exc:
        return None, "unparsable request (%s)" % exc
    if not argv:
        return None, "no command (interactive login)"
    if argv[0] == BATCH:
        return decide_batch(argv[1:])
    return render(argv[0], argv[1:])


def refuse(raw, why):
    client = os.environ.get("SSH_CONNECTION", "?").split(" ")[0]
    message = "refused from %s: %s: %s" % (client, why, ascii(raw[:500]))
    try:
        syslog.openlog({tag!r}, syslog.LOG_PID, syslog.LOG_AUTH)
        syslog.syslog(syslog.LOG_WARNING, message)
    except OSError:
        pass
    try:
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as log:
            log.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + message + "\\n")
    except OSError:
        pass
    sys.stderr.write("dagsync-observer: refused: %s\\n" % why)
    return {refused}


def main():
    raw = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    script, why = decide(raw)
    if script is None:
        return refuse(raw, why)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.execv("/bin/sh", ["sh", "-c", script])


if __name__ == "__main__":
    sys.exit(main())
'''


def render_wrapper() -> str:
    """The wrapper's Python source, its table embedded as JSON."""
    data = {r.name: {"params": list(r.params), "template": r.template} for r in READS}
    if BATCH in data:
        raise DagsyncError(f"a read may not be named {BATCH!r}: that word starts a batch")
    return _WRAPPER.format(
        python=PYTHON,
        table=json.dumps(data, sort_keys=True, separators=(",", ":")),
        batch=BATCH,
        nonce=NONCE_PATTERN,
        frame=batch_frame(),
        log=LOG_FILE,
        tag=SYSLOG_TAG,
        refused=REFUSED_EXIT,
    )


def key_line(public_key: str) -> str:
    """The observer's line in root's authorized_keys (the key's own comment is dropped)."""
    if not SSH_PUBLIC_KEY_RE.match(public_key):
        raise DagsyncError("the observer key is not one OpenSSH public key line")
    kind, body = public_key.split()[:2]
    return f"{KEY_OPTIONS} {kind} {body} {KEY_COMMENT}"


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


def read() -> str:
    return (
        f"if [ -f {WRAPPER_FILE} ]; then printf 'wrapper\\t%s\\n' "
        f"\"$(sha256sum < {WRAPPER_FILE} | cut -d' ' -f1)\"; fi\n"
        f"if [ -f {KEYS_FILE} ]; then awk '"
        f'index($0, "{END}") == 1 {{ b = 0; next }} '
        f'b {{ print "line\\t" $0 }} '
        f'index($0, "{BEGIN}") == 1 {{ b = 1; print "block" }}\' {KEYS_FILE}; fi\n'
        "true\n"
    )


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
    """The client servers of the selection, and DAG's storage, mail and monitoring hosts unless
    the selection names other servers (`--server`, `dag/<name>`): an apply of the changed
    clients, as CI runs it, keeps the observer of DAG's own hosts current too."""
    from dagsync.reconcile.backup import driver as backup_driver
    from dagsync.reconcile.core import Target
    from dagsync.reconcile.daghosts import Host, dag_target
    from dagsync.reconcile.mail import resource as mail
    from dagsync.reconcile.monitoring import driver as monitoring
    from dagsync.reconcile.transport.inventory import endpoint

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
    out += [h for h in dag if not ctx.selection.servers or h.target.key in ctx.selection.servers]
    for host in out:
        host.read, host.parse, host.encode = read(), parse, encode
    return out


def _wanted(ctx: Context) -> ObserverDesired:
    declared = ctx.repo.settings.observer
    return desired(public_key(declared.key if declared else None, ctx.overrides.path))


def _plan(hosts_: Sequence[Host], wanted: ObserverDesired) -> Plan:
    from dagsync.reconcile.daghosts import target_plan
    from dagsync.reconcile.plan import Plan

    targets = []
    for host in hosts_:
        items = diff(wanted, host.observed) if isinstance(host.observed, ObserverObserved) else None
        targets.append(target_plan(host, items))
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Plan(tuple(sorted(targets, key=lambda t: t.target.key)), created)


def _credentials(ctx: Context, overrides: Overrides) -> Any:
    from dagsync.reconcile.transport.ssh import credentials

    return credentials(ctx.repo.settings.ssh_user, overrides)


def plan(ctx: Context) -> Plan:
    """Read the observer's wrapper and key on every host (nothing changed)."""
    from dagsync.reconcile.daghosts import observe_all

    wanted = _wanted(ctx)
    targets = hosts(ctx)
    observe_all(targets, ctx.options, _credentials(ctx, ctx.overrides), keep=False)
    return _plan(targets, wanted)


def apply_all(ctx: Context, confirm: Confirm, saved: Plan | None = None) -> ApplyReport:
    """Lock and read every host, plan, confirm, install in parallel."""
    from dagsync.reconcile.daghosts import close_all, host_result, observe_all
    from dagsync.reconcile.report import ApplyReport
    from dagsync.reconcile.run import parallel

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


def check_reads(reads: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[str]:
    """The reads (name, command) the observer would refuse, as messages (empty: all pass)."""
    items = reads.items() if isinstance(reads, Mapping) else reads
    refused = []
    for name, command in items:
        try:
            request_for(command)
        except ObserverRefused as exc:
            refused.append(f"{name}: {exc}")
    return refused


READS: tuple[ObserverRead, ...] = _reads()
