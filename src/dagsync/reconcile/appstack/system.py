"""The operating system (CGV Art. 4, « Infogérance système d'exploitation »): the declared
distribution and major version, security updates applied by unattended-upgrades, the
application prerequisites installed and held, and a major upgrade only when the YAML announces
it with the client's request.

- The distribution and major version are read from `/etc/os-release`.  A server that runs
  another one than its YAML declares fails its plan (`DiffRefused`): it is never "fixed" by an
  upgrade.  With `upgrade_from` (and a `request`, which the validator requires too), a server
  still on that version gets one change, the major upgrade, and nothing else that run.
- unattended-upgrades (the Debian package) is installed, and configured by two files of
  dagsync (`appstack.apt`): periodic runs on, security origins only.  A file at one of those
  paths that dagsync did not write is reported and never touched.
- Each prerequisite is installed (at its pinned version, when it has one) and held
  (`apt-mark hold`), so that neither unattended-upgrades nor an upgrade changes it.
- `plan` notes the pending security updates and the upgrades kept back (held packages), from
  `apt list --upgradable` over the host's package lists as they are: the read changes
  nothing and takes no lock, so the observer key runs it as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.model.system import CODENAMES, DAG_PACKAGES
from dagsync.reconcile.appstack import apt
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, DiffRefused, Note, Unknown
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Outcome,
    ServerInputs,
    Status,
)
from dagsync.reconcile.shell import UnsafeValue, atomic_write, q

KIND = "os"
SECTIONS = ("--- conf", "--- packages", "--- upgrades", "--- holds", "--- lists", "--- end")
APT_ENV = "export DEBIAN_FRONTEND=noninteractive LC_ALL=C"
APT_OPTIONS = (
    "-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef "
    "-o Dpkg::Options::=--force-confold"
)


@dataclass(frozen=True)
class OsDesired:
    name: str
    version: str
    upgrade_from: str | None
    request: str | None
    request_summary: str | None
    prerequisites: tuple[tuple[str, str | None], ...]  # (package, pinned version)
    files: tuple[tuple[str, str], ...]  # (path, text)

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(sorted({apt.UNATTENDED, *(p for p, _ in self.prerequisites)}))


@dataclass(frozen=True)
class OsObserved:
    distribution: str
    major: str
    files: tuple[tuple[str, str, bool], ...]  # (path, sha256, written by dagsync)
    packages: tuple[apt.Package, ...]
    pending: tuple[apt.Pending, ...] | None  # None: apt list failed; held ones are kept_back
    kept_back: tuple[str, ...]
    lists: str  # date of the newest package list, "" if none

    def package(self, name: str) -> apt.Package | None:
        return next((p for p in self.packages if p.name == name), None)


def desired(inputs: ServerInputs) -> tuple[OsDesired, tuple[Note, ...]]:
    system = inputs.server.os
    prerequisites = tuple((p.package, p.version) for p in system.prerequisites)
    for package, _ in prerequisites:
        if package in DAG_PACKAGES:  # APP002 refuses it first
            raise UnsafeValue(f"{package} is a package DAG's services depend on: never held")
    summary = inputs.request_summary(system.request) if system.request else None
    files = tuple(sorted(apt.conf_files().items()))
    state = OsDesired(
        str(system.name),
        system.version,
        system.upgrade_from,
        system.request,
        summary,
        prerequisites,
        files,
    )
    return state, ()


# --- read ----------------------------------------------------------------------------------


def read(desired: OsDesired) -> str:
    """os-release's ID and VERSION_ID, dagsync's apt files (digest, header), the declared
    packages' dpkg status, the upgradable and the held packages, the date of the package
    lists."""
    return script(q(" ".join(desired.packages)))


def script(names: str) -> str:
    """The read with `names` (one shell word: the package names, space-separated) as given."""
    files = " ".join(q(path) for path in (apt.PERIODIC_FILE, apt.ORIGINS_FILE))
    fmt = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"
    return f"""{APT_ENV}
set -f
if [ -r /etc/os-release ]; then sed -n 's/^ID=/id\\t/p; s/^VERSION_ID=/version\\t/p' /etc/os-release; fi
echo '{SECTIONS[0]}'
for f in {files}; do
  if [ -f "$f" ]; then
    s=$(sha256sum < "$f" | cut -d' ' -f1); l=; IFS= read -r l < "$f" || true
    if [ "$l" = {q(apt.HEADER)} ]; then h=1; else h=0; fi
    echo "file $s $h $f"
  fi
