"""Shell completion of the names dagsync takes: clients, servers, rule IDs and kinds.

Click's own completion does the shell side (bash >= 4.4, zsh, fish)::

    eval "$(_DAGSYNC_COMPLETE=bash_source dagsync)"   # in ~/.bashrc
    eval "$(_DAGSYNC_COMPLETE=zsh_source dagsync)"    # in ~/.zshrc
    _DAGSYNC_COMPLETE=fish_source dagsync > ~/.config/fish/completions/dagsync.fish

The completers below read names from the repository given by ``--repo`` on the line, else the
one found upward from the current folder, by listing folders and file names only: completing
never parses or validates YAML, and a missing repository completes nothing (never an error).
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.shell_completion import CompletionItem

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _root(ctx: click.Context) -> Path | None:
    from dagsync.config.locate import find_repo
    from dagsync.errors import DagsyncError

    for context in (ctx, *_parents(ctx)):
        repo = context.params.get("repo")
        if isinstance(repo, str) and repo:
            return Path(repo)
    try:
        return find_repo(Path.cwd())
    except (DagsyncError, OSError):
        return None


def _parents(ctx: click.Context) -> list[click.Context]:
    found = []
    while ctx.parent is not None:
        ctx = ctx.parent
        found.append(ctx)
    return found


def client_ids(root: Path) -> list[str]:
    folder = root / "clients"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and _NAME.match(p.name))


def server_keys(root: Path) -> list[str]:
    """`client/server` for every server file, then the bare server names."""
    keys = [
        f"{client}/{path.stem}"
        for client in client_ids(root)
        for path in sorted((root / "clients" / client / "servers").glob("*.yaml"))
        if _NAME.match(path.stem)
    ]
    return keys + sorted({key.split("/", 1)[1] for key in keys})


def _items(names: list[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def complete_client(
    ctx: click.Context, _: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    root = _root(ctx)
    return _items(client_ids(root), incomplete) if root else []


def complete_server(
    ctx: click.Context, _: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    root = _root(ctx)
    return _items(server_keys(root), incomplete) if root else []


def complete_kind(_: click.Context, __: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Kinds for `--only`, which takes a comma-separated list: complete its last element."""
    from dagsync.reconcile.driverspec import KINDS

    done, _sep, last = incomplete.rpartition(",")
    chosen = set(done.split(",")) if done else set()
    prefix = f"{done}," if done else ""
    return [
        CompletionItem(prefix + kind)
        for kind in KINDS
        if kind.startswith(last) and kind not in chosen
    ]


def complete_rule(_: click.Context, __: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from dagsync.rules.registry import RULES

    wanted = incomplete.upper()
    return [
        CompletionItem(rule.id, help=f"Art. {rule.article}" if rule.article else None)
        for rule in RULES
        if rule.id.startswith(wanted)
    ]
