"""The engine's plain-data parts: fact batching, plans and their JSON, renderers, blocklist
propagation, host overrides, atomic uploads, apply records and `dagsync block`."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dagsync.commands.block import add_block
from dagsync.errors import DagsyncError
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Target, Unknown
from dagsync.reconcile.hosts.blocklist import blocked_for
from dagsync.reconcile.hosts.desired import host_desired
from dagsync.reconcile.hosts.engine import diff_host
from dagsync.reconcile.plan import Plan, TargetPlan, stale_resources
from dagsync.reconcile.render import MARKDOWN_LIMIT, render_markdown, render_text
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
from dagsync.reconcile.resource import Outcome, Status
from dagsync.reconcile.shell import atomic_write, join
from dagsync.reconcile.transport import facts
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SSH_KEY_ENV,
    SSH_KEY_FILE_ENV,
    SSH_USER_ENV,
    Overrides,
    endpoint,
    load_overrides,
    overrides_path,
)
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the example repository."""
    root = tmp_path / "repo"
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, root / folder)
    return root


# --- facts ---------------------------------------------------------------------------------


def test_fact_batch_keeps_each_output_exit_code_and_errors_apart_even_against_fake_markers() -> (
    None
):
    script, nonce = facts.batch(
        [
            ("a", "printf 'x\\n@@fake begin b\\n'; echo oops >&2; exit 3"),
            ("b", "printf 'no newline'"),
            ("c", "printf '\\n\\n'"),
        ]
    )
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    got = facts.split(proc.stdout, proc.stderr, nonce)
    assert (got["a"].exit_code, got["a"].stdout, got["a"].stderr) == (
        3,
        "x\n@@fake begin b\n",
        "oops\n",
    )
    assert got["b"].stdout == "no newline" and got["c"].stdout == "\n\n"


def test_fact_batch_cut_short_leaves_the_missing_facts_absent() -> None:
    script, nonce = facts.batch([("a", "echo 1"), ("b", "echo 2")])
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    cut = proc.stdout[: proc.stdout.index(f"@@{nonce} begin b")]
    assert set(facts.split(cut, "", nonce)) == {"a"}


# --- plans ---------------------------------------------------------------------------------


def change(action: Action = Action.UPDATE, *details: Detail) -> Change:
    return Change("firewall", action, "table inet dagsync", "update", details, {"text": "x"})


def target(name: str, *changes: Change, error: str | None = None) -> TargetPlan:
    return TargetPlan(
        Target("velo-savoie", name, production=True),
        "203.0.113.41",
        changes=changes,
        notes=(Note("accounts", "a note"),),
        error=error,
        reads=(("firewall", "nft -j list ruleset"),),
        fingerprints={"firewall": "f" * 64},
    )


def plan_of(*targets: TargetPlan) -> Plan:
    return Plan(targets, "2026-11-29T10:00:00+00:00", "abc123", False, None)


def test_plan_survives_a_json_round_trip() -> None:
    plan = plan_of(
        target("web1", change(Action.CREATE, Detail("+", "tcp dport 80 accept"))), target("web2")
    )
    assert Plan.loads(plan.dumps()) == plan
    data = json.loads(plan.dumps())
    assert data["summary"]["create"] == 1 and data["summary"]["with_changes"] == 1


def test_plan_file_that_is_not_a_plan_is_refused() -> None:
    with pytest.raises(DagsyncError, match="not a dagsync plan"):
        Plan.loads('{"kind": "other"}', "x.json")


def test_stale_resources_names_what_changed_since_the_plan() -> None:
    saved = target("web1", change())
    assert stale_resources(saved, {"firewall": "f" * 64}) == []
    assert stale_resources(saved, {"firewall": "0" * 64, "accounts": "1"}) == [
        "accounts",
        "firewall",
    ]


def test_text_plan_is_coloured_only_when_asked() -> None:
    plan = plan_of(target("web1", change(Action.DELETE, Detail("-", "user old"))))
    plain = render_text(plan)
    assert "\x1b[" not in plain and "  - firewall: update" in plain and "1 to destroy" in plain
    assert "\x1b[31m" in render_text(plan, colour=True)


def test_text_plan_without_changes_says_so() -> None:
    assert "No changes: 1 server(s) match" in render_text(plan_of(target("web1")))


def test_markdown_plan_has_a_summary_table_then_collapsible_details() -> None:
    plan = plan_of(
        target("web1", change(Action.CREATE, Detail("+", "x"))), target("db1", error="boom")
    )
    text = render_markdown(plan)
    assert text.index("| Server |") < text.index("<details>")
    assert "| `velo-savoie/web1` (prod) | 203.0.113.41 | 1 | 0 | 0 | 0 | changes |" in text
    assert "⚠️ error" in text and "could not be planned: boom" in text


