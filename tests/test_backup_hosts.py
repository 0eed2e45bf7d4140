"""Backups end to end on test hosts: real borg, a storage host and two servers of a client.

The client `lac-bleu` (tests/data/backup/clients) has web1 (3 days kept, by request) and web2
(7 days, a MariaDB database dumped through the documented DAGSYNC_DUMP_COMMAND).  The tests
run in file order on one set of hosts: first apply, idempotence, job, restore, prune,
isolation, staleness, verify.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from dagsync.commands.backup import backup, run_verify
from dagsync.reconcile.backup import driver, job
from dagsync.reconcile.daghosts import merge_plans
from dagsync.reconcile.hosts import engine
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.render import render_markdown, render_text
from dagsync.reconcile.report import ApplyReport, HostStatus, render_report
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV, Overrides, load_overrides
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.validate.repository import Repository, load_repository

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-backup")]

MAIN = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "backup"
NETWORK = unique_network("bkp")
FAKE_DUMP = "/root/fake-dump"  # per host (/root is private to each test host)
OPTIONS = RunOptions(parallel=4)


@dataclass(frozen=True)
class Lab:
    hosts: TestHosts
    root: Path  # the configuration repository
    overrides: Overrides
    escrow: Path

    def repo(self) -> Repository:
        return load_repository(self.root)

    def host(self, name: str) -> TestHost:
        return self.hosts[name]


def make_repository(root: Path) -> Path:
    """A configuration repository: the project's policies and the test client."""
    root.mkdir(parents=True)
    shutil.copytree(MAIN / "policies", root / "policies")
    shutil.copytree(MAIN / "schemas", root / "schemas")
    shutil.copytree(DATA / "clients", root / "clients")
    return root


def write_overrides(path: Path, lab: TestHosts, keys: dict[str, str]) -> Path:
    hosts = {
        key: {
            "address": lab[name].address,
            "port": lab[name].port,
            "host_key": lab[name].host_key_public,
        }
        for key, name in keys.items()
    }
    data = {"version": 1, "hosts": hosts, "ssh_key": str(lab.client_key), "ssh_user": "root"}
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if reason := skip_reason():
        pytest.skip(reason)
    if shutil.which("borg") is None:
        pytest.skip("borgbackup is not installed")
    base = tmp_path_factory.mktemp("backup")
    root = make_repository(base / "repo")
    escrow = base / "escrow"
    saved = {k: os.environ.get(k) for k in ("DAGSYNC_PASSPHRASE_ESCROW", HOSTS_FILE_ENV)}
    with testhosts(
        names=["backup1", "web1", "web2"], state_dir=base / "th", network=NETWORK
    ) as hosts:
        path = write_overrides(
            base / "hosts.json",
            hosts,
            {"dag/sbg-backup-1": "backup1", "lac-bleu/web1": "web1", "lac-bleu/web2": "web2"},
        )
        os.environ["DAGSYNC_PASSPHRASE_ESCROW"] = str(escrow)
        os.environ[HOSTS_FILE_ENV] = str(path)
        for name in ("web1", "web2"):
            hosts[name].run(
                "mkdir -p /srv/site && echo 'booking site' > /srv/site/index.html "
                f"&& printf '#!/bin/sh\\necho \"-- dump of $1 $2\"\\n' > {FAKE_DUMP} "
                f"&& chmod 0755 {FAKE_DUMP}",
                check=True,
            )
        try:
            yield Lab(hosts, root, load_overrides(path), escrow)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="module")
def first_apply(lab: Lab) -> tuple[Plan, ApplyReport]:
    repo = lab.repo()
    before = driver.plan(repo, Selection(), lab.overrides, OPTIONS)
    return before, driver.apply(repo, Selection(), lab.overrides, OPTIONS, lambda plan: True)


def run_job(host: TestHost, *, stamp: str | None = None, dump: bool = True) -> None:
    env = f"DAGSYNC_BACKUP_TIMESTAMP={stamp} " if stamp else ""
    env += f"DAGSYNC_DUMP_COMMAND={FAKE_DUMP} " if dump else ""
    result = host.ssh(f"{env}{job.JOB_FILE}", timeout=120)
    assert result.returncode == 0, result.stderr


def borg(host: TestHost, repository: str, command: str) -> tuple[int, str, str]:
    result = host.run(job.env_prefix(repository, 22) + command, timeout=120)
    return result.returncode, result.stdout, result.stderr


def repository_of(lab: Lab, name: str) -> str:
    return f"ssh://borg@{lab.host('backup1').address}:22/srv/borg/lac-bleu/{name}"


def archive_names(lab: Lab, name: str) -> list[str]:
    code, out, err = borg(lab.host(name), repository_of(lab, name), "borg list --short")
    assert code == 0, err
    return out.split()


