"""`changed_clients` and `dagsync validate --changed-since` on real git repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.errors import DagsyncError
from dagsync.gitops.changes import changed_clients
from dagsync.validate.run import validate_repository
from test_gitops_helpers import Scratch


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    return Scratch.create(tmp_path, monkeypatch)


def test_a_modified_client_is_present_and_the_others_are_not(repo: Scratch) -> None:
    repo.touch("velo-savoie")
    repo.commit("Change velo-savoie")
    changes = changed_clients(repo.root, "HEAD~1")
    assert changes.present == ("velo-savoie",)
    assert changes.deleted == ()
    assert "1 client(s) changed since HEAD~1: velo-savoie" in changes.describe()


def test_uncommitted_and_untracked_changes_count(repo: Scratch) -> None:
    repo.touch("alpine-books")  # modified, not staged
    new = repo.path("clients/neige-et-co")
    new.mkdir()
    (new / "client.yaml").write_text("id: neige-et-co\n")  # untracked
    assert changed_clients(repo.root, "HEAD").present == ("alpine-books", "neige-et-co")


def test_nothing_changed_covers_only_the_invariants(repo: Scratch) -> None:
    changes = changed_clients(repo.root, "HEAD")
    assert changes.present == ()
    assert (
        changes.describe() == "no client changed since HEAD; plus every repository-wide invariant."
    )


def test_a_deleted_client_is_reported_not_ignored(repo: Scratch) -> None:
    repo.git("rm", "-r", "-q", "clients/cime-conseil")
    repo.commit("Cime Conseil left")
    changes = changed_clients(repo.root, "HEAD~1")
    assert changes.present == ()
    assert changes.deleted == ("cime-conseil",)
    assert "deleted (nothing left to validate): cime-conseil" in changes.describe()


def test_a_renamed_client_reports_both_ids(repo: Scratch) -> None:
    repo.git("mv", "clients/alpine-books", "clients/alpine-livres")
    repo.commit("Rename the client")
    changes = changed_clients(repo.root, "HEAD~1")
    assert changes.touched == ("alpine-books", "alpine-livres")
    assert changes.present == ("alpine-livres",)
    assert changes.deleted == ("alpine-books",)
    assert changes.renamed == (("alpine-books", "alpine-livres"),)
    assert "alpine-books was renamed to alpine-livres" in changes.describe()


def test_a_server_file_moved_between_clients_touches_both(repo: Scratch) -> None:
    repo.git(
        "mv", "clients/cime-conseil/servers/dev1.yaml", "clients/velo-savoie/servers/dev1.yaml"
    )
    repo.commit("Move dev1")
    changes = changed_clients(repo.root, "HEAD~1")
    assert changes.present == ("cime-conseil", "velo-savoie")
    assert changes.renamed == ()  # both clients still exist


def test_a_branch_is_compared_with_its_merge_base(repo: Scratch) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.touch("velo-savoie")
    repo.commit("Branch work")
    repo.git("checkout", "-q", "main")
    repo.touch("alpine-books")
    repo.commit("Main moved on")
    repo.git("checkout", "-q", "feature")
    changes = changed_clients(repo.root, "main")
    assert changes.present == ("velo-savoie",)
    assert changes.via_merge_base
    assert "(merge base " in changes.describe()


def test_a_policy_change_covers_every_client(repo: Scratch) -> None:
    path = repo.path("policies/dag.yaml")
    path.write_text(path.read_text() + "# reviewed\n")
    changes = changed_clients(repo.root, "HEAD")
    assert changes.policies_changed
    assert changes.present == ("alpine-books", "cime-conseil", "velo-savoie")
    assert changes.describe().startswith("policies/ changed since HEAD: every client (3)")


def test_a_configuration_repository_in_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Scratch.create(tmp_path, monkeypatch, sub="config")
    (repo.top / "clients" / "decoy").mkdir(parents=True)  # outside the configuration root
    (repo.top / "clients" / "decoy" / "x.yaml").write_text("x: 1\n")
    repo.touch("cime-conseil")
    repo.commit("Change cime-conseil")
    assert changed_clients(repo.root, "HEAD~1").present == ("cime-conseil",)


def test_the_empty_tree_compares_with_everything(repo: Scratch) -> None:
    empty = repo.git("hash-object", "-t", "tree", "/dev/null")
    assert changed_clients(repo.root, empty).present == (
        "alpine-books",
        "cime-conseil",
        "velo-savoie",
    )


def test_an_unknown_revision_is_a_dagsync_error(repo: Scratch) -> None:
    with pytest.raises(
        DagsyncError, match=r"^unknown revision `origin/main`: not a commit of this repository$"
    ):
        changed_clients(repo.root, "origin/main")


def test_a_shallow_clone_gets_a_hint(repo: Scratch, tmp_path: Path) -> None:
    repo.touch("velo-savoie")
    repo.commit("Second")
    shallow = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.top}", str(shallow))
    with pytest.raises(DagsyncError, match=r"unknown revision `HEAD~1`.*shallow.*fetch-depth: 0"):
        changed_clients(shallow, "HEAD~1")


def test_outside_git_is_a_dagsync_error(tmp_path: Path) -> None:
    (tmp_path / "clients").mkdir()
    with pytest.raises(DagsyncError, match="not inside a git repository"):
        changed_clients(tmp_path, "HEAD")


def test_changed_since_validates_that_client_and_the_invariants_only(repo: Scratch) -> None:
    repo.touch("velo-savoie")
    repo.commit("Change velo-savoie")
    changes = changed_clients(repo.root, "HEAD~1")
    result = validate_repository(repo.root, only=list(changes.present), use_cache=False)
    assert result.covered_clients == ("velo-savoie",)
    assert {f.client for f in result.findings} <= {None, "velo-savoie"}
    full = validate_repository(repo.root, use_cache=False)
    assert full.covered_clients == ("alpine-books", "cime-conseil", "velo-savoie")


def test_validate_changed_since_on_the_command_line(
    repo: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.touch("velo-savoie")
    repo.commit("Change velo-savoie")
    code = main(
        [
            "validate",
            "--repo",
            str(repo.root),
            "--no-cache",
            "--changed-since",
            "HEAD~1",
            "--format",
            "json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    # The example client is clean (errors would exit 1); a deploy-freeze warning may appear
    # on the eve of a weekend or holiday, and only for the covered client.
    assert code == 0, doc["findings"]
    assert doc["covered_clients"] == ["velo-savoie"]
    assert {(f["rule"], f["client"]) for f in doc["findings"]} <= {("FRZ001", "velo-savoie")}
    code = main(["validate", "--repo", str(repo.root), "--changed-since", "no-such-rev"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown revision `no-such-rev`" in err and "Traceback" not in err


def test_validate_changed_since_names_the_clients_covered(
    repo: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git("rm", "-r", "-q", "clients/cime-conseil")
    repo.touch("velo-savoie")
    repo.commit("Change")
    assert (
        main(["validate", "--repo", str(repo.root), "--no-cache", "--changed-since", "HEAD~1"]) == 0
    )
    err = capsys.readouterr().err
    assert "1 client(s) changed since HEAD~1: velo-savoie" in err
    assert "deleted (nothing left to validate): cime-conseil" in err


def test_changed_clients_command_prints_ids_or_json(
    repo: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dagsync.cli import cli
    from dagsync.commands.gitops import COMMANDS

    for command in COMMANDS:
        cli.commands.setdefault(str(command.name), command)
    repo.touch("velo-savoie")
    repo.touch("cime-conseil")
    repo.commit("Two clients")
    assert main(["changed-clients", "HEAD~1", "--repo", str(repo.root)]) == 0
    out = capsys.readouterr()
    assert out.out == "cime-conseil\nvelo-savoie\n"
    assert "2 client(s) changed since HEAD~1" in out.err
    assert main(["changed-clients", "HEAD~1", "--format", "json", "--repo", str(repo.root)]) == 0
    assert json.loads(capsys.readouterr().out)["present"] == ["cime-conseil", "velo-savoie"]
    assert main(["changed-clients", "--repo", str(repo.root)]) == 2
    assert "give a REV" in capsys.readouterr().err
    # Since the last apply (none here): every target, `dag` for DAG's own hosts; with a
    # fallback, only what changed since it (comments change no desired state).
    assert main(["changed-clients", "--since-last-apply", "--repo", str(repo.root)]) == 0
    assert capsys.readouterr().out == "alpine-books\ncime-conseil\ndag\nvelo-savoie\n"
    assert main(["changed-clients", "HEAD~1", "--since-last-apply", "--repo", str(repo.root)]) == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert "no target's desired state changed since their last successful apply" in out.err
