"""Which files git tracks under given pathspecs: dagsync's local state must never be (LOC001),
nor credential files (ACC004); `plan` and `apply` refuse a tracked sandbox override."""

from __future__ import annotations

import subprocess
from pathlib import Path

STATE_PATHS = (".dagsync-cache", ".dagsync-sandbox")  # folders of local state, relative


def tracked_state_files(root: Path) -> list[str]:
    """The tracked files under dagsync's state and cache folders (repository-relative)."""
    return tracked(root, STATE_PATHS)


def tracked(root: Path, pathspecs: tuple[str, ...]) -> list[str]:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--full-name", "--", *pathspecs],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if done.returncode != 0:
        return []  # not a git work tree: nothing is tracked
    prefix = _prefix(root)
    names = [n.decode("utf-8", "replace") for n in done.stdout.split(b"\0") if n]
    return sorted(n[len(prefix) :] if n.startswith(prefix) else n for n in names)


def _prefix(root: Path) -> str:
    """`root`'s path inside its git work tree ("" at the top), with a trailing slash."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-prefix"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
