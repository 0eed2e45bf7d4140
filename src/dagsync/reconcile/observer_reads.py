"""The observer's table of reads: every read a plan issues (from the builders the drivers
call, and the observer's own read of its wrapper and key), the pattern of each parameter,
and the observer request (`name arg...` or `batch NONCE ...`) that runs exactly a given
read command; anything else is refused.  The design is in `dagsync.reconcile.observer`."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.model.base import SAFE_PATH_PATTERN, USER_NAME_PATTERN
from dagsync.model.system import DEB_PACKAGE_PATTERN
from dagsync.reconcile.appstack import system
from dagsync.reconcile.backup import resource as backup
from dagsync.reconcile.backup import storage
from dagsync.reconcile.hosts import accounts, registry
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.monitoring import driver as monitoring
from dagsync.reconcile.security import hostplan as security
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport import facts
from dagsync.reconcile.transport.errors import HostError

KIND = "observer"
WRAPPER_FILE = "/etc/dagsync/observer"
KEYS_FILE = "/root/.ssh/authorized_keys"
BEGIN = "# BEGIN dagsync observer"
END = "# END dagsync observer"


_ARG = re.compile(r"@@DAGSYNC_ARG_([0-9])@@")
# Every shlex.quote() output: bare safe characters, or single-quoted (our parameters never
# hold a quote, so no `'"'"'` escape can occur in a valid request).
_QUOTED = r"('[^']*'|[A-Za-z0-9_@%+=:,./-]+)"
NAMES_PATTERN = (
    rf"({USER_NAME_PATTERN[1:-1]}( {USER_NAME_PATTERN[1:-1]}){{0,499}})?"  # "" or "a b c"
)
PATH_PATTERN = SAFE_PATH_PATTERN[1:-1]
# "" or Debian package names, space-separated (the `os` read's declared packages)
PACKAGES_PATTERN = rf"({DEB_PACKAGE_PATTERN[1:-1]}( {DEB_PACKAGE_PATTERN[1:-1]}){{0,499}})?"
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

    unused: Any = None
    out: list[ObserverRead] = []
    for resource in registry.HOST_RESOURCES:
        if resource.KIND == accounts.KIND:
            spec = accounts.AccountSpec(_sentinel(0), "ssh", "", (), "")
            out.append(ObserverRead(resource.KIND, (NAMES_PATTERN,), accounts.read([spec])))
        elif resource.KIND == system.KIND:
            # the declared packages are one parameter, split by the script's shell
            read_os = system.script(_sentinel(0))
            out.append(ObserverRead(resource.KIND, (PACKAGES_PATTERN,), read_os))
        else:
            out.append(ObserverRead(resource.KIND, (), resource.read(unused)))
    out.append(ObserverRead(backup.KIND, (), backup.read(unused)))
    where = storage.StorageSpec("", "", 22, "", _sentinel(0))
    out.append(ObserverRead(storage.STORAGE_KIND, (PATH_PATTERN,), storage.storage_read(where)))
    out.append(ObserverRead(mail.KIND, (), mail.read(mail.desired([])[0])))
    out.append(ObserverRead(monitoring.KIND, (), monitoring.read()))
    out.append(ObserverRead(security.KIND, (), security.read()))
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