def test_markdown_plan_stays_under_the_comment_limit_with_a_truncation_note() -> None:
    details = tuple(
        Detail("+", f"set blocked4: 198.51.{i // 256}.{i % 256}/32") for i in range(400)
    )
    plan = plan_of(*(target(f"web{i}", change(Action.UPDATE, *details)) for i in range(40)))
    text = render_markdown(plan)
    assert len(text) < MARKDOWN_LIMIT
    assert "Truncated:" in text and "more server(s) not shown" in text


# --- diff over unknown facts ---------------------------------------------------------------


def test_an_unknown_fact_gives_no_change_and_is_reported(repo: Path) -> None:
    loaded = load_repository(repo, validate=False)
    config, server = next(loaded.servers())
    from dagsync.reconcile.hosts.desired import server_inputs
    from dagsync.reconcile.run import Selection

    now = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    inputs = server_inputs(loaded, Selection((config.id,), (server.name,)), now)[0]
    desired = host_desired(inputs)
    observed = {kind: Unknown("permission denied") for kind, _ in desired.states}
    changes, _, unknown = diff_host(desired, observed, DiffOptions(allow_destroy=True))
    assert changes == []
    assert {k for k, _ in unknown} == {
        "firewall",
        "accounts",
        "root-access",
        "os",
        "vhosts",
        "tls",
        "databases",
        "exporters",
    }


# --- blocklist propagation -----------------------------------------------------------------


def test_blocklist_lands_on_own_servers_and_network_wide_unless_opted_out(repo: Path) -> None:
    loaded = load_repository(repo, validate=False)
    velo = {str(e.network) for e in blocked_for("velo-savoie", loaded.clients)}
    alpine = {str(e.network) for e in blocked_for("alpine-books", loaded.clients)}
    assert {"198.51.100.66/32", "203.0.113.200/29"} <= velo
    assert {"198.51.100.66/32", "203.0.113.200/29"} <= alpine  # shared network-wide
    path = repo / "clients/velo-savoie/client.yaml"
    text = path.read_text().replace(
        "share_blocklist_network_wide: true", "share_blocklist_network_wide: false"
    )
    path.write_text(text)
    loaded = load_repository(repo, validate=False)
    assert "198.51.100.66/32" not in {
        str(e.network) for e in blocked_for("alpine-books", loaded.clients)
    }
    assert "198.51.100.66/32" in {
        str(e.network) for e in blocked_for("velo-savoie", loaded.clients)
    }


# --- dagsync block -------------------------------------------------------------------------


def test_block_appends_to_the_yaml_keeping_every_line(repo: Path) -> None:
    path = repo / "clients/velo-savoie/client.yaml"
    before = path.read_text()
    message = add_block(
        repo,
        "velo-savoie",
        "198.51.100.77",
        "Scanning $(ports); `x` 'y'",
        today=dt.date(2026, 11, 29),
    )
    after = path.read_text()
    assert "198.51.100.77/32 added to the blocklist of velo-savoie" in message
    assert after.startswith(before)
    assert after[len(before) :] == (
        "    - address: 198.51.100.77/32\n"
        "      reason: Scanning $(ports); `x` 'y'\n"
        "      added_on: 2026-11-29\n"
    )
    entries = load_repository(repo, validate=False).client("velo-savoie").client.network.blocklist
    assert str(entries[-1].address) == "198.51.100.77/32"


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("not-an-ip", "is not an IP address"),
        ("10.1.2.3/8", "did you mean 10.0.0.0/8"),
        ("198.51.100.66", "already blocked"),
        ("203.0.113.201/32", "already blocked for velo-savoie (203.0.113.200/29"),
        ("192.0.2.5", "management range 192.0.2.0/28"),
        ("203.0.113.40/29", "server velo-savoie/"),
    ],
)
def test_block_refuses_bad_duplicate_or_dangerous_addresses(
    repo: Path, address: str, error: str
) -> None:
    before = (repo / "clients/velo-savoie/client.yaml").read_text()
    with pytest.raises(DagsyncError, match=error.replace("(", r"\(").replace(".", r"\.")):
        add_block(repo, "velo-savoie", address, "some reason")
    assert (repo / "clients/velo-savoie/client.yaml").read_text() == before


def test_block_for_an_unknown_client_is_refused(repo: Path) -> None:
    with pytest.raises(DagsyncError, match="no client `nobody`"):
        add_block(repo, "nobody", "198.51.100.99", "reason")


# --- overrides and credentials -------------------------------------------------------------

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqRrp1LA/NrvQiUz6oIQpfItrlU99S9E1raF1nK5bVa"


