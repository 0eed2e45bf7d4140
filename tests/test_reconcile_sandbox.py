"""The sandbox end to end, as a new user meets it: `dagsync sandbox up`, `plan`, `apply --yes`
twice, `sandbox run-backups`, `backup verify`, then `down` leaves nothing.

The tests run in file order on one sandbox of the example repository: the client servers,
DAG's backup storages and mail hosts as test hosts, the OVH emulator when the OVH driver
exists; commands go through `dagsync.cli.main`, as typed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dagsync.cli import main
from dagsync.reconcile import drivers
from dagsync.reconcile.backup import job
from dagsync.reconcile.combine import plan_all
from dagsync.reconcile.driverspec import KINDS, Context
from dagsync.reconcile.extras import environment, read_extras
from dagsync.reconcile.report import HostStatus
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SANDBOX_HOSTS_FILE,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    load_overrides,
)
from dagsync.sandbox import world as sandbox
from dagsync.sandbox.emulator import parse_banner
from dagsync.sandbox.members import members as sandbox_members
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.network import unique_network
from dagsync.testing.hosts.probes import tcp_probe
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("sbxt")
SERVERS = [
    "alpine-books/shop1",
    "cime-conseil/dev1",
    "cime-conseil/prod1",
    "velo-savoie/db1",
    "velo-savoie/web1",
    "velo-savoie/web2",
]
DAG_HOSTS = ["dag/sbg-backup-1", "dag/rbx-backup-1", "dag/mx1", "dag/mx2", "dag/mon1", "dag/sec1"]
CLEAN_ENV = (
    HOSTS_FILE_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    "DAGSYNC_PASSPHRASE_ESCROW",
    "DAGSYNC_OVH_URL",
    "OVH_ENDPOINT",
    "OVH_APPLICATION_KEY",
    "OVH_APPLICATION_SECRET",
    "OVH_CONSUMER_KEY",
)


def _missing() -> str | None:
    if reason := skip_reason():
        return reason
    tools = ("borg", "doveconf", "dovecot", "postconf", "postfix", "openssl")
    absent = [t for t in tools if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    return f"the sandbox needs {', '.join(absent)}" if absent else None


@pytest.fixture(scope="module")
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state-home")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, state_home: Path) -> Iterator[Path]:
    """A git clone-like copy of the repository, with the sandbox's environment cleared."""
    if reason := _missing():
        pytest.skip(reason)
    repo = tmp_path_factory.mktemp("sandbox") / "repo"
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, repo / folder)
    with pytest.MonkeyPatch.context() as patch:
        for name in CLEAN_ENV:
            patch.delenv(name, raising=False)
        patch.setenv("XDG_STATE_HOME", str(state_home))
        patch.setenv(SANDBOX_ENV, "1")  # plan and apply read the sandbox's file only then
        for role in ("AUTHOR", "COMMITTER"):
            patch.setenv(f"GIT_{role}_NAME", "Sandbox Tester")
            patch.setenv(f"GIT_{role}_EMAIL", "tester@dagtechnologies.example")
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", "clients"], check=True)
        try:
            yield repo
        finally:
            sandbox.down(repo)


