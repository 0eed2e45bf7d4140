"""`dagsync apply` runs only from the tip of the branch it is configured for.

Re-running an old apply (a re-run CI job, a stale clone, a feature branch) would silently roll
production back to an older or unreviewed configuration.  So, before anything is read or
changed, :func:`require_tip` checks that HEAD is *the current tip* of the configured branch
and that the configuration (``clients/``, ``policies/``) has no uncommitted change:

- ``REMOTE/BRANCH`` (``origin/main``, the default): the tip is asked from the remote itself
  (``git ls-remote``), so a push that landed after the checkout is seen, and a stale local
  ``origin/main`` cannot be used to pass the check; a remote that cannot be reached refuses;
- any other revision (``main``): the local ref.

Which branch: ``--require-tip REF`` or ``$DAGSYNC_REQUIRE_TIP``; without either,
``origin/main``, and no check in sandbox mode (``DAGSYNC_SANDBOX=1``: the sandbox's test hosts
only).  A hosts file named by ``DAGSYNC_HOSTS_FILE`` does not turn it off: local state is not
trusted as if it had been reviewed.  ``--any-commit`` turns the check off (an emergency).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from dagsync.errors import DagsyncError
from dagsync.gitops.repo import GitError, open_repo, resolve, run

__all__ = ["DEFAULT_TIP", "TIP_ENV", "NotOnTip", "require_tip"]

TIP_ENV: Final = "DAGSYNC_REQUIRE_TIP"
DEFAULT_TIP: Final = "origin/main"
EXIT_NOT_ON_TIP: Final = 2


class NotOnTip(DagsyncError):
    """HEAD is not the tip of the branch apply is configured for: nothing was changed."""

    exit_code = EXIT_NOT_ON_TIP


def _remote_tip(root: Path, remote: str, branch: str, ref: str) -> str:
    repo = open_repo(root)
    try:
        out = run(repo, "ls-remote", "--heads", "--", remote, f"refs/heads/{branch}")
    except GitError as exc:
        raise NotOnTip(
            f"refusing to apply: cannot read the tip of {ref} from the remote {remote!r} "
            f"({exc}); nothing was changed"
        ) from None
    # `ls-remote` matches the pattern against the tail of each ref name, so a pushed branch
    # `a/refs/heads/main` is listed too: only the exact ref name counts.
    wanted = f"refs/heads/{branch}"
    fields = [line.split("\t") for line in out.splitlines() if line.strip()]
    tips = sorted({f[0].strip() for f in fields if len(f) == 2 and f[1].strip() == wanted})
    if not tips:
        raise NotOnTip(
            f"refusing to apply: the remote {remote!r} has no branch {branch!r} "
            f"(--require-tip {ref}); nothing was changed"
        )
    if len(tips) > 1:
        raise NotOnTip(
            f"refusing to apply: the remote {remote!r} lists {wanted} more than once with "
            f"different commits ({', '.join(t[:12] for t in tips)}); nothing was changed"
        )
    return tips[0]


def require_tip(root: Path, ref: str) -> str:
    """Raise :class:`NotOnTip` unless HEAD is the current tip of ``ref`` and the configuration
    has no uncommitted change; the line to log when it is."""
    if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
        raise NotOnTip(f"--require-tip {ref!r} is not a branch name such as origin/main")
    repo = open_repo(root)
    try:
        head = resolve(repo, "HEAD")
    except GitError:
        raise NotOnTip("refusing to apply: HEAD is not a commit; nothing was changed") from None
    remote, _, branch = ref.partition("/")
    if branch and remote in run(repo, "remote").split():
        tip = _remote_tip(root, remote, branch, ref)
    else:
        try:
            tip = resolve(repo, ref)
        except GitError:
            raise NotOnTip(
                f"refusing to apply: {ref} is neither a remote branch (REMOTE/BRANCH of a "
                "configured remote) nor a revision of this repository; nothing was changed"
            ) from None
    if head != tip:
        raise NotOnTip(
            f"refusing to apply: HEAD is {head[:12]}, not the tip of {ref} ({tip[:12]}). "
            f"Applying it could roll production back to an older or unreviewed configuration. "
            f"Apply from the tip (`git fetch && git checkout {tip[:12]}`), or pass --any-commit "
            "for the sandbox. Nothing was changed."
        )
    paths = [repo.git_path("clients"), repo.git_path("policies")]
    dirty = run(repo, "status", "--porcelain", "--untracked-files=all", "--", *paths)
    if dirty.strip():
        count = len(dirty.splitlines())
        raise NotOnTip(
            f"refusing to apply: {count} uncommitted change(s) under clients/ or policies/ "
            f"(`git status`): apply applies only what {ref} holds. Nothing was changed."
        )
    return f"apply from {head[:12]}, the tip of {ref}"
