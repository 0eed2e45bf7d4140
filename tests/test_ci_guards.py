"""The suite's own guards: a host test can never skip silently where host tests are required,
and hypothesis runs derandomised in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

SKIPPING_HOST_TEST = """
import pytest

pytestmark = pytest.mark.hosts


def test_needs_a_tool_that_is_missing() -> None:
    pytest.skip("borgbackup is not installed")
"""

SKIPPING_OTHER_TEST = """
import pytest


@pytest.mark.skip(reason="not a host test")
def test_elsewhere() -> None:
    pass
"""


def _run_suite(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(PROJECT / "tests" / "conftest.py", folder / "conftest.py")
    (folder / "test_skipping.py").write_text(SKIPPING_HOST_TEST)
    (folder / "test_other.py").write_text(SKIPPING_OTHER_TEST)
    (folder / "pytest.ini").write_text("[pytest]\nmarkers =\n    hosts: host tests\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("DAGSYNC_REQUIRE_HOSTS", "CI")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(folder)],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=folder,
        timeout=120,
    )


def test_a_skipped_host_test_fails_the_run_where_host_tests_are_required(tmp_path: Path) -> None:
    run = _run_suite(tmp_path, DAGSYNC_REQUIRE_HOSTS="1")
    assert run.returncode == 1, run.stdout
    assert "host test skipped although DAGSYNC_REQUIRE_HOSTS=1: borgbackup is not installed" in (
        run.stdout
    )
    assert "1 failed, 1 skipped" in run.stdout


def test_a_skipped_host_test_only_skips_with_its_reason_elsewhere(tmp_path: Path) -> None:
    run = _run_suite(tmp_path)
    assert run.returncode == 0, run.stdout
    assert "borgbackup is not installed" in run.stdout
    assert "2 skipped" in run.stdout


def test_ci_run_requires_host_tests_and_derandomised_hypothesis() -> None:
    script = (PROJECT / ".ci" / "run").read_text()
    assert "export DAGSYNC_REQUIRE_HOSTS=1" in script
    assert "export HYPOTHESIS_PROFILE=ci" in script


def test_hypothesis_runs_derandomised_in_ci(tmp_path: Path) -> None:
    probe = tmp_path / "test_profile.py"
    probe.write_text(
        "from hypothesis import settings\n\n"
        "def test_profile() -> None:\n"
        "    assert settings.default.derandomize is True\n"
        "    assert settings.default.database is None\n"
    )
    shutil.copy(PROJECT / "tests" / "conftest.py", tmp_path / "conftest.py")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


GROUPED = """
import os

import pytest

pytestmark = pytest.mark.xdist_group("one-worker")


@pytest.mark.parametrize("i", range(12))
def test_grouped(i: int) -> None:
    with open("workers.txt", "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def test_dist_loadgroup_keeps_a_group_on_one_worker(tmp_path: Path) -> None:
    """The host-test modules depend on it (one sandbox per module, tests in order): pytest 9.2
    with pytest-xdist 3.8 silently dropped the grouping, which split them across workers."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_other.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('i', range(12))\ndef test_other(i):\n    pass\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p",
         "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    workers = (tmp_path / "workers.txt").read_text().split()
    assert len(workers) == 12 and len(set(workers)) == 1, workers