def test_override_file_replaces_address_and_pinned_key_for_its_servers(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    override = tmp_path / "hosts.json"
    override.write_text(
        json.dumps(
            {
                "hosts": {
                    "velo-savoie/web1": {
                        "address": "10.9.9.9",
                        "port": 2222,
                        "host_key": KEY + " c",
                    }
                },
                "management_ranges": ["10.9.9.1/32"],
            }
        )
    )
    monkeypatch.setenv(HOSTS_FILE_ENV, str(override))
    assert overrides_path(repo) == override
    loaded = load_overrides(override)
    servers = {f"{c.id}/{s.name}": s for c, s in load_repository(repo, validate=False).servers()}
    web1 = endpoint("velo-savoie/web1", servers["velo-savoie/web1"], loaded)
    assert (web1.address, web1.port, web1.host_key) == ("10.9.9.9", 2222, KEY)
    web2 = endpoint("velo-savoie/web2", servers["velo-savoie/web2"], loaded)
    assert web2.source == "declared" and web2.address == "203.0.113.42"
    assert web2.host_key == servers["velo-savoie/web2"].ssh.host_key
    assert [str(n) for n in loaded.management_ranges] == ["10.9.9.1/32"]


def test_override_file_with_a_bad_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "hosts.json"
    bad.write_text(json.dumps({"hosts": {"a/b": {"address": "10.0.0.1", "host_key": "nope"}}}))
    with pytest.raises(DagsyncError, match="not a hosts override file"):
        load_overrides(bad)


def test_sandbox_override_is_picked_up_only_in_sandbox_mode(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HOSTS_FILE_ENV, raising=False)
    monkeypatch.delenv("DAGSYNC_SANDBOX", raising=False)
    assert overrides_path(repo) is None
    (repo / ".dagsync-sandbox").mkdir()
    (repo / ".dagsync-sandbox/hosts.json").write_text("{}")
    assert overrides_path(repo) is None  # present, but nobody asked for the sandbox
    monkeypatch.setenv("DAGSYNC_SANDBOX", "1")
    assert overrides_path(repo) == repo / ".dagsync-sandbox/hosts.json"


def test_credentials_come_from_the_environment_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    monkeypatch.delenv(SSH_KEY_ENV, raising=False)
    monkeypatch.delenv(SSH_KEY_FILE_ENV, raising=False)
    monkeypatch.delenv(SSH_USER_ENV, raising=False)
    assert credentials("root", Overrides()).key_file is None  # ssh-agent
    monkeypatch.setenv(SSH_USER_ENV, "deployer")
    monkeypatch.setenv(SSH_KEY_FILE_ENV, str(key))
    assert credentials("root", Overrides(ssh_user="other")) == credentials("root", Overrides())
    assert credentials("root", Overrides()).user == "deployer"
    monkeypatch.setenv(SSH_KEY_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(DagsyncError, match="does not exist"):
        credentials("root", Overrides())


# --- quoting and atomic uploads ------------------------------------------------------------

HOSTILE = "a b;$(touch pwned)`touch pwned2`'\"\\*"


def test_every_argument_is_quoted(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["sh", "-c", join("printf", "%s\\n", HOSTILE, "-x")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout == f"{HOSTILE}\n-x\n"
    assert not list(tmp_path.iterdir())


def test_atomic_upload_writes_the_whole_file_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / f"dir {HOSTILE}" / "file"
    content = b"line 1\nline 2\n" * 1000
    command = atomic_write(str(target), content, mode="0640")
    ok = subprocess.run(["sh", "-c", command], input=content, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    assert target.read_bytes() == content and oct(target.stat().st_mode)[-3:] == "640"
    half = subprocess.run(
        ["sh", "-c", atomic_write(str(target), b"new" + content)], input=b"new", capture_output=True
    )
    assert half.returncode == 3 and b"incomplete upload" in half.stderr
    assert target.read_bytes() == content
    assert sorted(p.name for p in target.parent.iterdir()) == ["file"]
    assert not (tmp_path / "pwned").exists()


def test_atomic_upload_keeps_the_old_file_when_the_check_fails(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    command = atomic_write(str(target), b"new", check='grep -q old "$tmp"')
    assert subprocess.run(["sh", "-c", command], input=b"new").returncode != 0
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f"]


# --- apply records -------------------------------------------------------------------------


def test_apply_records_go_to_git_notes_one_per_client(tmp_path: Path) -> None:
    from dagsync.gitops.notes import read_applies
    from dagsync.reconcile.records import record

    root = tmp_path / "cfg"
    (root / "clients").mkdir(parents=True)
    (root / "clients/x").write_text("x")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    ch = change(Action.UPDATE)
    report = ApplyReport(
        plan_of(),
        (
            HostResult(
                Target("velo-savoie", "web1"), HostStatus.APPLIED, (Outcome(ch, Status.APPLIED),)
            ),
            HostResult(
                Target("velo-savoie", "web2"),
                HostStatus.ROLLED_BACK,
                (Outcome(ch, Status.ROLLED_BACK, "lost"),),
            ),
            HostResult(Target("alpine-books", "shop1"), HostStatus.UNCHANGED),
        ),
        "2026-11-29T10:00:00+00:00",
        "2026-11-29T10:00:05+00:00",
    )
    assert "2 client(s)" in record(root, report)
    records = {r["client"]: r for r in read_applies(root, "HEAD")}
    assert records["alpine-books"]["result"] == "unchanged"
    velo = {s["server"]: s for s in records["velo-savoie"]["servers"]}
    assert velo["web1"]["result"] == "ok" and velo["web1"]["resources_changed"] == [
        "firewall: update"
    ]
    assert velo["web2"]["result"] == "failed" and velo["web2"]["error"].startswith("rolled back")
    assert records["velo-savoie"]["result"] == "failed"


# --- commands ------------------------------------------------------------------------------


def test_deploy_freeze_warns_only_for_production_changes_on_an_eve() -> None:
    from dagsync.commands.confirm import freeze_warning as _freeze_warning

    friday, tuesday = dt.date(2026, 11, 27), dt.date(2026, 11, 24)
    production = plan_of(target("web1", change()))
    warning = _freeze_warning(production, friday)
    assert warning is not None and "Friday 2026-11-27" in warning and "velo-savoie/web1" in warning
    assert _freeze_warning(production, tuesday) is None
    assert _freeze_warning(plan_of(target("web1")), friday) is None


def test_apply_without_a_terminal_needs_yes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dagsync.commands.confirm import confirmer as _confirmer
    from dagsync.commands.reconcile import Scope

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    plan = plan_of(target("web1", change()))
    with pytest.raises(DagsyncError, match="pass --yes"):
        _confirmer(False, Scope(tmp_path))(plan)
    assert _confirmer(True, Scope(tmp_path))(plan) is True


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("role: production", "role: prod", "web1.yaml:3:7: `role`"),  # not the model
        (
            "justification: Redirect to HTTPS and ACME challenges.",
            "justification: Staging.",
            "validation error(s), first at clients/velo-savoie/servers/web1.yaml",  # a rule
        ),
    ],
)
def test_plan_refuses_an_invalid_repository_with_exit_code_1(
    repo: Path, old: str, new: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from dagsync.commands.reconcile import plan

    # Hosts are read while the repository is validated: keep them on the loopback.
    hosts = {
        f"{c.id}/{s.name}": {"address": "127.0.0.1", "port": 9, "host_key": KEY}
        for c, s in load_repository(repo, validate=False).servers()
    }
    (repo / "hosts.json").write_text(json.dumps({"hosts": hosts}))
    monkeypatch.setenv(HOSTS_FILE_ENV, str(repo / "hosts.json"))

    path = repo / "clients/velo-savoie/servers/web1.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    result = CliRunner().invoke(plan, ["--repo", str(repo), "--detailed-exitcode"])
    assert result.exit_code == 1
    assert says in result.output and "dagsync validate" in result.output


def test_a_saved_plan_that_deletes_needs_allow_destroy_at_apply_time() -> None:
    from dagsync.reconcile.hosts.engine import _check_saved
    from dagsync.reconcile.run import RunOptions

    deleting = Change("accounts", Action.DELETE, "user old", "delete user old", (), {"name": "old"})
    saved = plan_of(target("web1", deleting))
    with pytest.raises(DagsyncError, match="apply it with --allow-destroy"):
        _check_saved(saved, saved, RunOptions())
    assert _check_saved(saved, saved, RunOptions(allow_destroy=True)) is saved


def test_ssh_sockets_are_created_with_tcp_nodelay() -> None:
    import socket

    from dagsync.reconcile.transport import ssh
    from dagsync.reconcile.transport.inventory import Endpoint

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sock = ssh._socket(Endpoint("127.0.0.1", port, KEY, "test"), 1.0)
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            sock.close()


def test_the_pinned_key_is_the_only_known_one_and_unknown_keys_are_rejected() -> None:
    import paramiko

    from dagsync.reconcile.transport import ssh
    from dagsync.reconcile.transport.inventory import Credentials, Endpoint

    conn = ssh.Connection(Endpoint("127.0.0.1", 2222, KEY, "test"), Credentials("root", None), 1.0)
    client = conn._conn.client
    assert isinstance(client._policy, paramiko.RejectPolicy)
    known = client.get_host_keys()
    assert list(known.keys()) == ["[127.0.0.1]:2222"]
    assert known.lookup("[127.0.0.1]:2222")["ssh-ed25519"].get_base64() == KEY.split()[1]
