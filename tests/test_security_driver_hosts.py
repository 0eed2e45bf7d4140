"""The security driver through the real `dagsync plan` and `dagsync apply` on test hosts.

DAG's security host and three client servers (alpha shares blocks network-wide, charlie
opted out by request).  The repository declares documentation addresses and the hosts
override file says where the servers really are, as in the sandbox.  The test plays DAG's
mirror of ClamAV's signatures (a signature of the EICAR string, made here) before the apply.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from dagsync.cli import main
from dagsync.reconcile.security import aide, antivirus, crowdsec, reputation
from dagsync.reconcile.security.credentials import SECRET_ENV
from dagsync.reconcile.security.install import Step
from dagsync.reconcile.shell import atomic_write
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV
from dagsync.reconcile.transport.session import OBSERVER_ENV
from dagsync.sandbox.security_lab import (
    ClientSpec,
    Lab,
    run_step,
    security_lab,
    tools_missing,
    wait_for,
)
from dagsync.testing.hosts.checks import skip_reason
from dagsync.validate.repository import load_repository

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-security")]

MAIN = Path(__file__).resolve().parents[1]
CLIENTS = (ClientSpec("alpha", ("a1", "a2")), ClientSpec("charlie", ("c1",), propagation=False))
SERVERS = {"alpha/a1": "a1", "alpha/a2": "a2", "charlie/c1": "c1"}
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()


def _put(lab: Lab, name: str, path: str, content: bytes) -> None:
    run_step(lab.host(name), Step(f"write {path}", atomic_write(path, content), content))


ZONE = "bl.dagsync.test"


def _blocklist_zone(lab: Lab) -> None:
    """A DNS blocklist on a test host that lists a1's declared address (with a hostile TXT
    reason), and the lab's policies/dag.yaml asking it (never a real resolver)."""
    dns = lab.host("dns1")
    listed = str(next(s for _, s in lab.repo.servers() if s.name == "a1").ips[0])
    name = reputation.query_name(ip_address(listed), ZONE)
    dns.run(
        "setsid dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces "
        f"--listen-address={dns.address} --port=53 --user=root --local=/{ZONE}/ "
        f"--host-record={name},127.0.0.2 --txt-record={name},'spam seen'$(printf '\\033')'[2J' "
        "</dev/null >/tmp/dnsmasq.log 2>&1 &",
        check=True,
    )
    ask = reputation.resolver([dns.address])
    wait_for(lambda: reputation.lookup(ask, "t", listed, ZONE).state == "listed", 30, "dnsmasq")
    dag = lab.repo.root / "policies/dag.yaml"
    text, count = re.subn(
        r"ip_reputation:\n  blocklists: [^\n]*\n",
        f"ip_reputation:\n  blocklists: [{ZONE}]\n  resolvers: [{dns.address}]\n",
        dag.read_text(),
    )
    assert count == 1
    dag.write_text(text)
    lab.repo = load_repository(lab.repo.root, validate=False)