done
echo '{SECTIONS[1]}'
names={names}
dpkg-query -W -f='{fmt}' -- $names 2>/dev/null || true
echo '{SECTIONS[2]}'
apt list --upgradable 2>/dev/null || echo 'dagsync: apt failed'
echo '{SECTIONS[3]}'
dpkg-query -W -f='${{db:Status-Abbrev}} ${{Package}}\\n' | awk '$1 ~ /^h/ {{ print $2 }}'
echo '{SECTIONS[4]}'
find /var/lib/apt/lists -maxdepth 1 -name '*Release' -printf '%TY-%Tm-%Td\\n' 2>/dev/null | sort | tail -n 1
echo '{SECTIONS[5]}'
"""


def parse(result: CommandResult) -> OsObserved | Unknown:
    if not result.ok:
        return Unknown(f"reading the OS failed ({result.exit_code}): {result.stderr[:200]}")
    lines = result.stdout.split("\n")
    if any(section not in lines for section in SECTIONS):
        return Unknown(f"unexpected output: {result.stdout[-80:]!r}")
    at = [lines.index(section) for section in SECTIONS]
    release = apt.os_release(lines[: at[0]])
    if release is None:
        return Unknown("/etc/os-release names no ID and VERSION_ID")
    files = []
    for line in lines[at[0] + 1 : at[1]]:
        parts = line.split(" ", 3)
        if len(parts) != 4 or parts[0] != "file" or parts[2] not in ("0", "1"):
            return Unknown(f"unexpected file record {line[:80]!r}")
        files.append((parts[3], parts[1], parts[2] == "1"))
    packages = apt.packages(lines[at[1] + 1 : at[2]])
    if packages is None:
        return Unknown("unexpected dpkg-query output")
    listing = lines[at[2] + 1 : at[3]]
    upgrades = None if "dagsync: apt failed" in listing else apt.upgradable(listing)
    held = {name for name in lines[at[3] + 1 : at[4]] if name}
    pending = kept = None
    if upgrades is not None:
        pending = tuple(p for p in upgrades if p.package not in held)
        kept = tuple(sorted(p.package for p in upgrades if p.package in held))
    dates = [d for d in lines[at[4] + 1 : at[5]] if d]
    return OsObserved(
        release[0],
        release[1],
        tuple(files),
        tuple(packages.values()),
        pending,
        kept or (),
        dates[-1] if dates else "",
    )


def encode(observed: OsObserved) -> Any:
    """What a change depends on (the pending updates are notes: not fingerprinted)."""
    return {
        "os": [observed.distribution, observed.major],
        "files": [list(f) for f in observed.files],
        "packages": [[p.name, p.version, p.installed, p.held] for p in observed.packages],
    }


# --- diff ----------------------------------------------------------------------------------


def _release(desired: OsDesired, observed: OsObserved) -> list[Change | Note]:
    """The major-upgrade change, or nothing; DiffRefused for any other mismatch."""
    runs = f"{observed.distribution} {observed.major}"
    if (observed.distribution, observed.major) == (desired.name, desired.version):
        if desired.upgrade_from is not None:
            return [Note(KIND, f"runs {runs}: the major upgrade is done, remove `upgrade_from`")]
        return []
    if desired.upgrade_from is None or (observed.distribution, observed.major) != (
        desired.name,
        desired.upgrade_from,
    ):
        raise DiffRefused(
            f"the server runs {runs}, its YAML declares {desired.name} {desired.version}: "
            "a mismatch is not an upgrade (declare `upgrade_from` with the client's request "
            "for a major upgrade, or correct `os`)"
        )
    if desired.request is None:
        raise DiffRefused(f"the major upgrade to {desired.version} cites no client request")
    why = f"request {desired.request}" + (
        f": {desired.request_summary}" if desired.request_summary else ""
    )
    summary = f"major upgrade {runs} -> {desired.version} ({why})"
    payload = {
        "op": "major-upgrade",
        "from": CODENAMES[desired.upgrade_from],
        "to": CODENAMES[desired.version],
        "version": desired.version,
    }
    details = (Detail("!", "held prerequisites stay as they are; the server may reboot later"),)
    return [Change(KIND, Action.UPDATE, "os", summary, details, payload)]


def _files(desired: OsDesired, observed: OsObserved) -> list[Change | Note]:
    seen = {path: (digest, ours) for path, digest, ours in observed.files}
    out: list[Change | Note] = []
    for path, text in desired.files:
        write = {"op": "write", "path": path, "text": text}
        if path not in seen:
            out.append(Change(KIND, Action.CREATE, path, f"write {path}", (), write))
        elif not seen[path][1]:
            out.append(Note(KIND, f"{path} was not written by dagsync: left alone"))
        elif seen[path][0] != apt_digest(text):
            out.append(Change(KIND, Action.UPDATE, path, f"rewrite {path}", (), write))
    return out


def apt_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _packages(desired: OsDesired, observed: OsObserved) -> list[Change | Note]:
    out: list[Change | Note] = []
    wanted: dict[str, tuple[str | None, bool]] = {apt.UNATTENDED: (None, False)}
    wanted.update((p, (v, True)) for p, v in desired.prerequisites)
    for name, (version, hold) in wanted.items():
        have = observed.package(name)
        payload = {"op": "package", "package": name, "version": version, "hold": hold}
        what = f"{name}={version}" if version else name
        held = " and hold it" if hold else ""
        if have is None or not have.installed:
            summary = f"install {what}{held}"
            payload["install"] = True
            out.append(Change(KIND, Action.CREATE, f"package {name}", summary, (), payload))
        elif version is not None and have.version != version:
            summary = f"pin {name} {have.version} -> {version}{held}"
            payload["install"] = True
            out.append(Change(KIND, Action.UPDATE, f"package {name}", summary, (), payload))
        elif hold and not have.held:
            payload["install"] = False
            out.append(Change(KIND, Action.UPDATE, f"package {name}", f"hold {name}", (), payload))
    return out


def _updates(observed: OsObserved) -> list[Note]:
    if observed.pending is None:
        return [Note(KIND, "pending updates unknown: apt list --upgradable failed")]
    lists = f" (package lists of {observed.lists})" if observed.lists else ""
    out = []
    security = [p for p in observed.pending if p.security]
    if security:
        shown = ", ".join(f"{p.package} {p.installed} -> {p.candidate}" for p in security[:10])
        more = f" and {len(security) - 10} more" if len(security) > 10 else ""
        out.append(Note(KIND, f"{len(security)} pending security update(s){lists}: {shown}{more}"))
    if observed.kept_back:
        held = {p.name for p in observed.packages if p.held}
        shown = ", ".join(f"{n}{' (held)' if n in held else ''}" for n in observed.kept_back)
        out.append(Note(KIND, f"upgrades held back{lists}: {shown}"))
    return out


def diff(desired: OsDesired, observed: OsObserved, options: DiffOptions) -> list[Change | Note]:
    upgrade = _release(desired, observed)
    if any(isinstance(c, Change) for c in upgrade):
        return upgrade + _updates(observed)  # the upgrade alone: the rest on the next run
    return upgrade + _files(desired, observed) + _packages(desired, observed) + _updates(observed)


# --- apply ---------------------------------------------------------------------------------


def packages_script(changes: Sequence[Change]) -> str:
    """One apt transaction: each unpinned name must exist exactly (apt-get would read a
    name with `.` or `+` it does not know as a regular expression), then install, then hold."""
    items = [c.payload for c in changes if c.payload.get("op") == "package"]
    install = [p for p in items if p.get("install")]
    held = [str(p["package"]) for p in items if p.get("hold")]
    steps = [APT_ENV, "set -eu"]
    if install:
        steps += [
            "apt-get update -q >/dev/null 2>&1 || "
            "echo 'dagsync: apt-get update reported errors' >&2",
            "known=$(apt-cache pkgnames)",
        ]
    for name in (str(p["package"]) for p in install):
        missing = q(f"dagsync: no package named {name} in the package lists")
        steps.append(
            f"printf '%s\\n' \"$known\" | grep -qxF -- {q(name)} || "
            f"{{ echo {missing} >&2; exit 3; }}"
        )
    if install:
        args = " ".join(
            q(f"{p['package']}={p['version']}" if p.get("version") else str(p["package"]))
            for p in install
        )
        steps.append(f"apt-get install {APT_OPTIONS} --allow-change-held-packages -- {args}")
    if held:
        steps.append(f"apt-mark hold -- {' '.join(q(n) for n in held)} >/dev/null")
    return "\n".join(steps) + "\n"


def upgrade_script(payload: Any) -> str:
    """Switch the sources from one codename to the next (kept until the upgrade succeeds),
    then full-upgrade; held packages stay held."""
    old, new, version = (str(payload[k]) for k in ("from", "to", "version"))
    if old not in CODENAMES.values() or new not in CODENAMES.values() or not version.isdigit():
        raise ValueError(f"not a known Debian upgrade: {old} -> {new}")
    return f"""{APT_ENV}
