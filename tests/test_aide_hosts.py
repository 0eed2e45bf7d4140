"""AIDE on a test host: a file changed under /etc is reported; dagsync's own changes are not,
since the database is initialised again after an apply; a broken configuration is refused by
AIDE's own check before it replaces the working one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from dagsync.reconcile.security import aide
from dagsync.reconcile.security.install import File
from dagsync.sandbox.security_lab import LabError, run_step
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import testhosts
from dagsync.testing.hosts.network import unique_network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-security")]

# /usr is shared with the machine in test hosts and would make every init slow: /etc only.
WATCHED = ("/etc",)
HEADER = "managed by dagsync (test)"


def _apply(host: TestHost, managed: tuple[File, ...]) -> None:
    for step in [*aide.write_steps(managed), aide.init_step()]:
        run_step(host, step)


def _check(host: TestHost) -> aide.Integrity:
    return aide.parse_report(run_step(host, aide.check_step()))


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestHost]:
    if reason := skip_reason() or (shutil.which("aide") is None and "install aide"):
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("aide")
    with testhosts(names=["w1"], state_dir=base / "th", network=unique_network("aide")) as lab:
        _apply(lab["w1"], aide.files(HEADER, WATCHED))
        yield lab["w1"]


def test_a_fresh_database_reports_nothing(host: TestHost) -> None:
    assert _check(host) == aide.Integrity()


def test_a_changed_and_an_added_file_under_etc_are_reported(host: TestHost) -> None:
    host.run("echo 'intruder was here' >> /etc/issue && touch /etc/cron.d/backdoor", check=True)
    found = _check(host)
    assert "/etc/issue" in found.changed and "/etc/cron.d/backdoor" in found.added
    assert "w1: file added since the last apply: /etc/cron.d/backdoor" in found.lines("w1")
    host.run("rm /etc/cron.d/backdoor", check=True)


def test_dagsyncs_own_change_is_not_an_alert_after_the_apply(host: TestHost) -> None:
    _apply(host, aide.files("managed by dagsync (test, second version)", WATCHED))
    assert _check(host).clean
    assert host.run(f"test -s {aide.LAST_CHECK}").returncode == 0


def test_a_configuration_aide_refuses_never_replaces_the_working_one(host: TestHost) -> None:
    before = host.run(f"cat {aide.CONFIG}", check=True).stdout
    with pytest.raises(LabError, match=r"write /etc/dagsync/aide\.conf"):
        _apply(host, (File(aide.CONFIG, "database_in = nowhere\n/etc NoSuchGroup\n"),))
    assert host.run(f"cat {aide.CONFIG}", check=True).stdout == before
    # The refused temporary file came and went: at most its folder's times changed (AIDE
    # stores them to the second, so within the same second not even those).
    found = _check(host)
    assert (found.added, found.removed) == ((), ())
    assert set(found.changed) <= {"/etc/dagsync"}
