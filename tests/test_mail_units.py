"""Shared mail without hosts: rendered files, parsers, the desired state and its diff, history."""

from __future__ import annotations

import io
import json
import re
import tarfile
from decimal import Decimal
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dagsync.commands.contracts import _load_usage
from dagsync.model.client import Client
from dagsync.model.policy import CgvPolicy
from dagsync.model.server import Server
from dagsync.reconcile.core import Change, Note
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.mail.apply import apply_script, bundle
from dagsync.reconcile.resource import CommandResult

MAIN = Path(__file__).resolve().parents[1]
CLIENT = Path(__file__).parent / "data" / "backup" / "clients" / "lac-bleu"


def _load(path: Path) -> object:
    return YAML(typ="safe").load(path.read_text())


POLICY = CgvPolicy.model_validate(_load(MAIN / "policies" / "cgv" / "2024-01.yaml"))


def shared_client(**mail_changes: object) -> mail.ClientMail:
    data = _load(CLIENT / "client.yaml")
    assert isinstance(data, dict)
    data["mail"].update(mail_changes)
    servers = tuple(Server.model_validate(_load(p)) for p in sorted(CLIENT.glob("servers/*.yaml")))
    return mail.ClientMail(Client.model_validate(data), POLICY, servers)


def dedicated_client() -> mail.ClientMail:
    data = _load(MAIN / "clients" / "velo-savoie" / "client.yaml")
    servers = tuple(
        Server.model_validate(_load(p))
        for p in sorted((MAIN / "clients" / "velo-savoie").glob("servers/*.yaml"))
    )
    return mail.ClientMail(Client.model_validate(data), POLICY, servers)


def observed_from(state: mail.MailDesired) -> mail.MailObserved:
    """What a host that conforms prints back."""
    files = {path: mail._sha(content) for path, content in state.files}
    quotas = mc.parse_domains(dict(state.files)[mc.DOMAINS_FILE])
    return mail.MailObserved(
        files, quotas, dict(state.main), dict(state.master), dict(state.master_params)
    )


def test_quota_is_the_declared_one_never_above_the_hard_limit() -> None:
    assert mc.quota_mb(Decimal(25), Decimal(35)) == 25600
    assert mc.quota_mb(Decimal("27.5"), Decimal(35)) == 28160
    assert mc.quota_mb(Decimal(40), Decimal(35)) == 35840
    assert mc.describe_mb(28160) == "27.5 GB"


def test_domains_file_round_trip() -> None:
    quotas = [mc.DomainQuota("b.example", "cb", 30720), mc.DomainQuota("a.example", "ca", 25600)]
    text = mc.render_domains(quotas)
    line = "a.example:::::::userdb_quota=dict:contract:ca:file:/var/vmail/.dagsync-quota/ca"
    assert line in text
    assert mc.parse_domains(text) == {q.domain: q for q in quotas}


@pytest.mark.parametrize(("count", "rejected"), [(1, False), (9, False), (10, True), (14, True)])
def test_cc_header_check_counts_addresses(count: int, rejected: bool) -> None:
    header = "Cc: " + ",\n\t".join(f'"User, {i}" <u{i}@lac-bleu.example>' for i in range(count))
    assert bool(re.match(mc.cc_pattern(9), header)) is rejected
    assert f"/{mc.cc_pattern(9)}/ REJECT" in mc.render_cc_checks(9)


def test_forwards_keep_a_local_copy() -> None:
    text = mc.render_forwards(
        [mc.Forward("boss@a.example", "boss@gmail.example", "ca")], {"a.example": "ca"}
    )
    assert "boss@a.example\tboss@a.example, boss@gmail.example" in text


def test_desired_covers_shared_clients_and_refuses_every_client_server() -> None:
    state, notes = mail.desired([shared_client(), dedicated_client()])
    assert [q.domain for q in state.quotas] == ["croisieres-lac-bleu.example", "lac-bleu.example"]
    access = dict(state.files)[mc.CLIENT_ACCESS]
    assert "203.0.113.61\tREJECT" in access and "203.0.113.41\tREJECT" in access  # velo-savoie
    assert "velo-savoie.example" not in dict(state.files)[mc.VIRTUAL_DOMAINS]
    assert notes == ()


def test_smtp_from_sites_by_request_is_not_refused() -> None:
    state, _ = mail.desired([shared_client(smtp_from_sites=True, request="REQ-2025-002")])
    assert "203.0.113.61" not in dict(state.files)[mc.CLIENT_ACCESS]


def test_a_lower_cc_limit_or_oversized_quota_is_explained() -> None:
    _, notes = mail.desired([shared_client(cc_limit=5, quota_gb=40)])
    texts = " ".join(n.text for n in notes)
    assert "capped at the 35 GB hard limit" in texts and "cc_limit 5" in texts


def test_a_conforming_host_has_no_change() -> None:
    state, _ = mail.desired([shared_client()])
    assert mail.diff(state, observed_from(state)) == []


