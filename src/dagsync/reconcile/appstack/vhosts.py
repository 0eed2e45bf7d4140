"""Web server vhosts (CGV Art. 4, « Gestion des Vhosts et des logs systèmes associés »).

When a server's `app_server` is nginx, each declared vhost is one file,
`/etc/nginx/conf.d/dagsync-<domain>.conf`, rendered whole by `appstack.nginx` and starting
with dagsync's header line.  The read lists every file nginx loads from `conf.d` and
`sites-enabled` (name, SHA-256, whether it carries the header); a file without the header
was not written by dagsync: it is reported and never touched, even where a declared vhost
would go.  An apply stages the new files, moves them into place keeping the previous ones,
runs `nginx -t`, and reloads (or starts) nginx only if the test passes; otherwise it puts
the previous files back and reports the failure, so nginx keeps serving the old
configuration.  A dagsync file no longer declared is removed only with --allow-destroy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.reconcile.appstack import nginx
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Unknown
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Outcome,
    ServerInputs,
    Status,
)
from dagsync.reconcile.shell import UnsafeValue, atomic_write, q

KIND = "vhosts"
DIRS = (nginx.CONF_DIR, "/etc/nginx/sites-enabled")
PID_FILE = "/run/nginx.pid"
PLACEHOLDER = "dagsync placeholder, until issued"
_MANAGED_NAME = re.compile(r"^dagsync-[a-z0-9._-]+\.conf$")


@dataclass(frozen=True)
class VhostFile:
    path: str
    domain: str
    text: str
    tls: nginx.Site | None = None  # the site, when it serves HTTPS

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class VhostsDesired:
    server: str | None  # "nginx" when dagsync manages the vhosts, else None
    files: tuple[VhostFile, ...]


@dataclass(frozen=True)
class SeenFile:
    path: str
    type: str  # file, link, other
    sha256: str | None
    managed: bool  # a regular file starting with dagsync's header


@dataclass(frozen=True)
class VhostsObserved:
    installed: bool
    running: bool
    files: tuple[SeenFile, ...]

    def at(self, path: str) -> SeenFile | None:
        return next((f for f in self.files if f.path == path), None)


# --- desired -------------------------------------------------------------------------------


def desired(inputs: ServerInputs) -> tuple[VhostsDesired, tuple[Note, ...]]:
    server = inputs.server
    app = server.app_server.name.lower() if server.app_server else None
    if app != "nginx":
        notes: tuple[Note, ...] = ()
        if server.vhosts:
            what = app or "no app_server"
            notes = (
                Note(KIND, f"{len(server.vhosts)} vhost(s) declared on {what}: not managed yet"),
            )
        return VhostsDesired(None, ()), notes
    files: dict[str, VhostFile] = {}
    for vhost in server.vhosts:
        site = nginx.site(vhost.domain, vhost.aliases, vhost.document_root, vhost.tls is not None)
        where = f"{nginx.CONF_DIR}/{site.file_name}"
        if where in files:
            raise UnsafeValue(f"vhost {site.domain} is declared twice on {inputs.target.key}")
        text = nginx.render(site, inputs.target.key)
        files[where] = VhostFile(where, site.domain, text, site if site.tls else None)
    return VhostsDesired("nginx", tuple(files.values())), ()


# --- read ----------------------------------------------------------------------------------


def read(desired: VhostsDesired | None) -> str:
    """The same script for every server (the observer allows it as is): nginx installed and
    running; then three lines, each the hex of NUL-separated records (so that no file name
    can shape the output): every entry of the folders nginx loads (`<type> <path>`), the
    SHA-256 of each regular file (`sha256sum -z`), and the files whose first line is
    dagsync's header.  A constant number of processes, whatever the number of files."""
    dirs = " ".join(q(d) for d in DIRS)
    hexed = "od -An -v -tx1 | tr -d ' \\n'; echo"
    files = 'find "$@" -mindepth 1 -maxdepth 1 -type f -exec'
    # "//" ends each name: find's paths never hold it (a name has no "/"), and mawk's printf
    # cannot print a NUL
    first = "'FNR == 1 { if ($0 == h) printf \"%s//\", FILENAME; nextfile }'"
    return f"""if command -v nginx >/dev/null 2>&1; then echo 'nginx yes'; else echo 'nginx no'; fi
p=; read -r p 2>/dev/null < {PID_FILE}
if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo 'running yes'; else echo 'running no'; fi
set --
for d in {dirs}; do if [ -d "$d" ]; then set -- "$@" "$d"; fi; done
if [ $# -eq 0 ]; then printf '\\n\\n\\n'; exit 0; fi
find "$@" -mindepth 1 -maxdepth 1 -printf '%y %p\\0' | {hexed}
{files} sha256sum -z -- {{}} + | {hexed}
{files} awk -v h={q(nginx.HEADER)} {first} {{}} + | {hexed}
"""