def _observer_key(folder: Path) -> tuple[str, Path]:
    key = folder / "observer"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key.with_suffix(".pub").read_text().strip(), key


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if reason := skip_reason() or tools_missing():
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("security-driver")
    with security_lab(base, MAIN, CLIENTS, attackers=("x1", "dns1"), public=True) as lab:
        _blocklist_zone(lab)
        signature = f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Dagsync.Test.EICAR\n"
        for name in SERVERS.values():
            _put(lab, name, f"{antivirus.DATABASE}/dagsync-test.hdb", signature.encode())
        hosts = {
            key: {"address": lab.host(name).address, "host_key": lab.host(name).host_key_public}
            for key, name in {**SERVERS, "dag/sec1": "sec1"}.items()
        }
        public, private = _observer_key(base)
        doc = {
            "version": 1,
            "ssh_key": str(lab.hosts.client_key),
            "ssh_user": "root",
            "hosts": hosts,
            "security": {"aide_watched": ["/etc"]},  # /usr is the machine's, shared
            "observer": {"key": public, "ssh_key": str(private)},
        }
        (base / "hosts.json").write_text(json.dumps(doc))
        git = ["git", "-C", str(lab.repo.root), "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "the lab's repository"], check=True)
        (base / "observer.json").write_text(json.dumps({**doc, "ssh_key": str(private)}))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(HOSTS_FILE_ENV, str(base / "hosts.json"))
            patch.setenv(SECRET_ENV, secrets.token_hex(32))
            patch.delenv(OBSERVER_ENV, raising=False)
            yield lab


def dagsync(capsys: pytest.CaptureFixture[str], lab: Lab, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main([*argv, "--repo", str(lab.repo.root)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _plan(capsys: pytest.CaptureFixture[str], lab: Lab) -> dict[str, list[str]]:
    """Per target of the security driver, its pending lines."""
    code, out = dagsync(capsys, lab, "plan", "--only", "security", "--format", "json")
    assert code == 0, out
    found: dict[str, list[str]] = {}
    for target in json.loads(out)["targets"]:
        key = f"{target['target']['client']}/{target['target']['name']}"
        assert not target.get("error") and not target.get("unknown"), (key, target)
        found[key] = [d[1] for c in target["changes"] for d in c["details"]]
    return found


@pytest.fixture(scope="module")
def applied(lab: Lab) -> str:
    first = main(
        ["plan", "--only", "security", "--detailed-exitcode", "--repo", str(lab.repo.root)]
    )
    assert first == 2  # everything to install
    code = main(
        [
            "apply",
            "--only",
            "security,observer",
            "--yes",
            "--no-record",
            "--any-commit",
            *(w for key in (*SERVERS, "dag/sec1") for w in ("--server", key)),
            "--repo",
            str(lab.repo.root),
        ]
    )
    assert code == 0
    lab.ready()
    return "applied"


def test_the_first_plan_lists_every_service_each_flag_asks_for(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan(capsys, lab)
    assert sorted(plan) == ["alpha/a1", "alpha/a2", "charlie/c1", "dag/sec1"]
    a1 = plan["alpha/a1"]
    for expected in (
        f"create {crowdsec.AGENT_CONFIG}",
        f"create {crowdsec.BOUNCER_CONFIG}",
        f"create {aide.CONFIG}",
        f"create {antivirus.CRON}",
        "start crowdsec-agent (stopped)",
        "start crowdsec-bouncer (stopped)",
        "aide init (no database yet)",
    ):
        assert expected in a1, expected
    assert "start lapi-network (stopped)" in plan["dag/sec1"]
    assert "start lapi-server.charlie.c1 (stopped)" in plan["dag/sec1"]
    assert not any("password" in line or "key" in line.split("/")[-1] for line in a1)


def test_apply_installs_and_starts_everything_and_a_second_apply_changes_nothing(
    lab: Lab, applied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _plan(capsys, lab) == {k: [] for k in ("alpha/a1", "alpha/a2", "charlie/c1", "dag/sec1")}
    code, out = dagsync(capsys, lab, "plan", "--only", "security", "--detailed-exitcode")
    assert code == 0, out
    for name in SERVERS.values():
        assert lab.host(name).run(f"test -s {aide.DATABASE}").returncode == 0, name
        tables = lab.host(name).run("nft list tables", check=True).stdout
        assert "crowdsec" in tables, name


def test_a_stopped_bouncer_is_drift_and_apply_starts_it(
    lab: Lab, applied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.host("a2").run('kill "$(cat /run/dagsync-crowdsec-bouncer.pid)"', check=True)
    stopped = ["start crowdsec-bouncer (stopped)"]
    wait_for(lambda: _plan(capsys, lab)["alpha/a2"] == stopped, 30, "the bouncer seen stopped")
    code, out = dagsync(
        capsys, lab, "apply", "--only", "security", "--yes", "--no-record", "--any-commit"
    )
    assert code == 0, out
    assert _plan(capsys, lab)["alpha/a2"] == []


def test_a_hand_edited_whitelist_is_drift_and_apply_restores_it(
    lab: Lab, applied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.host("a1").run(f"echo '# edited' >> {crowdsec.WHITELIST}", check=True)
    assert _plan(capsys, lab)["alpha/a1"] == [f"update {crowdsec.WHITELIST}"]
    code, out = dagsync(
        capsys, lab, "apply", "--only", "security", "--yes", "--no-record", "--any-commit"
    )
    assert code == 0, out
    assert _plan(capsys, lab)["alpha/a1"] == []


def test_the_observer_plan_is_the_root_plan(
    lab: Lab, applied: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.host("c1").run('kill "$(cat /run/dagsync-crowdsec-agent.pid)"', check=True)
    stopped = "start crowdsec-agent (stopped)"
    wait_for(lambda: stopped in _plan(capsys, lab)["charlie/c1"], 30, "the agent seen stopped")
    code, as_root = dagsync(capsys, lab, "plan", "--only", "security", "--format", "json")
    assert code == 0, as_root
    observer = Path(str(lab.repo.root)).parent / "observer.json"
    monkeypatch.setenv(HOSTS_FILE_ENV, str(observer))
    monkeypatch.setenv(OBSERVER_ENV, "1")
    code, as_observer = dagsync(capsys, lab, "plan", "--only", "security", "--format", "json")
    assert code == 0, as_observer
    assert _without_times(json.loads(as_observer)) == _without_times(json.loads(as_root))
    assert "start crowdsec-agent (stopped)" in as_root
    monkeypatch.delenv(OBSERVER_ENV)
    monkeypatch.setenv(HOSTS_FILE_ENV, str(observer.with_name("hosts.json")))
    code, out = dagsync(
        capsys, lab, "apply", "--only", "security", "--yes", "--no-record", "--any-commit"
    )
    assert code == 0, out


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if k not in ("created_at", "overrides", "created")
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def test_dagsync_block_pushes_by_default_once_the_local_apis_are_deployed(
    lab: Lab, applied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    x1 = lab.host("x1").address
    code, out = dagsync(capsys, lab, "block", x1, "--client", "alpha", "--reason", "SOC: scan")
    assert code == 0, out
    assert re.search(r"pushed: decision \S+ -> network", out), out
    wait_for(lambda: lab.dropped("x1", "a1") and lab.dropped("x1", "a2"), 60, "a1 and a2")
    assert not lab.dropped("x1", "c1")


def test_security_decisions_lists_live_decisions_and_commits_the_long_lived_ones(
    lab: Lab, applied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ban made by hand on the security host for 30 days lives only in a database until
    `dagsync security decisions --commit` writes it into git, ready for review."""
    x1, scope = lab.host("x1").address, lab.scope_of("c1")
    config = crowdsec.lapi_config_path(scope)
    hand = f"cscli -c {config} decisions add --ip {x1} --duration 720h --reason 'SOC: \x1b[31mscan'"
    run_step(lab.security, Step("a ban by hand", hand))
    code, out = dagsync(
        capsys, lab, "security", "decisions", "--client", "charlie", "--format", "json"
    )
    assert code == 0, out
    doc = json.loads(out)
    assert [(d["value"], d["scope"]) for d in doc["decisions"]] == [(f"{x1}/32", scope.key)]
    assert doc["decisions"][0]["scenario"] == "SOC: \\x1b[31mscan"
    assert doc["proposals"] == [
        {"client": "charlie", "address": f"{x1}/32", "reason": doc["proposals"][0]["reason"]}
    ]
    assert doc["commit"] is None
    code, out = dagsync(capsys, lab, "security", "decisions", "--client", "charlie", "--commit")
    assert code == 0, out
    git = ["git", "-C", str(lab.repo.root)]
    message = subprocess.run([*git, "log", "-1", "--format=%B"], capture_output=True, text=True)
    assert "Client-Request: internal\nReason: long-lived CrowdSec decisions" in message.stdout
    changed = subprocess.run(
        [*git, "show", "--name-only", "--format="], capture_output=True, text=True
    )
    assert changed.stdout.split() == ["clients/charlie/client.yaml"]
    assert f"address: {x1}/32" in (lab.repo.root / "clients/charlie/client.yaml").read_text()
    assert main(["validate", "--repo", str(lab.repo.root)]) == 0
    code, out = dagsync(capsys, lab, "security", "decisions", "--client", "charlie")
    assert code == 0, out
    assert "0 long-lived (>= 24 h left) not yet in git" in out  # in git now


def test_status_reports_aide_clamav_and_reputation_findings_escaped(
    lab: Lab, applied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file changed under /etc (AIDE's daily check), the EICAR file in a site's upload
    folder (ClamAV's daily scan), a1's address in the test blocklist: each reported by
    `dagsync status`, a hostile file name escaped in text and JSON alike."""
    code, out = dagsync(capsys, lab, "status", "--only", "security", "--client", "charlie")
    assert code == 1  # no daily check or scan yet: unknown, never clean
    assert "charlie/c1: integrity unknown (no AIDE report)" in out
    assert "charlie/c1: antivirus scan failed (no scan report)" in out
    c1 = lab.host("c1")
    run_step(c1, aide.check_step())
    run_step(c1, antivirus.scan_step(antivirus.SITE_PATHS))
    code, out = dagsync(capsys, lab, "status", "--only", "security", "--client", "charlie")
    assert code == 0, out  # checked, nothing found
    a1, a2 = lab.host("a1"), lab.host("a2")
    a1.run("echo 'intruder was here' >> /etc/issue", check=True)
    hostile = "/etc/cron.d/x\n::error::forged"
    a1.run(f"printf 'x' > \"$(printf '{hostile}')\"", check=True)
    run_step(a1, aide.check_step())  # what the daily cron job runs
    _put(lab, "a2", "/var/www/shop/uploads/invoice.pdf", EICAR)
    run_step(a2, antivirus.scan_step(antivirus.SITE_PATHS))
    code, out = dagsync(capsys, lab, "status", "--only", "security")
    assert code == 1
    assert "alpha/a1: file changed since the last apply: /etc/issue" in out
    assert "alpha/a1: file added since the last apply: /etc/cron.d/x\\n::error::forged" in out
    assert (
        "alpha/a2: Dagsync.Test.EICAR.UNOFFICIAL found in /var/www/shop/uploads/invoice.pdf" in out
    )
    assert (
        "alpha/a1: 198.51.100.11 is listed by bl.dagsync.test (127.0.0.2: spam seen\\x1b[2J)" in out
    )
    assert all(line.isprintable() for line in out.splitlines())
    assert not any(line.startswith("::") for line in out.splitlines())
    assert "charlie/c1" not in out and "alpha/a2: " in out
    code, out = dagsync(capsys, lab, "status", "--only", "security", "--format", "json")
    rows = {r["target"]: r for r in json.loads(out)["security"]}
    assert "/etc/cron.d/x\\n::error::forged" in rows["alpha/a1"]["integrity"]["added"]
    assert rows["alpha/a2"]["antivirus"]["found"] == [
        ["/var/www/shop/uploads/invoice.pdf", "Dagsync.Test.EICAR.UNOFFICIAL"]
    ]
    assert rows["charlie/c1"]["integrity"] == {
        "added": [],
        "removed": [],
        "changed": [],
        "error": None,
    }
