"""One target of the security driver without hosts: what each `security:` flag asks for,
what a read says is missing, and the steps an apply runs for it, in order."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.security import aide, antivirus, crowdsec, hostplan
from dagsync.reconcile.security.credentials import Secrets
from dagsync.reconcile.security.desired import desired
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
SETUP = desired(load_repository(REPO, validate=False), Secrets(b"k" * 32)).servers


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _observed(setup: hostplan.TargetSetup, **changes: object) -> hostplan.SecurityObserved:
    files = {f.path: _sha(f.content) for f in setup.files}
    daemons = {d.name: True for d in setup.crowdsec.daemons}
    base = hostplan.SecurityObserved(files, daemons, (), bool(setup.aide))
    return hostplan.SecurityObserved(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_each_flag_brings_its_service_and_off_flags_bring_none() -> None:
    base = SETUP["velo-savoie/web1"]
    every = hostplan.server_setup(base, intrusion=True, scan=True)
    paths = {f.path for f in every.files}
    assert {crowdsec.BOUNCER_CONFIG, crowdsec.AGENT_CONFIG, aide.CONFIG, antivirus.CRON} <= paths
    assert every.tools == ("crowdsec-firewall-bouncer", "crowdsec", "aide", "clamscan")
    bare = hostplan.server_setup(base, intrusion=False, scan=False)
    assert (bare.aide, bare.antivirus) == ((), ())
    assert bare.tools == ("crowdsec-firewall-bouncer",)


def test_a_host_that_matches_has_nothing_pending_and_no_step() -> None:
    setup = hostplan.server_setup(SETUP["velo-savoie/web1"], intrusion=True, scan=True)
    assert hostplan.pending(setup, _observed(setup)) == []
    assert hostplan.apply_steps(setup, []) == []


def test_a_missing_package_is_installed_first_and_aide_is_initialised_last() -> None:
    setup = hostplan.server_setup(SETUP["velo-savoie/web1"], intrusion=True, scan=True)
    have = _observed(setup, missing=("aide", "clamscan"), aide_database=False)
    lines = hostplan.pending(setup, have)
    assert lines == ["install aide", "install clamav", "aide init (no database yet)"]
    steps = [s.what for s in hostplan.apply_steps(setup, lines)]
    assert steps == ["install aide clamav", "aide init"]


def test_an_edited_aide_configuration_is_checked_by_aide_before_it_replaces_the_old_one() -> None:
    setup = hostplan.server_setup(SETUP["velo-savoie/web1"], intrusion=True, scan=True)
    have = _observed(setup, files={**_observed(setup).files, aide.CONFIG: "0" * 64})
    lines = hostplan.pending(setup, have)
    assert lines == [f"update {aide.CONFIG}"]
    steps = hostplan.apply_steps(setup, lines)
    write = next(s for s in steps if s.what == f"write {aide.CONFIG}")
    assert 'aide --config-check -c "$tmp"' in write.script
    assert [s.what for s in steps][-1] == "aide init"
    assert not any(s.what.startswith("start ") for s in steps)  # CrowdSec untouched


def test_the_read_is_parsed_and_a_failed_read_is_unknown() -> None:
    sha = "a" * 64
    out = (
        "missing\taide\n"
        f"file\t{sha}  /etc/crowdsec/dagsync/bouncer.yaml\n"
        "daemon\tcrowdsec-agent\tstopped\n"
        "daemon\tcrowdsec-bouncer\trunning\n"
        "file\tnot-a-sha  /etc/x\n"
        "aide-database\n"
    )
    seen = hostplan.parse(CommandResult(0, out, ""))
    assert seen == hostplan.SecurityObserved(
        {"/etc/crowdsec/dagsync/bouncer.yaml": sha},
        {"crowdsec-agent": False, "crowdsec-bouncer": True},
        ("aide",),
        True,
    )
    failed = hostplan.parse(CommandResult(1, "", "permission denied\x1b[2J"))
    assert not isinstance(failed, hostplan.SecurityObserved)
    assert "\x1b" not in failed.reason