def _records(line: str, end: str) -> list[str] | None:
    """The records of one hex line, each ended by `end` (NUL, or "//" given as "/"), or
    None if the line is not hex."""
    if len(line) % 2 or not re.fullmatch(r"[0-9a-f]*", line):
        return None
    text = bytes.fromhex(line).decode(errors="backslashreplace")
    return text.split("\0" if end == "\0" else "//")[:-1] if text else []


def parse(result: CommandResult) -> VhostsObserved | Unknown:
    if not result.ok:
        why = result.stderr.strip()[:200]
        return Unknown(f"reading the nginx folders failed ({result.exit_code}): {why}")
    lines = result.stdout.split("\n")
    if len(lines) < 5 or lines[0] not in ("nginx yes", "nginx no"):
        return Unknown(f"unexpected output: {result.stdout[:80]!r}")
    if lines[1] not in ("running yes", "running no"):
        return Unknown(f"unexpected output: {lines[1][:80]!r}")
    entries, hashes, ours = (
        _records(line, sep) for line, sep in zip(lines[2:5], "\0\0/", strict=True)
    )
    if entries is None or hashes is None or ours is None:
        return Unknown("the listing of the nginx folders is not hex")
    managed = set(ours)
    digests = {}
    for record in hashes:
        digest, sep, where = record.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
            return Unknown(f"unexpected digest record {record[:80]!r}")
        digests[where] = digest
    seen = []
    for record in entries:
        kind, _, where = record.partition(" ")
        if kind == "f" and where not in digests:
            return Unknown(f"{where[:80]!r} could not be read")
        name = {"f": "file", "l": "link"}.get(kind, "other")
        seen.append(SeenFile(where, name, digests.get(where), kind == "f" and where in managed))
    return VhostsObserved(lines[0] == "nginx yes", lines[1] == "running yes", tuple(seen))


def encode(observed: VhostsObserved) -> Any:
    return {
        "installed": observed.installed,
        "running": observed.running,
        "files": [[f.path, f.type, f.sha256, f.managed] for f in observed.files],
    }


# --- diff ----------------------------------------------------------------------------------


def _write(action: Action, file: VhostFile, summary: str) -> Change:
    payload: dict[str, Any] = {
        "op": "write",
        "path": file.path,
        "text": file.text,
        "sha256": file.sha256,
    }
    if file.tls is not None:
        payload["tls"] = {
            "certificate": file.tls.certificate,
            "key": file.tls.key,
            "names": list(file.tls.names),
        }
    details = (Detail(" ", f"server_name {file.domain} ({file.path})"),)
    return Change(KIND, action, file.path, summary, details, payload)


def _file_changes(desired: VhostsDesired, observed: VhostsObserved) -> list[Change | Note]:
    out: list[Change | Note] = []
    for file in desired.files:
        have = observed.at(file.path)
        if have is None:
            out.append(_write(Action.CREATE, file, f"create vhost {file.domain}"))
        elif not (have.type == "file" and have.managed):
            out.append(
                Note(
                    KIND,
                    f"{file.path} exists and was not written by dagsync: it is "
                    f"left alone, and vhost {file.domain} is not written",
                )
            )
        elif have.sha256 != file.sha256:
            out.append(_write(Action.UPDATE, file, f"update vhost {file.domain}"))
    return out


def is_ours(path: str) -> bool:
    """Whether `path` is where dagsync writes a vhost: `conf.d/dagsync-<name>.conf`."""
    folder, _, name = path.rpartition("/")
    return folder == nginx.CONF_DIR and _MANAGED_NAME.fullmatch(name) is not None


def _leftovers(
    desired: VhostsDesired, observed: VhostsObserved, options: DiffOptions
) -> list[Change | Note]:
    wanted = {f.path for f in desired.files}
    out: list[Change | Note] = []
    for seen in observed.files:
        if seen.path in wanted:
            continue
        if not (seen.type == "file" and seen.managed and is_ours(seen.path)):
            out.append(Note(KIND, f"{seen.path!r} was not written by dagsync: left alone"))
        elif options.allow_destroy:
            summary = f"remove {seen.path} (vhost no longer declared)"
            out.append(
                Change(
                    KIND, Action.DELETE, seen.path, summary, (), {"op": "delete", "path": seen.path}
                )
            )
        else:
            out.append(
                Note(
                    KIND,
                    f"{seen.path} is no longer declared: it is removed only with --allow-destroy",
                )
            )
    return out


def diff(
    desired: VhostsDesired, observed: VhostsObserved, options: DiffOptions
) -> list[Change | Note]:
    if desired.server is None:
        return _leftovers(desired, observed, options) if observed.installed else []
    if not observed.installed:
        return [
            Note(
                KIND,
                f"nginx is not installed: {len(desired.files)} vhost(s) cannot be "
                "written until it is",
            )
        ]
    out = _file_changes(desired, observed) + _leftovers(desired, observed, options)
    if not any(isinstance(c, Change) for c in out) and not observed.running:
        out.append(
            Change(
                KIND, Action.UPDATE, "nginx", "start nginx (it is not running)", (), {"op": "start"}
            )
        )
    return out