def dagsync(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    code = main([*args, "--repo", str(root)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def ssh(root: Path, host: str, command: str) -> subprocess.CompletedProcess[str]:
    config = root / sandbox.STATE / "ssh_config"
    return subprocess.run(
        ["ssh", "-F", str(config), host, "--", command], capture_output=True, text=True, timeout=60
    )


def _leftovers() -> list[str]:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = [p.name for p in Path("/sys/class/net").iterdir()]
    return [n for n in names.split() + links if n.startswith(NET.bridge)]


# --- without hosts -------------------------------------------------------------------------


def test_the_sandbox_has_a_host_per_server_storage_mail_monitoring_and_security_host() -> None:
    members = sandbox_members(load_repository(REPO, validate=False))
    assert [m.key for m in members] == SERVERS + DAG_HOSTS
    web1 = members[SERVERS.index("velo-savoie/web1")]
    assert (web1.name, web1.role, web1.site) == ("velo-savoie-web1", "server", ("/srv/shop",))
    dev1 = members[SERVERS.index("cime-conseil/dev1")]
    assert dev1.site == ("/srv/portal", "/srv/dev-space")


def test_the_escrow_folder_lies_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = sandbox.escrow_folder(tmp_path / "repo")
    assert folder.parent.parent == tmp_path / "state/dagsync" and folder.name == "escrow"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "repo/.state"))
    assert not sandbox.escrow_folder(tmp_path / "repo").is_relative_to(tmp_path / "repo")


def test_the_emulator_banner_gives_its_url_and_validated_credentials() -> None:
    banner = (
        "OVH API emulator listening on http://127.0.0.1:41367/1.0\n"
        "Accepted credentials (application key, application secret, consumer key, state):\n"
        "  appKey appSecret pendingKey pendingValidation\n"
        "  appKey appSecret goodKey validated\n"
        "Stop with Ctrl-C or SIGTERM.\n"
    )
    assert parse_banner(banner.split("Accepted")[0], 7) is None  # not complete yet
    emulator = parse_banner(banner, 7)
    assert emulator is not None and emulator.environment() == {
        "DAGSYNC_OVH_URL": "http://127.0.0.1:41367/1.0",
        "OVH_APPLICATION_KEY": "appKey",
        "OVH_APPLICATION_SECRET": "appSecret",
        "OVH_CONSUMER_KEY": "goodKey",
    }


# --- end to end ----------------------------------------------------------------------------


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_up_plan_apply_twice_then_backups_are_verified(
    root: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = sandbox.up(root, NET)
    assert "sandbox up: 12 test hosts (6 servers, 6 of DAG's)" in text
    overrides = json.loads((root / ".dagsync-sandbox/hosts.json").read_text())
    assert sorted(overrides["hosts"]) == sorted(SERVERS + DAG_HOSTS)
    escrow = Path(overrides["environment"]["DAGSYNC_PASSPHRASE_ESCROW"])
    assert escrow.is_dir() and escrow.is_relative_to(state_home)
    ovh = drivers.driver("ovh").available()
    assert ("DAGSYNC_OVH_URL" in overrides["environment"]) == ovh

    outputs = []
    code, out = dagsync(capsys, root, "plan", "--detailed-exitcode")
    outputs.append(out)
    assert code == 2, out
    for kind in ("firewall", "accounts", "vhosts", "databases", "backup", "backup-storage", "mail"):
        assert f"+ {kind}: " in out or f"~ {kind}: " in out, kind
    assert ("ovh-firewall: " in out) == ovh

    code, out = dagsync(capsys, root, "apply", "--yes")
    outputs.append(out)
    assert code == 0, out
    assert "apply recorded for" in out
    code, out = dagsync(capsys, root, "apply", "--yes")
    outputs.append(out)
    assert code == 0, out
    assert "Nothing to do: every server already matches the configuration." in out
    assert "applied" not in out
    databases = ["alpine-books/shop1", "velo-savoie/db1"]  # the servers with MariaDB databases
    assert sorted(p.name for p in escrow.rglob("*.json")) == sorted(
        [f"{key.split('/')[1]}.json" for key in SERVERS]
        + [f"{key.split('/')[1]}.mariadb.json" for key in databases]
    )
    for fmt in ("text", "json", "markdown"):
        outputs.append(dagsync(capsys, root, "plan", "--format", fmt)[1])
    _no_generated_secret_anywhere(root, escrow, outputs)

    code, out = dagsync(capsys, root, "sandbox", "run-backups")
    assert code == 0, out
    assert out.count(": backed up") == 6
    code, out = dagsync(capsys, root, "backup", "verify")
    assert code == 0, out
    assert "6 of 6 server(s) verified" in out


def _no_generated_secret_anywhere(root: Path, escrow: Path, outputs: list[str]) -> None:
    """Every database password the sandbox's apply generated (read back from the escrow) is
    absent from every output, the git notes of the applies, and every file of the repository
    and of the sandbox's state (plans, logs, host state folders outside /etc/dagsync)."""
    secrets = [
        value
        for path in escrow.rglob("*.mariadb.json")
        for value in json.loads(path.read_text())["secrets"].values()
    ]
    assert len(secrets) == 1 + 2  # shop_rw on shop1; shop_app and erp_sync on db1
    notes = subprocess.run(
        ["git", "-C", str(root), "log", "--notes=dagsync", "--format=%N"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert notes.strip(), "no apply note was recorded"
    texts = [*outputs, notes]
    for path in root.rglob("*"):
        if path.is_file() and "dagsync/db/mariadb-" not in str(path) and "/mysql/" not in str(path):
            texts.append(path.read_text(errors="replace"))
    for secret in secrets:
        assert not [t[:80] for t in texts if secret in t]


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_plan_reports_a_server_whose_last_backup_is_too_old_in_every_format(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stamp = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
    job = (
        f"DAGSYNC_DUMP_COMMAND={sandbox.DUMP_TOOL} "
        f"DAGSYNC_BACKUP_TIMESTAMP={stamp:%Y-%m-%dT%H:%M:%S} {sandbox.BACKUP_JOB}"
    )
    result = ssh(root, "velo-savoie-web1", job)
    assert result.returncode == 0, result.stderr
    outputs = {}
    for fmt in ("text", "markdown", "json"):
        code, outputs[fmt] = dagsync(capsys, root, "plan", "--only", "backup", "--format", fmt)
        assert code == 0, outputs[fmt]
    assert "note (backup): last backup too old" in outputs["text"]
    assert "30.0 h ago" in outputs["text"] and outputs["text"].count("too old") == 1
    assert "<b>velo-savoie/web1</b>" in outputs["markdown"]
    assert "last backup too old" in outputs["markdown"]
    data = json.loads(outputs["json"][outputs["json"].index("{") :])
    notes = {
        f"{t['target']['client']}/{t['target']['name']}": [n["text"] for n in t["notes"]]
        for t in data["targets"]
    }
    assert any("too old" in n for n in notes["velo-savoie/web1"])
    assert not any("too old" in n for n in notes["velo-savoie/web2"])


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_a_driver_whose_hosts_moved_after_the_confirmation_is_refused_the_others_apply(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = dagsync(capsys, root, "block", "198.51.100.99", "--client", "velo-savoie",
                        "--reason", "sandbox test")  # fmt: skip
    assert code == 0, out
    client = root / "clients/alpine-books/client.yaml"
    client.write_text(client.read_text().replace("quota_gb: 25", "quota_gb: 20"))
    repo = load_repository(root)
    overrides = load_overrides(root / ".dagsync-sandbox/hosts.json")
    ctx = Context(repo, Selection(), overrides, RunOptions(parallel=8))
    extras = read_extras(overrides.path)

    def hand_edit_on_mx1(plan: object) -> bool:
        edit = ssh(root, "dag-mx1", "postconf -e 'smtpd_client_restrictions = permit'")
        assert edit.returncode == 0, edit.stderr
        return True

    with environment(extras.environment):
        combined = plan_all(ctx, drivers.selected(ctx))
        assert {t.target.key for t in combined.part("mail").targets if t.changes} == {
            "dag/mx1",
            "dag/mx2",
        }
        report = drivers.apply_all(ctx, combined, hand_edit_on_mx1)
    by_key = {r.target.key: r for r in report.results}
    assert by_key["velo-savoie/web1"].status is HostStatus.APPLIED
    assert by_key["alpine-books/shop1"].status is HostStatus.APPLIED  # shared blocklist
    for mx in ("dag/mx1", "dag/mx2"):
        assert by_key[mx].status is HostStatus.FAILED
        assert "the state moved since the plan was confirmed" in by_key[mx].message
    assert "dag/mx1: now also mail" in by_key["dag/mx1"].message
    code, out = dagsync(capsys, root, "plan", "--detailed-exitcode")
    assert code == 2 and re.search(r"^dag/mx1 \(.*\): 1 to change", out, re.M), out
    assert re.search(r"^velo-savoie/web1 \(.*\): no changes", out, re.M), out
    code, out = dagsync(capsys, root, "apply", "--yes", "--no-record")
    assert code == 0, out
    code, out = dagsync(capsys, root, "plan", "--detailed-exitcode")
    assert code == 0, out


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_a_saved_plan_of_every_kind_applies_while_nothing_moved(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = root / "clients/alpine-books/client.yaml"
    client.write_text(client.read_text().replace("quota_gb: 20", "quota_gb: 25"))
    saved = tmp_path / "plan.json"
    code, out = dagsync(capsys, root, "plan", "--out", str(saved), "--detailed-exitcode")
    assert code == 2, out
    assert json.loads(saved.read_text())["drivers"][:3] == ["hosts", "backup", "mail"]
    code, out = dagsync(capsys, root, "apply", "--plan", str(saved), "--yes", "--no-record")
    assert code == 0, out
    assert "dag/mx1" in out and "applied" in out
    code, out = dagsync(capsys, root, "plan", "--detailed-exitcode")
    assert code == 0, out


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _scope(capsys: pytest.CaptureFixture[str], root: Path) -> dict[str, Any]:
    code = main(["scope", "--format", "json", "--repo", str(root)])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    data: dict[str, Any] = json.loads(captured.out)
    return data


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_a_network_wide_block_and_a_storage_move_reach_their_hosts_through_per_client_applies(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: what the apply workflow does on main — `dagsync scope`, then one
    `apply --client C` per client of the scope (`dag` for DAG's own hosts) — brings every
    affected host in line, other clients' servers and the old storage host included."""
    _git(root, "add", "clients", "policies")  # the sandbox's own state stays untracked
    _git(root, "commit", "-qm", "before the change", "--allow-empty")
    code, out = dagsync(capsys, root, "apply", "--yes")  # recorded: the baseline of the scope
    assert code == 0, out
    assert _scope(capsys, root)["targets"] == []
    code, out = dagsync(capsys, root, "block", "198.51.100.77", "--client", "velo-savoie",
                        "--reason", "sandbox test: an attacker seen on web1")  # fmt: skip
    assert code == 0, out
    shop1 = root / "clients/alpine-books/servers/shop1.yaml"
    moved = "storage: rbx-backup-1\n  request: REQ-2025-001"  # Roubaix, at the client's request
    shop1.write_text(shop1.read_text().replace("storage: sbg-backup-1", moved))
    _git(root, "commit", "-qam", "block an attacker; move shop1's backups to Roubaix")

    scope = _scope(capsys, root)
    targets = {str(t["target"]) for t in scope["targets"]}
    servers = set(SERVERS)  # every client shares blocklists network-wide by default
    assert servers | {"dag/sbg-backup-1", "dag/rbx-backup-1"} <= targets, targets
    clients = list(scope["clients"])
    assert set(clients) == {"alpine-books", "cime-conseil", "velo-savoie", "dag"}, clients
    for client in clients:  # the matrix jobs, one after the other
        code, out = dagsync(capsys, root, "apply", "--client", client, "--yes")
        assert code == 0, f"{client}: {out}"

    for member in SERVERS:
        name = member.replace("/", "-")
        blocked = ssh(root, name, "nft list set inet dagsync blocked4")
        assert blocked.returncode == 0, blocked.stderr
        assert "198.51.100.77" in blocked.stdout, (member, blocked.stdout)
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "198.51.100.77", "shop1:443")
    assert code == 0, out  # shop1's https is open to any: the attacker is dropped all the same
    assert "tcp/443: filtered (the YAML keeps it out)" in out
    key = ssh(root, "alpine-books-shop1", f"cut -d' ' -f2 {job.SSH_KEY_FILE}.pub")
    assert key.returncode == 0 and key.stdout.strip(), key.stderr
    for storage, holds in (("dag-sbg-backup-1", False), ("dag-rbx-backup-1", True)):
        keys = ssh(root, storage, 'cat "$(getent passwd borg | cut -d: -f6)/.ssh/authorized_keys"')
        assert keys.returncode == 0, keys.stderr
        assert (key.stdout.strip() in keys.stdout) is holds, (storage, keys.stdout)
    assert _scope(capsys, root)["targets"] == []


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_an_unreachable_host_of_an_excluded_kind_is_not_an_error(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = int((root / sandbox.STATE / "dag-mx1/sshd.pid").read_text())
    os.kill(pid, 15)
    code, out = dagsync(capsys, root, "plan", "--detailed-exitcode")
    assert code == 1 and "dag/mx1" in out, out
    others = ",".join(k for k in KINDS if k not in ("mail", "observer"))  # mx1's kinds
    code, out = dagsync(capsys, root, "plan", "--only", others, "--detailed-exitcode")
    assert code == 0, out
    assert "dag/mx1" not in out


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_down_stops_everything_and_leaves_nothing(
    root: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = json.loads((root / sandbox.SANDBOX_STATE).read_text()).get("emulator")
    code, out = dagsync(capsys, root, "sandbox", "down")
    assert code == 0, out
    assert not (root / ".dagsync-sandbox").exists()
    assert _leftovers() == []
    assert list(state_home.iterdir()) == []  # the escrow folder is gone
    if emulator:
        assert not Path(f"/proc/{emulator['pid']}").exists()
    assert sandbox.status(root) == "sandbox: down"


@pytest.mark.hosts
@pytest.mark.xdist_group("hosts-sandbox")
def test_two_sandboxes_run_at_once_on_one_machine_and_each_down_removes_its_own(
    tmp_path: Path, state_home: Path
) -> None:
    if reason := _missing():
        pytest.skip(reason)
    roots = []
    for name in ("first", "second"):
        repo = tmp_path / name
        for folder in ("clients", "policies", "schemas"):
            shutil.copytree(REPO / folder, repo / folder)
        roots.append(repo)
    with ThreadPoolExecutor(2) as pool:  # at once: names and subnets must not collide
        texts = list(pool.map(lambda r: sandbox.up(r, emulator=False), roots))
    try:
        assert all("sandbox up: 12 test hosts" in text for text in texts)
        addresses = [
            {
                h["address"]
                for h in json.loads((r / SANDBOX_HOSTS_FILE).read_text())["hosts"].values()
            }
            for r in roots
        ]
        assert addresses[0].isdisjoint(addresses[1])
        states = [json.loads((r / sandbox.STATE / "state.json").read_text()) for r in roots]
        bridges = [s["network"]["bridge"] for s in states]
        assert bridges[0] != bridges[1]
        sandbox.down(roots[0])
        assert not Path("/sys/class/net", bridges[0]).exists()
        assert Path("/sys/class/net", bridges[1]).exists()
        assert sandbox.status(roots[1]).startswith("sandbox: up (12 hosts")
        web1 = json.loads((roots[1] / SANDBOX_HOSTS_FILE).read_text())["hosts"]["velo-savoie/web1"]
        assert tcp_probe(web1["address"], 22) == "open"
    finally:
        for r in roots:
            sandbox.down(r)
    assert not any(Path("/sys/class/net", b).exists() for b in bridges)
