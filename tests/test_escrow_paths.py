"""The passphrase escrow never lands in the configuration repository (nor in a CI runner's
artifacts): its location has a strict syntax, is resolved (symlinks, `..`, /proc/self/cwd)
before it is compared with the repository, is checked again right before each write, and a
file escrow is refused on a CI runner unless explicitly allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from dagsync.model.policy import DagSettings
from dagsync.reconcile import escrow

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(escrow.ESCROW_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    root = tmp_path / "config"
    (root / "records").mkdir(parents=True)
    return root


def test_proc_self_cwd_is_resolved_and_refused_inside_the_repository(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    with pytest.raises(escrow.EscrowError) as error:
        escrow.resolve("/proc/self/cwd/records", repo)
    assert str(error.value) == (
        f"passphrase escrow {repo.resolve()}/records is inside the configuration repository "
        "(passphrases never enter git): choose a folder outside it"
    )


def test_a_symlink_into_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "vault").symlink_to(repo)
    with pytest.raises(escrow.EscrowError, match="is inside the configuration repository"):
        escrow.resolve(f"file:{tmp_path}/vault/records", repo)


def test_dot_dot_is_refused_by_syntax_even_from_the_environment(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(escrow.ESCROW_ENV, f"/tmp/../{repo}/records")
    with pytest.raises(escrow.EscrowError) as error:
        escrow.resolve("vault://dagsync/borg", repo)
    assert str(error.value).startswith(
        f"${escrow.ESCROW_ENV} is not an escrow location: use file:/folder"
    )
    assert "records" not in str(error.value)  # the value itself is not echoed


def test_a_folder_containing_the_repository_is_refused(repo: Path) -> None:
    with pytest.raises(escrow.EscrowError) as error:
        escrow.resolve(str(repo.parent), repo)
    assert str(error.value) == (
        f"passphrase escrow {repo.parent.resolve()} contains the configuration repository "
        f"{repo.resolve()} (a client's copies could land in it): choose a folder outside it"
    )


def test_a_link_made_after_resolve_is_refused_before_anything_is_written(
    repo: Path, tmp_path: Path
) -> None:
    where = escrow.resolve(str(tmp_path / "escrow"), repo)
    (tmp_path / "escrow").mkdir()
    (tmp_path / "escrow" / "c").symlink_to(repo / "records")
    mode = (repo / "records").stat().st_mode
    with pytest.raises(escrow.EscrowError, match="is inside the configuration repository"):
        escrow.write(where, "c/s", "ssh://r", "secret", "BORG_KEY x")
    assert list((repo / "records").iterdir()) == []
    assert (repo / "records").stat().st_mode == mode  # not even chmod-ed through the link


def test_a_folder_outside_the_repository_still_works(repo: Path, tmp_path: Path) -> None:
    where = escrow.resolve(f"file://{tmp_path}/escrow", repo)
    path = escrow.write(where, "c/s", "ssh://r", "secret", "BORG_KEY x")
    assert path == tmp_path / "escrow" / "c" / "s.json"


def test_a_file_escrow_is_refused_in_ci_unless_allowed(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv(escrow.ALLOW_CI_ENV)
    with pytest.raises(escrow.EscrowError) as error:
        escrow.resolve(str(tmp_path / "escrow"), repo)
    assert str(error.value).startswith("refusing a file passphrase escrow on a CI runner (CI=true)")
    assert not escrow.resolve("vault://dagsync/borg", repo).supported  # not a file: no refusal
    monkeypatch.setenv(escrow.ALLOW_CI_ENV, "1")
    assert escrow.resolve(str(tmp_path / "escrow"), repo).folder == tmp_path / "escrow"


@pytest.mark.parametrize(
    "value",
    [
        "/proc/self/cwd/../records",
        "/srv/escrow/",
        "/srv/./escrow",
        "records",
        "file:records",
        "file://host/escrow",
        "~",
        "/srv/esc row",
        "/srv/escrow\n",
        "ftp://x/y",
    ],
)
def test_policy_refuses_an_escrow_of_another_syntax(value: str) -> None:
    data = yaml.safe_load((PROJECT / "policies" / "dag.yaml").read_text())
    data["passphrase_escrow"] = value
    with pytest.raises(ValidationError) as error:
        DagSettings.model_validate(data)
    assert [e["loc"] for e in error.value.errors()] == [("passphrase_escrow",)]


@pytest.mark.parametrize(
    "value", ["vault://dagsync/borg-passphrases", "file:///srv/escrow", "~/.escrow", "/srv/e"]
)
def test_policy_accepts_the_documented_forms(value: str) -> None:
    data = yaml.safe_load((PROJECT / "policies" / "dag.yaml").read_text())
    data["passphrase_escrow"] = value
    assert DagSettings.model_validate(data).passphrase_escrow == value
