"""Recovery copies of repository passphrases ("escrow"), outside git.

A repository passphrase is generated on the server at the first apply and never enters git
nor any output.  Without it (and the repository key) the archives of a dead server cannot
be read, so a recovery copy is kept where `passphrase_escrow` of `policies/dag.yaml` says,
or where `$DAGSYNC_PASSPHRASE_ESCROW` says (it wins, for tests and sandboxes):

- `file:/path`, `file:///path`, `/path` or `~/path`: a folder on the machine that runs
  dagsync (e.g. an encrypted volume of the operations workstation).  One file per server,
  `<folder>/<client>/<server>.json`, mode 0600 in folders of mode 0700, holding the
  repository URL, the passphrase and the repository key (`borg key export`).  The folder,
  once resolved (symlinks, `..`, `/proc/self/cwd`), may neither lie inside the configuration
  repository nor contain it, and is checked again, resolved, right before each copy is
  written.  On a CI runner (`CI=true`) a file escrow is refused unless
  `$DAGSYNC_ALLOW_CI_ESCROW=1` says so: a runner's disk is thrown away, or uploaded as an
  artifact.
- anything else (e.g. `vault://...`) is not a location this version can write to: the apply
  refuses to initialise a repository whose passphrase it cannot escrow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagsync.errors import DagsyncError
from dagsync.model.policy import ESCROW_PATTERN

ESCROW_ENV = "DAGSYNC_PASSPHRASE_ESCROW"
ALLOW_CI_ENV = "DAGSYNC_ALLOW_CI_ESCROW"


class EscrowError(DagsyncError):
    """The escrow location is unusable or a copy could not be written."""


@dataclass(frozen=True)
class Escrow:
    """Where recovery copies go: a local folder, or `folder=None` when unsupported."""

    spec: str
    folder: Path | None
    repo_root: Path | None = None  # the configuration repository, resolved: never written in

    @property
    def supported(self) -> bool:
        return self.folder is not None

    def describe(self) -> str:
        return str(self.folder) if self.folder else f"{self.spec} (unsupported location)"

    def path(self, key: str) -> Path:
        if self.folder is None:
            raise EscrowError(
                f"passphrase escrow {self.spec!r} is not a location dagsync can "
                f"write: set passphrase_escrow to file:/folder or ${ESCROW_ENV}"
            )
        client, _, server = key.partition("/")
        return self.folder / client / f"{server}.json"


def resolve(setting: str, repo_root: Path | None = None) -> Escrow:
    """The escrow of `policies/dag.yaml`'s `passphrase_escrow`, or of the environment."""
    from_env = os.environ.get(ESCROW_ENV)
    spec = from_env or setting
    if not re.fullmatch(ESCROW_PATTERN, spec):
        origin = f"${ESCROW_ENV}" if from_env else "passphrase_escrow"
        raise EscrowError(
            f"{origin} is not an escrow location: use file:/folder, /folder, ~/folder "
            "(components of letters, digits, `.`, `_`, `+`, `@`, `-`; no `.` or `..`) or "
            "vault://, https:// or s3:// (not written by this version)"
        )
    raw = spec.removeprefix("file://") if spec.startswith("file:///") else spec
    raw = raw.removeprefix("file:")
    if not (raw.startswith("/") or raw.startswith("~")):
        return Escrow(spec, None)
    if os.environ.get("CI", "").lower() in ("true", "1") and os.environ.get(ALLOW_CI_ENV) != "1":
        raise EscrowError(
            "refusing a file passphrase escrow on a CI runner (CI=true): its disk is thrown "
            "away or uploaded as an artifact; use a location outside the runner, or set "
            f"{ALLOW_CI_ENV}=1 if this runner's folder is really kept safe"
        )
    try:
        folder = Path(raw).expanduser().resolve()  # symlinks, `..`, /proc/self/cwd
    except (OSError, RuntimeError) as exc:
        raise EscrowError(f"passphrase escrow {raw}: cannot be resolved ({exc})") from None
    root = repo_root.resolve() if repo_root is not None else None
    _refuse_inside(folder, root)
    return Escrow(spec, folder, root)


def for_repository(setting: str, repo_root: Path) -> Escrow | None:
    """`resolve`, or None when the location is unusable (a resource that would generate a
    secret then refuses to, saying why)."""
    try:
        return resolve(setting, repo_root)
    except EscrowError:
        return None


def _refuse_inside(folder: Path, root: Path | None) -> None:
    if root is None:
        return
    if folder.is_relative_to(root):
        raise EscrowError(
            f"passphrase escrow {folder} is inside the configuration repository "
            "(passphrases never enter git): choose a folder outside it"
        )
    if root.is_relative_to(folder):
        raise EscrowError(
            f"passphrase escrow {folder} contains the configuration repository {root} "
            "(a client's copies could land in it): choose a folder outside it"
        )


def digest(passphrase: str) -> str:
    """What plans compare: a SHA-256, never the passphrase itself."""
    return hashlib.sha256(passphrase.strip().encode()).hexdigest()


def escrowed_digest(escrow: Escrow, key: str) -> str | None:
    """The digest of the escrowed passphrase of `key`, or None if there is no readable copy."""
    if escrow.folder is None:
        return None
    try:
        data = json.loads(escrow.path(key).read_text())
        return digest(str(data["passphrase"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_secrets(
    escrow: Escrow,
    key: str,
    kind: str,
    secrets: dict[str, str],
    now: dt.datetime | None = None,
) -> Path:
    """Add generated secrets of server `key` (e.g. `kind` "mariadb": user -> password) to its
    recovery file `<folder>/<client>/<server>.<kind>.json`, keeping the ones already there."""
    if not re.fullmatch(r"[a-z]{1,20}", kind):
        raise EscrowError(f"{kind[:30]!r} is not a kind of secret")
    base = escrow.path(key)
    path = base.with_name(f"{base.stem}.{kind}.json")
    try:
        old = json.loads(path.read_text()).get("secrets", {})
    except (OSError, ValueError, AttributeError):
        old = {}
    record = {
        "server": key,
        "kind": kind,
        "secrets": {**old, **secrets},
        "escrowed_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
    }
    return _write_record(escrow, path, record)


def write(
    escrow: Escrow,
    key: str,
    repository: str,
    passphrase: str,
    repo_key: str,
    now: dt.datetime | None = None,
) -> Path:
    """Write the recovery copy of `key` atomically; returns its path."""
    path = escrow.path(key)
    record = {
        "server": key,
        "repository": repository,
        "passphrase": passphrase.strip(),
        "borg_key": repo_key,
        "escrowed_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
    }
    return _write_record(escrow, path, record)


def _write_record(escrow: Escrow, path: Path, record: Mapping[str, object]) -> Path:
    """`record` as JSON at `path`, atomically, mode 0600 in folders of mode 0700, never inside
    the configuration repository (checked before and after the folders are made)."""
    try:
        _refuse_inside(path.parent.resolve(), escrow.repo_root)
        for folder in (path.parent.parent, path.parent):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
        _refuse_inside(path.parent.resolve(), escrow.repo_root)  # a link made since resolve()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2)
            handle.write("\n")
        Path(tmp).replace(path)
    except OSError as exc:
        raise EscrowError(f"cannot write the passphrase escrow {path}: {exc}") from exc
    return path
