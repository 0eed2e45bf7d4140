"""The workflows' shell steps, extracted from the YAML and run on test hosts with the
environment exactly as the workflow sets it: the secrets as GitHub gives them (an SSH key's
TEXT, OVH keys), the workflow's, job's and step's `env:`, GitHub's own variables. Only where
"production" is differs: a hosts override file points dagsync at the sandbox's test hosts and
OVH emulator, without any key of its own.

So a mismatch between what the workflows export and what dagsync reads (the key-as-path
crash) fails here; and no secret value may appear in any output of those runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dagsync.config.yamlio import load
from dagsync.gitops.notes import read_applies
from dagsync.ovhapi.access import READ_ONLY_RULES
from dagsync.reconcile.transport.inventory import SANDBOX_HOSTS_FILE
from dagsync.sandbox import world as sandbox
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.network import unique_network

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOWS = PROJECT / ".github" / "workflows"
NET = unique_network("wfst")
ACTOR = "release-bot"
TOKEN = "ghs_" + "T0k3n" * 7  # what ${{ github.token }} gives a job: must not leak either
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "CI",
    "GIT_AUTHOR_EMAIL": "ci@example.com",
    "GIT_COMMITTER_NAME": "CI",
    "GIT_COMMITTER_EMAIL": "ci@example.com",
}

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-workflow-steps")]


def workflow(name: str) -> dict[str, Any]:
    data, problem = load((WORKFLOWS / name).read_text())
    assert problem is None and isinstance(data, dict), problem
    return data


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@dataclass
class World:
    """A runner's checkout (a clone of a bare origin) beside the sandbox's test hosts."""

    origin: Path
    work: Path
    hosts_file: Path
    secrets: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def expression(self, text: str, context: Mapping[str, str]) -> str:
        """`${{ ... }}` as GitHub substitutes it: secrets, then the given context values."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("secrets."):
                return self.secrets[name.removeprefix("secrets.")]
            if name in context:
                return context[name]
            raise AssertionError(f"the test does not know the expression {name!r}: add it")

        return re.sub(r"\$\{\{(.*?)\}\}", value, text)

    def run_step(
        self, name: str, job: str, title: str, context: Mapping[str, str], *, cwd: Path
    ) -> tuple[int, str, dict[str, str]]:
        """Run one `run:` step as the runner does (bash -eo pipefail), with the workflow's,
        the job's and the step's `env:` evaluated; its exit code, output and GITHUB_OUTPUT."""
        flow = workflow(name)
        spec = flow["jobs"][job]
        step = next(s for s in spec["steps"] if s.get("name") == title)
        declared = {**flow.get("env", {}), **spec.get("env", {}), **step.get("env", {})}
        context = {"github.token": TOKEN, "github.actor": ACTOR, **context}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSYNC_", "OVH_"))}
        env.update({k: self.expression(str(v), context) for k, v in declared.items()})
        output = cwd.parent / f"github-output-{len(self.outputs)}"
        output.write_text("")
        env.update(
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_OUTPUT=str(output),
            GITHUB_EVENT_NAME=context.get("github.event_name", "push"),
            DAGSYNC_HOSTS_FILE=str(self.hosts_file),  # where "production" is: the test hosts
            # the sandbox's escrow folder (its override file's) stands in for a kept one:
            # CI=true refuses a file escrow unless told (tests/test_escrow_paths.py)
            DAGSYNC_ALLOW_CI_ESCROW="1",
            **GIT_IDENTITY,
        )
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        log = done.stdout + done.stderr
        self.outputs.append(log)
        self.outputs.append(output.read_text())
        pairs = (line.partition("=") for line in output.read_text().splitlines())
        return done.returncode, log, {k: v for k, _, v in pairs}