def test_a_quota_change_is_one_detailed_change() -> None:
    before, _ = mail.desired([shared_client()])
    after, _ = mail.desired([shared_client(quota_gb=30)])
    [change] = mail.diff(after, observed_from(before))
    assert isinstance(change, Change)
    details = [(d.sign, d.text) for d in change.details]
    assert ("~", "quota lac-bleu.example: 25 GB -> 30 GB (lac-bleu)") in details
    assert ("~", mc.DOMAINS_FILE) in details


def test_parameter_drift_is_detected_but_spacing_is_not() -> None:
    state, _ = mail.desired([shared_client()])
    observed = observed_from(state)
    spaced = {
        **observed.main,
        "smtpd_relay_restrictions": "permit_mynetworks,"
        "permit_sasl_authenticated,  reject_unauth_destination",
    }
    assert (
        mail.diff(
            state,
            mail.MailObserved(
                observed.files, observed.quotas, spaced, observed.master, observed.master_params
            ),
        )
        == []
    )
    drifted = {**observed.main, "mynetworks": "0.0.0.0/0"}
    [change] = mail.diff(
        state,
        mail.MailObserved(
            observed.files, observed.quotas, drifted, observed.master, observed.master_params
        ),
    )
    assert isinstance(change, Change)
    assert any("mynetworks" in d.text and "0.0.0.0/0" in d.text for d in change.details)


def test_postconf_output_is_parsed() -> None:
    assert mc.parse_postconf("mynetworks = 127.0.0.0/8\nrelayhost =\n") == {
        "mynetworks": "127.0.0.0/8",
        "relayhost": "",
    }
    master = (
        "submission inet  n       -       y       -       -       smtpd\n"
        "    -o syslog_name=postfix/submission\n"
    )
    assert mc.parse_master(master) == {"submission/inet": "submission inet n - y - - smtpd"}


def test_host_facts_are_parsed_from_recorded_output() -> None:
    out = (
        f"file\t{mc.DOMAINS_FILE}\t{'ab' * 32}\n"
        "dom\ta.example:::::::userdb_quota_rule=*:storage=25600M userdb_dagsync_client=ca\n"
        "main\tmynetworks = 127.0.0.0/8\n"
        "master\tdagsync-cleanup unix n - y - 0 cleanup\n"
        "mparam\tdagsync-cleanup/unix/header_checks = regexp:/x\n"
    )
    observed = mail.parse(CommandResult(0, out, ""))
    assert isinstance(observed, mail.MailObserved)
    assert observed.quotas["a.example"].quota_mb == 25600
    assert observed.master == {"dagsync-cleanup/unix": "dagsync-cleanup unix n - y - 0 cleanup"}
    assert observed.master_params == {"dagsync-cleanup/unix/header_checks": "regexp:/x"}


def test_apply_sends_every_file_in_one_archive_and_checks_before_installing() -> None:
    state, _ = mail.desired([shared_client()])
    [change] = mail.diff(state, mail.MailObserved({}, {}, {}, {}, {}))
    with tarfile.open(fileobj=io.BytesIO(bundle(change.payload["files"]))) as archive:
        assert sorted(archive.getnames()) == sorted("new" + p for p, _ in state.files)
    script = apply_script(change.payload)
    assert script.index("doveconf -n -c") < script.index("mv -f") < script.index("doveadm reload")
    assert script.index('postconf -c "$stage/postfix" -n') < script.index("mv -f")


def test_usage_output_and_history() -> None:
    sizes = mc.parse_usage("29527900160\tlac-bleu.example\n0\tcroisieres-lac-bleu.example\n")
    assert mc.gigabytes(sizes["lac-bleu.example"]) == Decimal("27.50")
    history = mc.record({}, "lac-bleu", "2026-10-01", Decimal("27.50"))
    history = mc.record(history, "lac-bleu", "2026-10-01", Decimal("26.00"))  # same day: replaced
    history = mc.record(history, "lac-bleu", "2026-09-01", Decimal("20.00"))
    assert [r["on"] for r in history["lac-bleu"]] == ["2026-09-01", "2026-10-01"]
    assert history["lac-bleu"][1]["used_gb"] == "26.00"
    assert mc.load_history(mc.dump_history(history)) == history


def test_history_is_what_contracts_reads(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    path.write_text(mc.dump_history(mc.record({}, "lac-bleu", "2026-10-01", Decimal("27.50"))))
    [reading] = _load_usage(path)["lac-bleu"]
    assert reading.used_gb == Decimal("27.50")
    assert json.loads(path.read_text()) == {"lac-bleu": [{"on": "2026-10-01", "used_gb": "27.50"}]}


def test_note_type_is_reconcile_note() -> None:
    _, notes = mail.desired([shared_client(cc_limit=5)])
    assert all(isinstance(n, Note) and n.kind == "mail" for n in notes)