set -eu
b=$(mktemp -d /root/dagsync-sources.XXXXXX)
cp -a /etc/apt/sources.list /etc/apt/sources.list.d "$b"/ 2>/dev/null || true
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sed -i -E 's/\\b{old}(-security|-updates|-backports)?\\b/{new}\\1/g' "$f"
done
if ! apt-get update -q >/dev/null; then
  rm -rf /etc/apt/sources.list.d; cp -a "$b"/. /etc/apt/
  echo 'dagsync: apt-get update failed on the {new} sources; the {old} sources are back' >&2
  exit 3
fi
apt-get full-upgrade {APT_OPTIONS}
. /etc/os-release
[ "${{VERSION_ID%%.*}}" = {version} ] || {{ echo "dagsync: still VERSION_ID=$VERSION_ID" >&2; exit 4; }}
rm -rf "$b"
"""


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for change in changes:
        op = change.payload.get("op")
        if op == "write":
            text = str(change.payload["text"]).encode()
            result = executor.run(atomic_write(str(change.payload["path"]), text), stdin=text)
        elif op == "major-upgrade":
            result = executor.run(upgrade_script(change.payload), timeout=3600)
        else:
            continue
        status = Status.APPLIED if result.ok else Status.FAILED
        outcomes.append(Outcome(change, status, "" if result.ok else result.stderr[-600:]))
    batch = [c for c in changes if c.payload.get("op") == "package"]
    if batch:
        result = executor.run(packages_script(batch), timeout=1800)
        why = "" if result.ok else (result.stderr.strip()[-600:] or f"exit {result.exit_code}")
        status = Status.APPLIED if result.ok else Status.FAILED
        outcomes += [Outcome(c, status, why) for c in batch]
    return outcomes