# --- apply ---------------------------------------------------------------------------------


def _stage(change: Change) -> tuple[str, bytes]:
    text = str(change.payload["text"]).encode()
    return atomic_write(_staged(change), text, mode="0644"), text


def _staged(change: Change) -> str:
    return str(change.payload["path"]) + ".dagsync-new"  # not *.conf: nginx never loads it


def swap_script(changes: Sequence[Change]) -> str:
    """Move the staged files into place (keeping the previous ones), `nginx -t`, then reload
    or start nginx; if the test fails, put every previous file back and fail."""
    steps = ["set -u", "b=$(mktemp -d /run/dagsync-nginx.XXXXXX) || exit 3"]
    restore = []
    for index, change in enumerate(changes):
        op, where = change.payload.get("op"), str(change.payload.get("path", ""))
        if op not in ("write", "delete"):
            continue
        if not is_ours(where):
            raise UnsafeValue(f"{where!r} is not a vhost file of dagsync")
        keep = f'"$b"/{index}'
        steps.append(f"if [ -e {q(where)} ]; then cp -p {q(where)} {keep}; fi")
        if op == "write":
            steps.append(f"mv -fT {q(_staged(change))} {q(where)}")
        else:
            steps.append(f"rm -f {q(where)}")
        restore.append(
            f"if [ -e {keep} ]; then mv -fT {keep} {q(where)}; else rm -f {q(where)}; fi"
        )
    steps += [placeholder(c.payload["tls"]) for c in changes if c.payload.get("tls")]
    steps += [
        "if out=$(nginx -t 2>&1); then",
        *(f"  {line}" for line in RELOAD.splitlines()),
        '  rm -rf "$b"; echo applied',
        "else",
        *(f"  {line}" for line in restore),
        '  rm -rf "$b"',
        '  printf "%s\\n" "$out" | tail -n 5 >&2',
        "  echo 'dagsync: nginx -t refused the new configuration; the previous files were "
        "restored and nginx keeps serving them' >&2",
        "  exit 3",
        "fi",
    ]
    return "\n".join(steps) + "\n"


# Reload a running nginx and wait until its master has started new workers and the old ones
# have left (up to 15 s: an old worker may finish a long download; only new workers accept
# connections then), or start it; "$b" is the apply's scratch folder.
RELOAD = f"""p=; read -r p 2>/dev/null < {PID_FILE}
failed() {{ tail -n 5 "$b"/log >&2; rm -rf "$b"; echo "dagsync: nginx did not $1" >&2; exit 4; }}
if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
  old=" $(ps -o pid= --ppid "$p" | tr '\\n' ' ') "
  nginx -s reload 2>"$b"/log || failed reload
  n=0
  while :; do
    fresh= stale=
    for c in $(ps -o pid= --ppid "$p"); do
      case "$old" in *" $c "*) stale=1;; *) fresh=1;; esac
    done
    n=$((n + 1))
    if [ -n "$fresh" ] && {{ [ -z "$stale" ] || [ $n -gt 150 ]; }}; then break; fi
    [ $n -le 150 ] || {{ echo 'dagsync: nginx started no new worker' > "$b"/log; failed reload; }}
    sleep 0.1
  done
else
  nginx </dev/null 2>"$b"/log || failed start
fi"""


def placeholder(tls: Any) -> str:
    """A self-signed certificate for the site's names where none is yet (nginx refuses a
    vhost without one), until the certificate is issued: valid two days, said in its name."""
    cert, key = nginx.path(str(tls["certificate"])), nginx.path(str(tls["key"]))
    names = [nginx.server_name(str(n)) for n in tls["names"]]
    folder = cert.rsplit("/", 1)[0]
    san = "subjectAltName=" + ",".join(f"DNS:{n}" for n in names)
    return (
        f"if [ ! -s {q(cert)} ] || [ ! -s {q(key)} ]; then "
        f"mkdir -p {q(folder)} && chmod 0700 {q(folder)} && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        f"-subj {q('/CN=' + PLACEHOLDER)} -addext {q(san)} -keyout {q(key)} -out {q(cert)} "
        ">/dev/null 2>&1 || { echo 'dagsync: cannot make a placeholder certificate' >&2; "
        'rm -rf "$b"; exit 3; }; fi'
    )


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    """One transaction per host: stage every file, then swap, test and reload at once."""
    for change in changes:
        if change.payload.get("op") == "write":
            command, text = _stage(change)
            result = executor.run(command, stdin=text)
            if not result.ok:
                why = f"staging {change.payload['path']} failed: {result.stderr.strip()[:300]}"
                return [Outcome(c, Status.FAILED, why) for c in changes]
    result = executor.run(swap_script(changes))
    if result.ok:
        return [Outcome(c, Status.APPLIED) for c in changes]
    why = result.stderr.strip()[-600:] or f"exit code {result.exit_code}"
    return [Outcome(c, Status.FAILED, why) for c in changes]
