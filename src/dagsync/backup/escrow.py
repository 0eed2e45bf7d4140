"""Recovery copies of repository passphrases ("escrow"), outside git.

A repository passphrase is generated on the server at the first apply and never enters git
nor any output.  Without it (and the repository key) the archives of a dead server cannot
be read, so a recovery copy is kept where `passphrase_escrow` of `policies/dag.yaml` says,
or where `$DAGSYNC_PASSPHRASE_ESCROW` says (it wins, for tests and sandboxes):

- `file:/path`, `file:///path`, `/path` or `~/path`: a folder on the machine that runs
  dagsync (e.g. an encrypted volume of the operations workstation).  One file per server,
  `<folder>/<client>/<server>.json`, mode 0600 in folders of mode 0700, holding the
  repository URL, the passphrase and the repository key (`borg key export`).  The folder
  may not lie inside the configuration repository.
- anything else (e.g. `vault://...`) is not a location this version can write to: the apply
  refuses to initialise a repository whose passphrase it cannot escrow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import DagsyncError

ESCROW_ENV = "DAGSYNC_PASSPHRASE_ESCROW"


class EscrowError(DagsyncError):
    """The escrow location is unusable or a copy could not be written."""


@dataclass(frozen=True)
class Escrow:
    """Where recovery copies go: a local folder, or `folder=None` when unsupported."""

    spec: str
    folder: Path | None

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
    spec = os.environ.get(ESCROW_ENV) or setting
    raw = spec.removeprefix("file://") if spec.startswith("file:///") else spec
    raw = raw.removeprefix("file:")
    if not (raw.startswith("/") or raw.startswith("~")):
        return Escrow(spec, None)
    folder = Path(raw).expanduser().absolute()
    if repo_root is not None and folder.is_relative_to(repo_root.resolve()):
        raise EscrowError(
            f"passphrase escrow {folder} is inside the configuration repository "
            "(passphrases never enter git): choose a folder outside it"
        )
    return Escrow(spec, folder)


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
    try:
        for folder in (path.parent.parent, path.parent):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2)
            handle.write("\n")
        Path(tmp).replace(path)
    except OSError as exc:
        raise EscrowError(f"cannot write the passphrase escrow {path}: {exc}") from exc
    return path
