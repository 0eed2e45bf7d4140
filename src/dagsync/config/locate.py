"""Where the configuration repository is: the folder named by --repo, or the nearest one
upward holding clients/ and policies/."""

from __future__ import annotations

from pathlib import Path

from dagsync.errors import DagsyncError


def find_repo(start: Path) -> Path:
    """The configuration repository: the nearest folder upward holding clients/ and policies/."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "clients").is_dir() and (folder / "policies").is_dir():
            return folder
    raise DagsyncError(
        f"no configuration repository (a folder with clients/ and policies/) at or above {start}: "
        "run dagsync inside one or pass --repo DIR"
    )


def repo_path(repo: str | None) -> Path:
    """The repository named by --repo, or the one found upward from the working folder."""
    return Path(repo).resolve() if repo else find_repo(Path.cwd())
