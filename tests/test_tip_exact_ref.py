"""The tip check compares the exact ref name: a branch whose name ends in `refs/heads/main`
(`git push origin OLD:refs/heads/a/refs/heads/main`, which `git ls-remote` also lists for the
pattern `refs/heads/main`) cannot pass an old commit off as the tip of origin/main (real
temporary bare remote)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagsync.gitops import tip
from dagsync.gitops.tip import NotOnTip, require_tip
from test_apply_tip import clone, git

__all__ = ["clone"]  # the fixture, used by name


def test_a_decoy_branch_ending_in_refs_heads_main_does_not_pass_an_old_commit(
    clone: Path,
) -> None:
    newest = git(clone, "rev-parse", "HEAD")
    git(clone, "checkout", "-q", "HEAD~1")
    old = git(clone, "rev-parse", "HEAD")
    git(clone, "push", "-q", "origin", f"{old}:refs/heads/a/refs/heads/main")
    listed = git(clone, "ls-remote", "--heads", "origin", "refs/heads/main")
    assert listed.splitlines() == [
        f"{old}\trefs/heads/a/refs/heads/main",
        f"{newest}\trefs/heads/main",
    ]  # what the attack relies on: git lists the decoy first
    with pytest.raises(NotOnTip) as error:
        require_tip(clone, "origin/main")
    assert str(error.value).startswith(
        f"refusing to apply: HEAD is {old[:12]}, not the tip of origin/main ({newest[:12]})."
    )


def test_the_real_tip_still_passes_next_to_a_decoy(clone: Path) -> None:
    newest = git(clone, "rev-parse", "HEAD")
    git(clone, "push", "-q", "origin", "HEAD~1:refs/heads/a/refs/heads/main")
    assert require_tip(clone, "origin/main") == (
        f"apply from {newest[:12]}, the tip of origin/main"
    )


def test_only_a_decoy_and_no_branch_of_that_exact_name_refuses(clone: Path) -> None:
    git(clone, "push", "-q", "origin", "HEAD:refs/heads/x/refs/heads/release")
    with pytest.raises(NotOnTip) as error:
        require_tip(clone, "origin/release")
    assert str(error.value) == (
        "refusing to apply: the remote 'origin' has no branch 'release' "
        "(--require-tip origin/release); nothing was changed"
    )


def test_the_same_ref_listed_twice_with_two_commits_is_refused_as_ambiguous(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = "1111111111111111111111111111111111111111\trefs/heads/main\n" + (
        "2222222222222222222222222222222222222222\trefs/heads/main\n"
    )
    monkeypatch.setattr(tip, "run", lambda repo, *args: listing)
    with pytest.raises(NotOnTip) as error:
        tip._remote_tip(clone, "origin", "main", "origin/main")
    assert str(error.value) == (
        "refusing to apply: the remote 'origin' lists refs/heads/main more than once with "
        "different commits (111111111111, 222222222222); nothing was changed"
    )
