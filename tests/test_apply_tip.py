"""`dagsync apply` only from the current tip of the branch it is configured for: a re-run of an
old commit, a stale clone or a branch is refused with exit 2 before anything is read or
changed (real temporary git repositories with a bare `origin`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dagsync.gitops.tip import NotOnTip, require_tip

PROJECT = Path(__file__).resolve().parents[1]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of a bare `origin` whose main holds the example clients, two commits deep."""
    seed = tmp_path / "seed"
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, seed / folder)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "first")
    path = seed / "clients/alpine-books/client.yaml"
    path.write_text(path.read_text() + "# second\n")
    git(seed, "commit", "-qam", "second")
    git(tmp_path, "clone", "-q", "--bare", str(seed), "origin.git")
    git(tmp_path, "clone", "-q", "origin.git", "work")
    return tmp_path / "work"


def push_from_elsewhere(clone: Path) -> str:
    """Another clone pushes a third commit to origin/main; its hash."""
    other = clone.parent / "other"
    git(clone.parent, "clone", "-q", "origin.git", str(other))
    path = other / "clients/alpine-books/client.yaml"
    path.write_text(path.read_text() + "# third\n")
    git(other, "commit", "-qam", "third")
    git(other, "push", "-q", "origin", "main")
    return git(other, "rev-parse", "HEAD")


def apply_cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`dagsync apply` without SSH or OVH credentials: past the tip check it fails on hosts."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OVH_", "DAGSYNC_"))}
    return subprocess.run(
        [sys.executable, "-m", "dagsync", "apply", "--yes", "--no-record", *args],
        cwd=root,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def state(root: Path) -> tuple[str, str, str]:
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "status", "--porcelain", "--untracked-files=all"),
        git(root, "for-each-ref"),
    )


def test_the_tip_of_origin_main_passes(clone: Path) -> None:
    head = git(clone, "rev-parse", "HEAD")
    assert require_tip(clone, "origin/main") == f"apply from {head[:12]}, the tip of origin/main"


def test_an_older_commit_is_refused_naming_both_commits(clone: Path) -> None:
    git(clone, "checkout", "-q", "HEAD~1")
    head, tip = git(clone, "rev-parse", "HEAD"), git(clone, "rev-parse", "origin/main")
    with pytest.raises(NotOnTip) as error:
        require_tip(clone, "origin/main")
    assert str(error.value) == (
        f"refusing to apply: HEAD is {head[:12]}, not the tip of origin/main ({tip[:12]}). "
        "Applying it could roll production back to an older or unreviewed configuration. "
        f"Apply from the tip (`git fetch && git checkout {tip[:12]}`), or pass --any-commit "
        "for the sandbox. Nothing was changed."
    )


def test_a_push_after_the_checkout_is_seen_without_a_fetch(clone: Path) -> None:
    newer = push_from_elsewhere(clone)
    assert git(clone, "rev-parse", "origin/main") != newer  # the local ref is stale
    with pytest.raises(NotOnTip, match=f"not the tip of origin/main \\({newer[:12]}\\)"):
        require_tip(clone, "origin/main")


def test_uncommitted_configuration_is_refused(clone: Path) -> None:
    (clone / "clients/new-client").mkdir()
    (clone / "clients/new-client/client.yaml").write_text("id: new-client\n")
    with pytest.raises(NotOnTip, match=r"1 uncommitted change\(s\) under clients/ or policies/"):
        require_tip(clone, "origin/main")


def test_an_unreachable_remote_refuses(clone: Path) -> None:
    git(clone, "remote", "set-url", "origin", str(clone.parent / "gone.git"))
    with pytest.raises(NotOnTip, match="cannot read the tip of origin/main from the remote"):
        require_tip(clone, "origin/main")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("origin/nope", "the remote 'origin' has no branch 'nope'"),
        ("nowhere/main", "nowhere/main is neither a remote branch"),
        ("--upload-pack=touch pwned", "is not a branch name such as origin/main"),
        ("main; rm -rf /", "is not a branch name such as origin/main"),
    ],
)
def test_hostile_or_unknown_refs_are_refused(clone: Path, ref: str, message: str) -> None:
    with pytest.raises(NotOnTip, match=message.replace("(", r"\(").replace(")", r"\)")):
        require_tip(clone, ref)
    assert not (clone / "pwned").exists()


def test_a_local_branch_can_be_the_reference(clone: Path) -> None:
    git(clone, "checkout", "-q", "-b", "release", "HEAD~1")
    assert require_tip(clone, "release").endswith("the tip of release")
    with pytest.raises(NotOnTip, match="not the tip of main"):
        require_tip(clone, "main")


def test_apply_from_an_old_commit_exits_2_and_changes_nothing(clone: Path) -> None:
    git(clone, "checkout", "-q", "HEAD~1")
    before = state(clone)
    done = apply_cli(clone)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("dagsync: error: refusing to apply: HEAD is ")
    assert "Nothing was changed." in done.stderr
    assert state(clone) == before
    same = apply_cli(clone, "--require-tip", "origin/main")
    assert (same.returncode, same.stderr) == (2, done.stderr)
    from_env = apply_cli(clone, DAGSYNC_REQUIRE_TIP="origin/main")
    assert (from_env.returncode, from_env.stderr) == (2, done.stderr)


def test_apply_on_the_tip_goes_past_the_check(clone: Path) -> None:
    done = apply_cli(clone, DAGSYNC_SSH_KEY="not a key")
    head = git(clone, "rev-parse", "HEAD")
    assert done.stderr.startswith(f"apply from {head[:12]}, the tip of origin/main\n")
    assert done.returncode == 1  # then the deliberately unusable SSH key (or else) stops it
    assert "refusing to apply" not in done.stderr


def test_any_commit_and_sandbox_mode_skip_the_check_a_hosts_file_does_not(clone: Path) -> None:
    git(clone, "checkout", "-q", "HEAD~1")
    flagged = apply_cli(clone, "--any-commit", DAGSYNC_SSH_KEY="not a key")
    assert flagged.returncode == 1 and "refusing to apply" not in flagged.stderr
    hosts = clone / ".dagsync-sandbox/hosts.json"
    hosts.parent.mkdir()
    hosts.write_text('{"version": 1, "hosts": {}}')
    sandbox = apply_cli(clone, DAGSYNC_SSH_KEY="not a key", DAGSYNC_SANDBOX="1")
    assert sandbox.returncode == 1 and "refusing to apply" not in sandbox.stderr
    # A hosts file alone is local state: the check stays on.
    named = apply_cli(clone, DAGSYNC_SSH_KEY="not a key", DAGSYNC_HOSTS_FILE=str(hosts))
    assert named.returncode == 2 and "refusing to apply: HEAD is " in named.stderr
    # ... and in sandbox mode it is on when asked for, as the workflow does.
    asked = apply_cli(clone, DAGSYNC_SANDBOX="1", DAGSYNC_REQUIRE_TIP="origin/main")
    assert asked.returncode == 2 and "refusing to apply: HEAD is " in asked.stderr
