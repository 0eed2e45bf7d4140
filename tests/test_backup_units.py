"""Backups without hosts: rendered job and cron, borg output parsers, retention, diffs, escrow."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from dagsync.model.client import Client
from dagsync.model.server import BackupScope, Frequency, Server
from dagsync.reconcile import escrow
from dagsync.reconcile.backup import job
from dagsync.reconcile.backup import resource as res
from dagsync.reconcile.backup.apply import split_secrets
from dagsync.reconcile.backup.borgjson import BorgOutputError, parse_info, parse_list, parse_offset
from dagsync.reconcile.backup.job import Retention
from dagsync.reconcile.backup.retention import check_retention, freshness, kept_by_prune
from dagsync.reconcile.backup.storage import (
    StorageObserved,
    StorageSpec,
    storage_desired,
    storage_diff,
    storage_parse,
)
from dagsync.reconcile.core import Change, Note, Unknown
from dagsync.reconcile.resource import CommandResult

DATA = Path(__file__).parent / "data" / "backup"
CLIENT = DATA / "clients" / "lac-bleu"
STORAGE = StorageSpec(
    "sbg-backup-1",
    "10.0.0.5",
    2222,
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqRrp1LA/NrvQiUz6oIQpfItrlU99S9E1raF1nK5bVa",
    "/srv/borg",
)
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _model(kind: type[Client] | type[Server], path: Path) -> Client | Server:
    from ruamel.yaml import YAML

    return kind.model_validate(YAML(typ="safe").load(path.read_text()))


def client() -> Client:
    c = _model(Client, CLIENT / "client.yaml")
    assert isinstance(c, Client)
    return c


def server(name: str) -> Server:
    s = _model(Server, CLIENT / "servers" / f"{name}.yaml")
    assert isinstance(s, Server)
    return s


def desired(name: str = "web2") -> res.BackupDesired:
    return res.desired(client(), server(name), STORAGE)


def conforming(d: res.BackupDesired, **changes: object) -> res.BackupObserved:
    base = {
        "passphrase_sha256": "ab" * 32,
        "public_key": "ssh-ed25519 AAAAkey",
        "job_sha256": res.sha256(d.job),
        "cron_sha256": res.sha256(d.cron),
        "known_hosts_sha256": res.sha256(d.known_hosts),
        "last": res.LastBackup("web2-x", NOW - dt.timedelta(hours=3)),
    }
    base.update(changes)
    return res.BackupObserved(**base)  # type: ignore[arg-type]


def storage_with(*paths: str) -> StorageObserved:
    return StorageObserved("/srv/borg", (), paths)


ESCROWED = res.EscrowState("/vault", "ab" * 32)


# --- job and cron --------------------------------------------------------------------------


def test_rendered_job_is_valid_shell_dumping_creating_and_pruning(tmp_path: Path) -> None:
    d = desired("web2")
    script = tmp_path / "job"
    script.write_text(d.job)
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    assert "dump mariadb bookings /var/backups/dagsync/databases/mariadb-bookings.sql" in d.job
    assert "borg prune --glob-archives 'web2-*' --keep-daily 7" in d.job
    assert "--exclude /srv/dev-space" in d.job  # not requested
    assert "export BORG_REPO=ssh://borg@10.0.0.5:2222/srv/borg/lac-bleu/web2" in d.job
    assert (
        "-p 2222" in d.job and "UserKnownHostsFile=/root/.config/dagsync/borg-known_hosts" in d.job
    )
    assert "mysqldump --single-transaction" in d.job


def test_job_without_databases_dumps_nothing() -> None:
    assert "dump " not in desired("web1").job.split("}\n", 2)[-1]
    assert "--keep-daily 3" in desired("web1").job


def test_dev_space_is_backed_up_only_when_the_scope_asks_for_it() -> None:
    required, _, excluded = job.scope_paths(
        [BackupScope.FILES, BackupScope.DEV_SPACE], ["/srv/a"], True
    )
    assert job.DEV_SPACE_PATH in required and job.DEV_SPACE_PATH not in excluded
    required, _, excluded = job.scope_paths([BackupScope.FILES], ["/srv/a"], True)
    assert job.DEV_SPACE_PATH not in required and job.DEV_SPACE_PATH in excluded


def test_system_scope_takes_the_configuration_only_when_present() -> None:
    required, optional, _ = job.scope_paths([BackupScope.SYSTEM], [], False)
    assert required == () and "/etc" in optional and "/usr/local" not in optional


def test_cron_runs_the_job_at_the_declared_time() -> None:
    daily = job.render_cron("c/s", "02:45", Frequency.DAILY)
    assert f"45 2 * * * root {job.JOB_FILE} >>{job.LOG_FILE} 2>&1" in daily
    weekly = job.render_cron("c/s", "01:05", Frequency.WEEKLY)
    assert f"5 1 * * 0 root {job.JOB_FILE}" in weekly


def test_weekly_retention_keeps_weeks() -> None:
    assert Retention(Frequency.WEEKLY, 30).prune_args() == ("--keep-weekly", "5")
    assert Retention(Frequency.DAILY, 7).prune_args() == ("--keep-daily", "7")


def test_storage_key_line_restricts_to_one_repository() -> None:
    line = job.restricted_key_line("/srv/borg/c/s", "ssh-ed25519 AAAAxyz old-comment", "c/s")
    assert line == (
        'command="borg serve --restrict-to-repository /srv/borg/c/s",restrict '
        "ssh-ed25519 AAAAxyz dagsync-borg c/s"
    )
    assert job.restricted_path(line) == "/srv/borg/c/s"
    assert job.restricted_path("ssh-ed25519 AAAAxyz someone") is None
    with pytest.raises(ValueError):
        job.restricted_key_line('/srv/"x', "ssh-ed25519 AAAA", "c/s")


def test_known_hosts_pins_the_storage_on_its_port() -> None:
    assert (
        job.known_hosts_line("10.0.0.5", 2222, "ssh-ed25519 AAAA c")
        == "[10.0.0.5]:2222 ssh-ed25519 AAAA\n"
    )
    assert job.known_hosts_line("10.0.0.5", 22, "ssh-ed25519 AAAA") == "10.0.0.5 ssh-ed25519 AAAA\n"


# --- borg output ---------------------------------------------------------------------------


def test_borg_list_json_is_read_in_the_server_local_time() -> None:
    archives = parse_list((DATA / "borg-list.json").read_text(), parse_offset("+0100"))
    assert archives[0].name == "web1-2026-11-20T01-00-00"
    assert archives[0].time == dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)
    assert len(archives) == 4


def test_borg_info_json_gives_sizes() -> None:
    [stats] = parse_info((DATA / "borg-info.json").read_text())
    assert stats.nfiles == 1 and stats.original_size > 0


@pytest.mark.parametrize("text", ["not json", "[]", '{"archives": [{"time": "x"}]}'])
def test_unexpected_borg_output_is_an_error(text: str) -> None:
    with pytest.raises(BorgOutputError):
        parse_list(text)


def test_offset_must_look_like_date_z() -> None:
    with pytest.raises(BorgOutputError):
        parse_offset("UTC")


# --- retention -----------------------------------------------------------------------------


def test_prune_keeps_the_newest_archive_of_each_of_the_newest_days() -> None:
    archives = parse_list((DATA / "borg-list.json").read_text())
    kept = kept_by_prune(archives, Retention(Frequency.DAILY, 2))
    assert [a.name for a in kept] == ["web1-2026-11-21T13-00-00", "web1-2026-11-22T01-00-00"]
    check = check_retention(archives, Retention(Frequency.DAILY, 2))
    assert not check.ok and len(check.extra) == 2
    assert "beyond the retention" in check.describe()
    assert check_retention(kept, Retention(Frequency.DAILY, 2)).ok


def test_freshness_limit_is_26_hours() -> None:
    archives = parse_list((DATA / "borg-list.json").read_text())  # newest 2026-11-22 01:00
    assert freshness(archives, dt.datetime(2026, 11, 23, 2, 59, tzinfo=dt.UTC), Frequency.DAILY).ok
    late = freshness(archives, dt.datetime(2026, 11, 23, 3, 1, tzinfo=dt.UTC), Frequency.DAILY)
    assert not late.ok and "TOO OLD" in late.describe()
    assert not freshness((), NOW, Frequency.DAILY).ok


# --- server diff ---------------------------------------------------------------------------


def test_a_conforming_server_has_no_change() -> None:
    d = desired()
    assert res.diff(d, conforming(d), storage_with(d.repo_path), ESCROWED, NOW) == []


def test_a_new_server_gets_keys_repository_escrow_job_and_cron() -> None:
    d = desired()
    empty = res.BackupObserved(None, None, None, None, None, None)
    items = res.diff(d, empty, storage_with(), res.EscrowState("/vault", None), NOW)
    assert [i.resource for i in items if isinstance(i, Change)] == [
        "passphrase",
        "ssh key",
        "known_hosts",
        "repository",
        "escrow",
        "job script",
        "cron",
    ]
    assert not [i for i in items if isinstance(i, Note)]


def test_a_lost_passphrase_is_never_regenerated_over_an_existing_repository() -> None:
    d = desired()
    items = res.diff(
        d, conforming(d, passphrase_sha256=None), storage_with(d.repo_path), ESCROWED, NOW
    )
    assert not any(
        isinstance(i, Change) and i.resource in ("passphrase", "repository", "escrow")
        for i in items
    )
    assert any(isinstance(i, Note) and "restore it from the escrow" in i.text for i in items)


def test_no_repository_is_initialised_when_the_passphrase_cannot_be_escrowed() -> None:
    d = desired()
    items = res.diff(d, conforming(d), storage_with(), res.EscrowState(None, None), NOW)
    assert not any(isinstance(i, Change) and i.resource == "repository" for i in items)
    assert any(isinstance(i, Note) and "could not be escrowed" in i.text for i in items)


def test_an_unreadable_storage_never_leads_to_an_init() -> None:
    d = desired()
    items = res.diff(d, conforming(d), Unknown("timeout"), ESCROWED, NOW)
    assert [i for i in items if isinstance(i, Change)] == []


def test_a_missing_or_different_escrow_copy_is_planned() -> None:
    d = desired()
    items = res.diff(
        d, conforming(d), storage_with(d.repo_path), res.EscrowState("/v", "cd" * 32), NOW
    )
    assert [(i.resource, i.action.value) for i in items if isinstance(i, Change)] == [
        ("escrow", "update")
    ]


def test_a_drifted_job_script_is_rewritten() -> None:
    d = desired()
    items = res.diff(
        d, conforming(d, job_sha256="00" * 32), storage_with(d.repo_path), ESCROWED, NOW
    )
    [change] = [i for i in items if isinstance(i, Change)]
    assert change.resource == "job script" and change.payload["content"] == d.job


def test_an_old_last_backup_is_a_note_in_the_plan() -> None:
    d = desired()
    old = res.LastBackup("web2-old", NOW - dt.timedelta(hours=27))
    items = res.diff(d, conforming(d, last=old), storage_with(d.repo_path), ESCROWED, NOW)
    [note] = items
    assert (
        isinstance(note, Note) and "last backup too old" in note.text and "27.0 h ago" in note.text
    )


def test_server_facts_are_parsed_from_recorded_output() -> None:
    out = (
        "passphrase\t" + "ab" * 32 + "\npubkey\tssh-ed25519 AAAAkey dagsync-borg c/s\n"
        "job\t" + "01" * 32 + '\nstatus\t{"archive": "web1-2026", "time": "2026-11-22T01:00:00Z", '
        '"finished": "2026-11-22T01:00:09Z", "exit": 0}\n'
    )
    observed = res.parse(CommandResult(0, out, ""))
    assert isinstance(observed, res.BackupObserved)
    assert observed.public_key == "ssh-ed25519 AAAAkey" and observed.cron_sha256 is None
    assert observed.last == res.LastBackup("web1-2026", dt.datetime(2026, 11, 22, 1, tzinfo=dt.UTC))
    assert isinstance(res.parse(CommandResult(1, "", "denied")), Unknown)
    assert "cat /root/.config/dagsync/borg-passphrase" not in res.read(desired())


# --- storage -------------------------------------------------------------------------------


def test_storage_keys_are_rendered_whole_and_unrestricted_keys_removed() -> None:
    line1 = job.restricted_key_line(
        "/srv/borg/lac-bleu/web1", "ssh-ed25519 AAAAone", "lac-bleu/web1"
    )
    stranger = "ssh-ed25519 AAAAstranger someone@laptop"
    observed = StorageObserved("/srv/borg", (line1, stranger), ())
    wanted = storage_desired(
        STORAGE, {"lac-bleu/web1": "ssh-ed25519 AAAAone", "lac-bleu/web2": None}
    )
    [change] = storage_diff(wanted, observed)
    signs = [(d.sign, d.text) for d in change.details]
    assert ("+", "key for /srv/borg/lac-bleu/web2 (generated by this apply)") in signs
    assert any(s == "-" and "unrestricted key" in t for s, t in signs)
    assert change.payload["lines"] == [line1]


def test_storage_keeps_lines_it_was_told_to_keep() -> None:
    other = job.restricted_key_line("/srv/borg/x/y", "ssh-ed25519 AAAAother", "x/y")
    wanted = storage_desired(STORAGE, {"lac-bleu/web1": "ssh-ed25519 AAAAone"}, [other])
    assert other in wanted.lines and len(wanted.lines) == 2
    observed = StorageObserved("/srv/borg", wanted.lines, ())
    assert storage_diff(wanted, observed) == []


def test_storage_facts_are_parsed() -> None:
    out = "home\t/srv/borg\nkey\t# header\nkey\tssh-ed25519 AAAA x\nrepo\t/srv/borg/c/s\n"
    observed = storage_parse(CommandResult(0, out, ""))
    assert observed == StorageObserved("/srv/borg", ("ssh-ed25519 AAAA x",), ("/srv/borg/c/s",))


# --- escrow --------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["file:/srv/escrow", "file:///srv/escrow", "/srv/escrow"])
def test_escrow_folders(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(escrow.ESCROW_ENV, raising=False)
    assert escrow.resolve(spec).folder == Path("/srv/escrow")


def test_unsupported_escrow_and_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(escrow.ESCROW_ENV, raising=False)
    assert not escrow.resolve("vault://dagsync/borg").supported
    monkeypatch.setenv(escrow.ESCROW_ENV, "/tmp/e")
    assert escrow.resolve("vault://dagsync/borg").folder == Path("/tmp/e")


def test_escrow_inside_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(escrow.ESCROW_ENV, raising=False)
    with pytest.raises(escrow.EscrowError, match="inside the configuration repository"):
        escrow.resolve(f"file:{tmp_path}/keys", tmp_path)


def test_escrow_copy_is_private_and_readable_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(escrow.ESCROW_ENV, raising=False)
    where = escrow.resolve(str(tmp_path / "escrow"))
    path = escrow.write(where, "c/s", "ssh://r", "secret\n", "BORG_KEY x\n")
    assert path == tmp_path / "escrow" / "c" / "s.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "escrow").stat().st_mode & 0o777 == 0o700
    assert json.loads(path.read_text())["passphrase"] == "secret"
    assert escrow.escrowed_digest(where, "c/s") == escrow.digest("secret")
    assert escrow.escrowed_digest(where, "c/other") is None


def test_secrets_output_is_split_into_passphrase_and_key() -> None:
    assert split_secrets("pass\n@@borg-key@@\nBORG_KEY abc\nxyz") == (
        "pass",
        "BORG_KEY abc\nxyz\n",
    )
    with pytest.raises(ValueError):
        split_secrets("pass\n")