def test_plan_before_the_first_apply_shows_keys_to_generate_and_repositories(
    first_apply: tuple[Plan, ApplyReport],
) -> None:
    plan, _ = first_apply
    storage = next(t for t in plan.targets if t.target.key == "dag/sbg-backup-1")
    assert {c.resource for c in storage.changes} == {"user borg", "authorized_keys"}
    web1 = next(t for t in plan.targets if t.target.key == "lac-bleu/web1")
    assert {c.resource for c in web1.changes} == {
        "passphrase",
        "ssh key",
        "known_hosts",
        "repository",
        "escrow",
        "job script",
        "cron",
    }


def test_first_apply_initialises_each_repository_with_a_restricted_key(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    _, report = first_apply
    assert report.ok, [(r.target.key, r.message, r.outcomes) for r in report.results]
    storage = lab.host("backup1")
    lines = storage.run("grep -v '^#' /srv/borg/.ssh/authorized_keys", check=True).stdout.split(
        "\n"
    )
    for name in ("web1", "web2"):
        public = lab.host(name).run(f"cat {job.SSH_KEY_FILE}.pub", check=True).stdout.split()[1]
        line = next(x for x in lines if public in x)
        assert line.startswith(
            f'command="borg serve --restrict-to-repository /srv/borg/lac-bleu/{name}",restrict '
        )
        assert storage.run(f"test -f /srv/borg/lac-bleu/{name}/config").returncode == 0


def test_passphrases_stay_on_the_servers_with_an_escrow_copy_and_are_never_printed(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    plan, report = first_apply
    printed = plan.dumps() + json.dumps(report.as_json()) + render_report(report)
    for name in ("web1", "web2"):
        host = lab.host(name)
        assert host.run(f"stat -c %a {job.PASSPHRASE_FILE}").stdout.strip() == "600"
        passphrase = host.run(f"cat {job.PASSPHRASE_FILE}", check=True).stdout.strip()
        assert len(passphrase) >= 40 and passphrase not in printed
        copy = lab.escrow / "lac-bleu" / f"{name}.json"
        assert copy.stat().st_mode & 0o777 == 0o600
        escrowed = json.loads(copy.read_text())
        assert escrowed["passphrase"] == passphrase
        assert escrowed["borg_key"].startswith("BORG_KEY ")
    assert lab.escrow.stat().st_mode & 0o777 == 0o700


def test_a_second_apply_changes_nothing(lab: Lab, first_apply: tuple[Plan, ApplyReport]) -> None:
    report = driver.apply(lab.repo(), Selection(), lab.overrides, OPTIONS, lambda plan: True)
    assert report.ok
    assert not report.plan.has_changes, render_text(report.plan, colour=False)
    assert {r.status for r in report.results} == {HostStatus.UNCHANGED}


def test_the_job_backs_up_and_a_restore_brings_a_file_back_byte_for_byte(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    web1 = lab.host("web1")
    original = os.urandom(300_000)
    live = web1.root / "srv" / "site" / "bookings.bin"  # the host's own /srv
    live.write_bytes(original)
    run_job(web1)
    [archive] = archive_names(lab, "web1")
    live.unlink()
    code, _, err = borg(
        web1,
        repository_of(lab, "web1"),
        f"mkdir -p /srv/restored && cd /srv/restored && "
        f"borg extract ::{archive} srv/site/bookings.bin",
    )
    assert code == 0, err
    restored = web1.root / "srv" / "restored" / "srv" / "site" / "bookings.bin"
    assert restored.read_bytes() == original
    live.write_bytes(original)


def test_the_job_leaves_its_last_success_for_the_node_exporters_textfile_collector(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    web1 = lab.host("web1")
    web1.run(f"rm -f {job.METRICS_FILE}")
    before = int(web1.run("date -u +%s").stdout)
    run_job(web1)
    listing = web1.run(f"stat -c '%a' {job.METRICS_FILE} && cat {job.METRICS_FILE}")
    assert listing.returncode == 0, listing.stderr
    mode, *lines = listing.stdout.splitlines()
    assert mode == "644"  # the node exporter reads it as the prometheus user
    samples = dict(line.split() for line in lines if not line.startswith("#"))
    assert samples["dagsync_backup_period_seconds"] == "86400"  # web1 backs up daily
    finished = int(samples["dagsync_backup_last_success_timestamp_seconds"])
    assert before <= finished <= before + 600


def test_prune_keeps_the_declared_number_of_days_with_forged_dates(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    web1 = lab.host("web1")  # retention_days: 3, by request
    today = dt.datetime.now(dt.UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    # The newest forged archive is today at 01:00 UTC (or now, if earlier), so that the
    # freshness test below (< 26 h) holds at any time of day.
    newest = min(today, dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1))
    for days in (3, 2, 1, 0):
        run_job(web1, stamp=f"{newest - dt.timedelta(days=days):%Y-%m-%dT%H:%M:%S}")
    names = archive_names(lab, "web1")
    yesterday, before = newest - dt.timedelta(days=1), newest - dt.timedelta(days=2)
    assert len(names) == 3, names
    assert any(n.startswith(f"web1-{newest:%Y-%m-%d}") for n in names)
    assert any(n.startswith(f"web1-{yesterday:%Y-%m-%d}") for n in names)
    assert any(n.startswith(f"web1-{before:%Y-%m-%d}") for n in names)


def test_a_server_key_cannot_read_another_server_repository(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    code, _, err = borg(lab.host("web1"), repository_of(lab, "web2"), "borg list --short")
    assert code != 0
    # borg serve --restrict-to-repository refuses with PathNotAllowed.
    assert "Repository path not allowed" in err, err
    code, _, _ = borg(lab.host("web1"), repository_of(lab, "web1"), "borg list --short")
    assert code == 0


def _job_with_mysqldump(lab: Lab, behaviour: str) -> str:
    """web2's backup job run with `mysqldump` not executable ("absent") or failing, whatever
    this machine has installed (the test hosts share its /usr; the job sets its own PATH): a
    file bind-mounted over it in a mount namespace of the job's own, gone when it exits.
    Returns the job's error output; the job must fail."""
    stub = "#!/bin/sh\\necho 'mysqldump: Got error: 2002' >&2\\nexit 2\\n"
    mode = "644" if behaviour == "absent" else "755"
    script = (
        f'f=$(mktemp) && printf "{stub}" > "$f" && chmod {mode} "$f" && '
        f'unshare -m --propagation private sh -c \'mount --bind "$1" /usr/bin/mysqldump '
        f'&& exec "$2"\' job "$f" {job.JOB_FILE}; rc=$?; rm -f "$f"; echo "rc=$rc" >&2'
    )
    result = lab.host("web2").ssh(script, timeout=120)
    assert "rc=0" not in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("absent", "mysqldump not found: cannot dump mariadb database bookings"),
        ("failing", "mysqldump of bookings failed"),
    ],
)
def test_the_job_fails_loudly_when_a_database_cannot_be_dumped(
    lab: Lab, first_apply: tuple[Plan, ApplyReport], behaviour: str, message: str
) -> None:
    if not Path("/usr/bin/mysqldump").is_file():
        pytest.fail("mysqldump is needed (Debian's mariadb-client, installed by .ci/run)")
    assert message in _job_with_mysqldump(lab, behaviour)


def test_plan_reports_a_server_whose_last_backup_is_too_old(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    web2 = lab.host("web2")
    stamp = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
    run_job(web2, stamp=f"{stamp:%Y-%m-%dT%H:%M:%S}")
    code, out, err = borg(
        web2, repository_of(lab, "web2"), f"borg list --short ::{archive_names(lab, 'web2')[-1]}"
    )
    assert code == 0, err
    assert "var/backups/dagsync/databases/mariadb-bookings.sql" in out.split()
    plan = driver.plan(lab.repo(), Selection(), lab.overrides, OPTIONS)
    notes = {t.target.key: [n.text for n in t.notes] for t in plan.targets}
    assert any("last backup too old" in n and "30.0 h ago" in n for n in notes["lac-bleu/web2"])
    assert not any("too old" in n for n in notes["lac-bleu/web1"])
    assert not plan.has_changes


def test_verify_reports_each_server_newest_archive_and_retention(
    lab: Lab, first_apply: tuple[Plan, ApplyReport], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_verify(lab.root, ("lac-bleu",), (), True, "json")
    report = {s["server"]: s for s in json.loads(capsys.readouterr().out)["servers"]}
    web1, web2 = report["lac-bleu/web1"], report["lac-bleu/web2"]
    assert web1["ok"] and web1["fresh"] and web1["check"] == "ok"
    assert web1["retention"] == {
        "rule": "daily",
        "declared": 3,
        "kept": 3,
        "beyond": [],
        "ok": True,
    }
    assert web1["restore"]["ok"] and web1["restore"]["path"].startswith("/srv/site/")
    assert web1["escrow"] == "ok" and web2["escrow"] == "ok"
    assert not web2["ok"] and not web2["fresh"] and web2["age_hours"] >= 30
    assert code == 1
    result = CliRunner().invoke(backup, ["verify", "--repo", str(lab.root), "--server", "web1"])
    assert result.exit_code == 0, result.output
    assert "lac-bleu/web1" in result.output and "OK" in result.output
    assert "retention: 3 daily archive(s) kept, declared 3 (3 days): ok" in result.output
    assert "borg check: ok" in result.output


def test_the_backup_plan_merges_into_the_engine_plan_of_the_same_servers(
    lab: Lab, first_apply: tuple[Plan, ApplyReport]
) -> None:
    repo = lab.repo()
    servers = engine.plan(repo, Selection(), lab.overrides, OPTIONS)
    merged = merge_plans(servers, driver.plan(repo, Selection(), lab.overrides, OPTIONS))
    web2 = next(t for t in merged.targets if t.target.key == "lac-bleu/web2")
    assert "backup" in web2.fingerprints and "firewall" in web2.fingerprints
    assert any("last backup too old" in n.text for n in web2.notes)
    assert [t.target.key for t in merged.targets] == [
        "dag/sbg-backup-1",
        "lac-bleu/web1",
        "lac-bleu/web2",
    ]
    assert "last backup too old" in render_markdown(merged)