def _missing() -> str | None:
    if reason := skip_reason():
        return reason
    tools = ("borg", "doveconf", "dovecot", "postconf", "postfix", "openssl", "jq")
    absent = [t for t in tools if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    return f"these steps need {', '.join(absent)}" if absent else None


def read_only_consumer_key(env: Mapping[str, str]) -> str:
    """`dagsync ovh credentials --request --read-only`, then the user's validation."""
    done = subprocess.run(
        ["dagsync", "ovh", "credentials", "--request", "--read-only"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    [url] = [w for w in done.stdout.split() if "credentialToken=" in w]
    with urllib.request.urlopen(url, timeout=10) as page:
        assert page.status == 200
    [key] = re.findall(r"export OVH_CONSUMER_KEY=(\S+)", done.stdout)
    return key


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Origin with one client (alpine-books) on main, a runner's clone, the sandbox up."""
    if reason := _missing():
        pytest.skip(reason)
    top = tmp_path_factory.mktemp("workflow-steps")
    seed = top / "seed"
    (seed / "clients").mkdir(parents=True)
    shutil.copytree(PROJECT / "clients/alpine-books", seed / "clients/alpine-books")
    for folder in ("policies", "schemas"):
        shutil.copytree(PROJECT / folder, seed / folder)
    (seed / ".gitignore").write_text(".dagsync-sandbox/\n")
    git(top, "init", "-q", "-b", "main", str(seed))
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "alpine-books")
    git(top, "clone", "-q", "--bare", str(seed), "origin.git")
    git(top, "clone", "-q", "origin.git", "work")
    work = top / "work"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("DAGSYNC_", "OVH_")):
                patch.delenv(name)
        patch.setenv("XDG_STATE_HOME", str(top / "state"))
        try:
            sandbox.up(work, NET)
            overrides = json.loads((work / SANDBOX_HOSTS_FILE).read_text())
            emulator = overrides["environment"]
            root_key = Path(overrides.pop("ssh_key")).read_text()
            observer_key = Path(overrides["observer"]["ssh_key"]).read_text()
            # The override file says where the hosts and the emulator are, never a key:
            # every key comes from the workflow's environment, as secrets.
            overrides["observer"].pop("ssh_key")
            app = {k: emulator.pop(k) for k in ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET")}
            full_consumer = emulator.pop("OVH_CONSUMER_KEY")
            hosts_file = top / "production-hosts.json"
            hosts_file.write_text(json.dumps(overrides))
            read_only = read_only_consumer_key({**app, "DAGSYNC_OVH_URL": emulator[
                "DAGSYNC_OVH_URL"]})  # fmt: skip
            secrets = {
                "DAGSYNC_SSH_KEY": root_key,
                "DAGSYNC_OBSERVER_SSH_KEY": observer_key,
                "OVH_APPLICATION_KEY": app["OVH_APPLICATION_KEY"],
                "OVH_APPLICATION_SECRET": app["OVH_APPLICATION_SECRET"],
                "OVH_CONSUMER_KEY": full_consumer,
                "OVH_READONLY_APPLICATION_KEY": app["OVH_APPLICATION_KEY"],
                "OVH_READONLY_APPLICATION_SECRET": app["OVH_APPLICATION_SECRET"],
                "OVH_READONLY_CONSUMER_KEY": read_only,
            }
            yield World(top / "origin.git", work, hosts_file, secrets)
        finally:
            sandbox.down(work)


def apply_context(world: World, client: str) -> dict[str, str]:
    return {
        "github.event.before": git(world.work, "rev-parse", "HEAD~0"),
        "matrix.client": client,
        "github.actor": ACTOR,
    }


def test_an_old_commit_is_refused_by_the_apply_step_and_nothing_changes(world: World) -> None:
    git(world.work, "commit", "-q", "--allow-empty", "-m", "newer")
    git(world.work, "push", "-q", "origin", "main")
    git(world.work, "checkout", "-q", "HEAD~1")  # a re-run of the previous push's job
    try:
        code, log, _ = world.run_step(
            "apply.yml", "apply", "Apply", apply_context(world, "ALL"), cwd=world.work
        )
    finally:
        git(world.work, "checkout", "-q", "main")
    assert code == 2, log
    assert "refusing to apply: HEAD is " in log and "Nothing was changed." in log
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSYNC_", "OVH_"))}
    env.update(
        DAGSYNC_HOSTS_FILE=str(world.hosts_file),
        DAGSYNC_SSH_KEY=world.secrets["DAGSYNC_SSH_KEY"],
    )
    still = subprocess.run(
        ["dagsync", "plan", "--detailed-exitcode", "--only", "firewall,accounts,observer"],
        cwd=world.work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    world.outputs.append(still.stdout + still.stderr)
    assert still.returncode == 2, still.stdout + still.stderr  # nothing was applied


def test_the_apply_step_applies_with_the_root_key_as_text_and_bundles_its_record(
    world: World,
) -> None:
    context = apply_context(world, "ALL")
    code, log, _ = world.run_step("apply.yml", "apply", "Identity for the notes", context,
                                  cwd=world.work)  # fmt: skip
    assert code == 0, log
    code, log, _ = world.run_step("apply.yml", "apply", "Apply", context, cwd=world.work)
    assert code == 0, log
    assert f"apply from {git(world.work, 'rev-parse', 'HEAD')[:12]}, the tip of origin/main" in log
    assert "alpine-books/shop1" in log
    code, log, _ = world.run_step(
        "apply.yml", "apply", "Bundle the apply records", context, cwd=world.work
    )
    assert code == 0, log
    assert (world.work / "records/ALL.bundle").is_file()


def test_the_record_job_pushes_the_bundled_record_to_origin(world: World) -> None:
    top = world.work.parent
    git(top, "clone", "-q", str(world.origin), "recorder")
    (top / "recorder/records").mkdir()
    shutil.copy(world.work / "records/ALL.bundle", top / "recorder/records/ALL.bundle")
    context = {"github.event.before": git(world.work, "rev-parse", "HEAD")}
    code, log, _ = world.run_step(
        "apply.yml", "record", "Push the apply records", context, cwd=top / "recorder"
    )
    assert code == 0, log
    git(top, "clone", "-q", str(world.origin), "check")
    git(top / "check", "fetch", "-q", "origin", "refs/notes/dagsync:refs/notes/dagsync")
    records = read_applies(top / "check", "HEAD")
    assert records == read_applies(world.work, "HEAD")  # the same records, in the same order
    assert records and all(r["applied_by"] == ACTOR for r in records)


def test_the_nightly_drift_step_plans_with_the_read_only_keys_and_finds_no_drift(
    world: World,
) -> None:
    code, log, output = world.run_step(
        "drift.yml", "plan", "Plan everything", {"github.event_name": "schedule"}, cwd=world.work
    )
    assert code == 0, log + (world.work / "plan.md").read_text()
    assert output["exit"] == "0", (world.work / "plan.md").read_text()
    plan = (world.work / "plan.md").read_text()
    # Every target was read (the PR comment lists only what changes): the server, its OVH
    # services and DAG's six hosts (the security host: its observer) and account.
    assert (
        "No changes: 1 server(s), 1 OVH service set(s) and 7 DAG target(s) match the "
        "configuration." in plan
    ), plan


def test_the_pull_request_plan_step_shows_the_change_with_the_read_only_keys(
    world: World,
) -> None:
    base = git(world.work, "rev-parse", "HEAD")
    git(world.work, "checkout", "-q", "-b", "pr")
    try:
        client = world.work / "clients/alpine-books/client.yaml"
        client.write_text(client.read_text().replace("quota_gb: 25", "quota_gb: 20"))
        git(world.work, "commit", "-qam", "Smaller quota\n\nClient-Request: internal")
        context = {
            "github.event.pull_request.base.sha": base,
            "github.event.pull_request.head.sha": git(world.work, "rev-parse", "HEAD"),
            "github.event_name": "pull_request",
        }
        code, log, _ = world.run_step("validate.yml", "plan", "Plan", context, cwd=world.work)
        plan = (world.work / "plan.md").read_text()
    finally:
        git(world.work, "checkout", "-q", "-f", "main")
    assert code == 0, log + plan
    assert plan.startswith("<!-- dagsync-plan -->\n### dagsync plan for ")
    assert re.search(r"\d+ to (add|change|remove)", plan), plan


def test_no_secret_value_appears_in_any_output_of_those_runs(world: World) -> None:
    assert len(world.outputs) >= 10  # every step above ran and left its output here
    texts = [*world.outputs, *(p.read_text() for p in world.work.glob("*.md"))]
    for name, value in [*world.secrets.items(), ("github.token", TOKEN)]:
        pieces = [value.strip()]
        if "PRIVATE KEY" in value:
            body = "".join(line for line in value.splitlines() if "-----" not in line)
            pieces += [body[i : i + 12] for i in range(0, len(body) - 12, 6)]
        for text in texts:
            for piece in pieces:
                assert piece not in text, f"{name} leaked"
    assert [r.method for r in READ_ONLY_RULES] == ["GET"] * len(READ_ONLY_RULES)
