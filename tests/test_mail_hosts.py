"""Shared mail end to end on a test host with Debian's Dovecot and Postfix.

The test harness plays DAG's base set-up of a mail host (a TLS certificate, Dovecot and
Postfix started); dagsync then owns the quota, limit and relay configuration.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.commands.mail import run_usage
from dagsync.reconcile.mail import files as mailconf
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.render import render_text
from dagsync.reconcile.run import RunOptions
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV, Overrides, load_overrides
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.validate.load import load_clients
from dagsync.validate.repository import load_repository

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-backup")]

MAIN = Path(__file__).resolve().parents[1]
CLIENTS = Path(__file__).parent / "data" / "backup" / "clients"
NETWORK = unique_network("mail")
OPTIONS = RunOptions(parallel=2)
BASE_SETUP = """
mkdir -p /etc/dovecot/private
openssl req -x509 -newkey ed25519 -nodes -subj /CN=mx1 -days 2 \
  -keyout /etc/dovecot/private/dovecot.key -out /etc/dovecot/private/dovecot.pem 2>/dev/null
dovecot </dev/null >/dev/null 2>&1
postfix start </dev/null >/dev/null 2>&1 || true
"""


@dataclass(frozen=True)
class Lab:
    mx: TestHost
    root: Path
    overrides: Overrides

    def clients(self) -> list[mail.ClientMail]:
        repo = load_repository(self.root)
        policies = {c.id: p for c, p in load_clients(self.root)}
        return mail.clients_of(repo, policies)

    def plan(self) -> Plan:
        return mail.plan_hosts(load_repository(self.root), self.clients(), self.overrides, OPTIONS)

    def apply(self) -> str:
        report = mail.apply_hosts(
            load_repository(self.root), self.clients(), self.overrides, OPTIONS, lambda p: True
        )
        assert report.ok, [(r.target.key, r.message, r.outcomes) for r in report.results]
        return " ".join(o.message for r in report.results for o in r.outcomes)


def _tools_missing() -> str | None:
    missing = [
        t
        for t in ("doveconf", "doveadm", "postconf", "postmap", "openssl")
        if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None
    ]
    return f"install dovecot-imapd and postfix ({', '.join(missing)} missing)" if missing else None


def _repository(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copytree(MAIN / "policies", root / "policies")
    shutil.copytree(MAIN / "schemas", root / "schemas")
    shutil.copytree(CLIENTS, root / "clients")
    dag = root / "policies" / "dag.yaml"  # one mail host here: mx1
    dag.write_text(re.sub(r"  - name: mx2\n    host: [^\n]*\n", "", dag.read_text()))
    return root


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if reason := skip_reason() or _tools_missing():
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("mail")
    root = _repository(base / "repo")
    saved = os.environ.get(HOSTS_FILE_ENV)
    with testhosts(names=["mx1"], state_dir=base / "th", network=NETWORK) as hosts:
        mx = hosts["mx1"]
        mx.run(BASE_SETUP, check=True)
        path = base / "hosts.json"
        path.write_text(
            json.dumps(
                {
                    "version": 1,
                    "ssh_key": str(hosts.client_key),
                    "ssh_user": "root",
                    "hosts": {"dag/mx1": {"address": mx.address, "host_key": mx.host_key_public}},
                }
            )
        )
        os.environ[HOSTS_FILE_ENV] = str(path)
        try:
            yield Lab(mx, root, load_overrides(path))
        finally:
            if saved is None:
                os.environ.pop(HOSTS_FILE_ENV, None)
            else:
                os.environ[HOSTS_FILE_ENV] = saved


@pytest.fixture(scope="module")
def first_plan(lab: Lab) -> Plan:
    plan = lab.plan()
    assert lab.apply() == "dovecot reloaded postfix reloaded"  # both run on the test host
    return plan


def userdb(mx: TestHost, user: str) -> dict[str, str]:
    out = mx.run(f"doveadm user {user}", check=True).stdout
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def postmap(mx: TestHost, key: str, table: str) -> str:
    return mx.run(f"postmap -q '{key}' {table}").stdout.strip()


def test_first_plan_shows_each_domain_quota(first_plan: Plan) -> None:
    [target] = first_plan.targets
    assert target.target.key == "dag/mx1"
    [change] = target.changes
    texts = [(d.sign, d.text) for d in change.details]
    assert ("+", "quota lac-bleu.example: 25 GB (lac-bleu)") in texts
    assert ("+", "quota croisieres-lac-bleu.example: 25 GB (lac-bleu)") in texts


def test_dovecot_loads_the_quota_of_each_domain(lab: Lab, first_plan: Plan) -> None:
    assert lab.mx.run("doveconf -n >/dev/null").returncode == 0
    fields = userdb(lab.mx, "lucie@lac-bleu.example")
    assert fields["quota_rule"] == "*:storage=25600M"
    assert fields["quota"] == "dict:contract:lac-bleu:file:/var/vmail/.dagsync-quota/lac-bleu"
    assert userdb(lab.mx, "x@croisieres-lac-bleu.example")["quota"] == fields["quota"]
    assert "sieve_max_redirects = 0" in lab.mx.run("doveconf -n plugin", check=True).stdout


def test_postfix_refuses_client_servers_and_more_than_nine_in_copy(
    lab: Lab, first_plan: Plan
) -> None:
    mx = lab.mx
    assert mx.run("postconf -h mynetworks", check=True).stdout.strip() == "127.0.0.0/8 [::1]/128"
    access = f"cidr:{mailconf.CLIENT_ACCESS}"
    assert postmap(mx, "203.0.113.61", access).startswith("REJECT")
    assert postmap(mx, "198.51.100.7", access) == ""
    checks = f"regexp:{mailconf.CC_CHECKS}"
    nine = ", ".join(f"u{i}@lac-bleu.example" for i in range(9))
    assert postmap(mx, f"Cc: {nine}", checks) == ""
    assert postmap(mx, f"Cc: {nine}, tenth@example.org", checks).startswith("REJECT")
    cleanup = mx.run("postconf -P dagsync-cleanup/unix/header_checks", check=True).stdout
    assert mailconf.CC_CHECKS in cleanup
    submission = mx.run("postconf -P submission/inet/cleanup_service_name", check=True).stdout
    assert "dagsync-cleanup" in submission


def test_a_second_apply_changes_nothing(lab: Lab, first_plan: Plan) -> None:
    plan = lab.plan()
    assert not plan.has_changes, render_text(plan, colour=False)


def test_a_declared_quota_change_shows_in_plan_and_lands_on_apply(
    lab: Lab, first_plan: Plan
) -> None:
    client = lab.root / "clients" / "lac-bleu" / "client.yaml"
    original = client.read_text()
    client.write_text(original.replace("quota_gb: 25", "quota_gb: 30"))
    try:
        plan = lab.plan()
        [change] = plan.targets[0].changes
        assert ("~", "quota lac-bleu.example: 25 GB -> 30 GB (lac-bleu)") in [
            (d.sign, d.text) for d in change.details
        ]
        lab.apply()
        assert userdb(lab.mx, "lucie@lac-bleu.example")["quota_rule"] == "*:storage=30720M"
        assert not lab.plan().has_changes
    finally:
        client.write_text(original)
        lab.apply()


def test_a_hand_edit_on_the_host_shows_as_drift(lab: Lab, first_plan: Plan) -> None:
    lab.mx.run("postconf -e 'mynetworks=127.0.0.0/8 10.0.0.0/8'", check=True)
    plan = lab.plan()
    [change] = plan.targets[0].changes
    assert any("main.cf mynetworks" in d.text for d in change.details)
    lab.apply()
    assert not lab.plan().has_changes


def test_a_configuration_that_fails_its_check_is_never_activated(
    lab: Lab, first_plan: Plan
) -> None:
    mx = lab.mx
    mx.run("echo 'this is not dovecot syntax {' > /etc/dovecot/conf.d/99-broken.conf", check=True)
    client = lab.root / "clients" / "lac-bleu" / "client.yaml"
    original = client.read_text()
    client.write_text(original.replace("quota_gb: 25", "quota_gb: 20"))
    try:
        report = mail.apply_hosts(
            load_repository(lab.root), lab.clients(), lab.overrides, OPTIONS, lambda p: True
        )
        assert not report.ok
        assert "nothing activated" in report.results[0].outcomes[0].message
        assert "storage=25600M" in mx.run(f"cat {mailconf.DOMAINS_FILE}", check=True).stdout
    finally:
        client.write_text(original)
        mx.run("rm -f /etc/dovecot/conf.d/99-broken.conf", check=True)


def test_mail_usage_reports_overage_and_feeds_contract_billing(
    lab: Lab, first_plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = "/var/vmail/lac-bleu.example/lucie/Maildir"
    lab.mx.run(f"mkdir -p {store} && truncate -s 27G {store}/big", check=True)
    history = tmp_path / "mail-usage.json"
    assert run_usage(lab.root, "json", dt.date(2026, 10, 1), history, True) == 0
    first = json.loads(capsys.readouterr().out)
    assert first == {"lac-bleu": [{"on": "2026-10-01", "used_gb": "27.00"}]}
    assert run_usage(lab.root, "text", dt.date(2026, 11, 5), history, True) == 0
    text = capsys.readouterr().out
    assert "lac-bleu: 27.00 GB used, 25 GB included: OVER since 2026-10-01" in text
    assert "2026-11: 1 slice(s) of 2.00 GB over = 10.00 EUR HT" in text
    assert len(json.loads(history.read_text())["lac-bleu"]) == 2
    code = main(
        [
            "contracts",
            "--repo",
            str(lab.root),
            "--mail-usage",
            str(history),
            "--on",
            "2026-11-05",
            "--format",
            "json",
        ]
    )
    deadlines = json.loads(capsys.readouterr().out)["deadlines"]
    assert code == 0
    assert any(d["kind"] == "mail overage billed" and d["amount_eur"] == "10.00" for d in deadlines)
