"""The `os` resource's pure parts: the model's package syntax, the parsers of os-release,
dpkg-query and `apt-get -s`, the diff (mismatch, announced upgrade, packages, files, notes),
the apply scripts and the observer's entry for its read."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from pydantic import ValidationError

from dagsync.model.system import OperatingSystem, Prerequisite
from dagsync.reconcile import observer_reads
from dagsync.reconcile.appstack import apt, system
from dagsync.reconcile.core import Action, Change, DiffOptions, DiffRefused, Note, Unknown
from dagsync.reconcile.resource import CommandResult

FILES = tuple(sorted(apt.conf_files().items()))


def want(**changes: Any) -> system.OsDesired:
    base: dict[str, Any] = {
        "name": "debian",
        "version": "12",
        "upgrade_from": None,
        "request": None,
        "request_summary": None,
        "prerequisites": (("php8.2-fpm", "8.2.7-1~deb12u1"), ("redis-server", None)),
        "files": FILES,
    }
    return system.OsDesired(**{**base, **changes})


def seen(**changes: Any) -> system.OsObserved:
    digest = {path: apt_sha(text) for path, text in FILES}
    base: dict[str, Any] = {
        "distribution": "debian",
        "major": "12",
        "files": tuple((path, digest[path], True) for path in digest),
        "packages": (
            apt.Package("php8.2-fpm", "8.2.7-1~deb12u1", True, True),
            apt.Package("redis-server", "5:7.0.15-1~deb12u1", True, True),
            apt.Package("unattended-upgrades", "2.9.1+nmu3", True, False),
        ),
        "pending": (),
        "kept_back": (),
        "lists": "2026-12-07",
    }
    return system.OsObserved(**{**base, **changes})


def apt_sha(text: str) -> str:
    return system.apt_digest(text)


def summaries(items: list[Change | Note]) -> list[str]:
    return [i.summary if isinstance(i, Change) else f"note: {i.text}" for i in items]


# --- model ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["g++", "php8.2-fpm", "libstdc++6", "0ad", "python3.11"])
def test_debian_package_names_are_accepted(name: str) -> None:
    assert Prerequisite(package=name).package == name


@pytest.mark.parametrize(
    "name", ["nginx-", "-oAPT::x", "?installed", "~nginx", "lib*", "Nginx", "a", "x.", "a b"]
)
def test_names_apt_would_read_as_an_action_option_pattern_or_glob_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        Prerequisite(package=name)


@pytest.mark.parametrize("version", ["1.0", "1:2.3-1~deb12u1", "8.2.7-1~deb12u1", "2.9.1+nmu3"])
def test_exact_debian_versions_are_accepted(version: str) -> None:
    assert Prerequisite(package="redis", version=version).version == version


@pytest.mark.parametrize("version", ["1.2*", "1.0/bookworm", "abc", "1.0 ", "-1", "1:", ""])
def test_globs_releases_and_non_versions_are_refused(version: str) -> None:
    with pytest.raises(ValidationError):
        Prerequisite(package="redis", version=version)


def test_an_upgrade_goes_to_a_higher_known_major_version() -> None:
    assert OperatingSystem(name="debian", version="13", upgrade_from="12").upgrade_from == "12"
    for version, source in (("12", "12"), ("12", "13"), ("99", "12")):
        with pytest.raises(ValidationError):
            OperatingSystem(name="debian", version=version, upgrade_from=source)
    with pytest.raises(ValidationError):
        OperatingSystem(name="ubuntu", version="24")  # type: ignore[arg-type]


# --- parsers -------------------------------------------------------------------------------


def test_os_release_gives_the_id_and_the_major_version() -> None:
    assert apt.os_release(['version\t"12"', "id\tdebian"]) == ("debian", "12")
    assert apt.os_release(["id\tdebian", "version\t'11.9'"]) == ("debian", "11")
    assert apt.os_release(["id\tdebian"]) is None
    assert apt.os_release(["id\tdeb ian", "version\t12"]) is None


def test_dpkg_status_gives_installed_versions_and_holds() -> None:
    found = apt.packages(["a\t1.0-1\thi ", "b\t2.0\tii ", "c\t\tun ", "d\t3.0\trc "])
    assert found is not None
    assert found["a"] == apt.Package("a", "1.0-1", True, True)
    assert found["b"] == apt.Package("b", "2.0", True, False)
    assert not found["c"].installed and not found["d"].installed and found["d"].version == ""
    assert apt.packages(["garbage"]) is None


LISTING = """Listing...
libpam0g/oldstable-security 1.5.2-6+deb12u3 amd64 [upgradable from: 1.5.2-6+deb12u1]
sed/oldstable 4.9-1+deb12u1 amd64 [upgradable from: 4.9-1]
libfoo:i386/oldstable,oldstable-security 1.1 i386 [upgradable from: 1.0]
"""


def test_the_upgradable_listing_gives_each_update_and_whether_it_is_a_security_one() -> None:
    found = apt.upgradable(LISTING.splitlines())
    assert found is not None
    assert [(p.package, p.installed, p.candidate, p.security) for p in found] == [
        ("libpam0g", "1.5.2-6+deb12u1", "1.5.2-6+deb12u3", True),
        ("sed", "4.9-1", "4.9-1+deb12u1", False),
        ("libfoo:i386", "1.0", "1.1", True),
    ]
    assert apt.upgradable(["WARNING: something else"]) is None


def test_held_upgradable_packages_are_kept_back_not_pending() -> None:
    text = "id\tdebian\nversion\t12\n" + "\n".join(system.SECTIONS) + "\n"
    text = text.replace("--- upgrades\n", "--- upgrades\n" + LISTING)
    text = text.replace("--- holds\n", "--- holds\nsed\n")
    observed = system.parse(CommandResult(0, text, ""))
    assert isinstance(observed, system.OsObserved)
    assert [p.package for p in observed.pending or ()] == ["libpam0g", "libfoo:i386"]
    assert observed.kept_back == ("sed",)


def test_a_read_that_did_not_end_or_names_no_os_is_unknown() -> None:
    good = "id\tdebian\nversion\t12\n" + "\n".join(system.SECTIONS) + "\n"
    assert isinstance(system.parse(CommandResult(0, good, "")), system.OsObserved)
    assert isinstance(system.parse(CommandResult(0, good.replace("--- end\n", ""), "")), Unknown)
    assert isinstance(system.parse(CommandResult(0, good.replace("id\tdebian\n", ""), "")), Unknown)
    assert isinstance(system.parse(CommandResult(1, good, "boom")), Unknown)
    failed = good.replace("--- upgrades\n", "--- upgrades\ndagsync: apt failed\n")
    observed = system.parse(CommandResult(0, failed, ""))
    assert isinstance(observed, system.OsObserved) and observed.pending is None
    notes = system.diff(want(prerequisites=()), observed, DiffOptions())
    assert "note: pending updates unknown: apt list --upgradable failed" in summaries(notes)


# --- diff ----------------------------------------------------------------------------------


def test_a_conforming_server_has_no_change() -> None:
    assert system.diff(want(), seen(), DiffOptions()) == []


def test_another_distribution_or_major_version_fails_the_plan_and_is_never_an_upgrade() -> None:
    with pytest.raises(DiffRefused, match="runs debian 11, its YAML declares debian 12"):
        system.diff(want(), seen(major="11"), DiffOptions())
    with pytest.raises(DiffRefused, match="runs ubuntu 12"):
        system.diff(want(), seen(distribution="ubuntu"), DiffOptions())
    with pytest.raises(DiffRefused):  # announced from 11, but the server runs 10
        system.diff(want(version="12", upgrade_from="11"), seen(major="10"), DiffOptions())


def test_an_announced_upgrade_is_one_change_naming_its_request_and_none_without_one() -> None:
    upgrade = want(version="13", upgrade_from="12", request="REQ-2026-004", request_summary="Go")
    items = system.diff(upgrade, seen(), DiffOptions())
    assert summaries(items) == ["major upgrade debian 12 -> 13 (request REQ-2026-004: Go)"]
    change = items[0]
    assert isinstance(change, Change)
    assert change.payload == {
        "op": "major-upgrade",
        "from": "bookworm",
        "to": "trixie",
        "version": "13",
    }
    with pytest.raises(DiffRefused, match="cites no client request"):
        system.diff(want(version="13", upgrade_from="12"), seen(), DiffOptions())
    done = system.diff(upgrade, seen(major="13"), DiffOptions())
    assert summaries(done) == [
        "note: runs debian 13: the major upgrade is done, remove `upgrade_from`"
    ]


def test_missing_pinned_unheld_packages_each_get_their_change() -> None:
    observed = seen(
        packages=(
            apt.Package("php8.2-fpm", "8.2.7-1~deb12u0", True, True),
            apt.Package("redis-server", "5:7.0.15-1~deb12u1", True, False),
        )
    )
    items = system.diff(want(), observed, DiffOptions())
    assert summaries(items) == [
        "install unattended-upgrades",
        "pin php8.2-fpm 8.2.7-1~deb12u0 -> 8.2.7-1~deb12u1 and hold it",
        "hold redis-server",
    ]
    assert [c.action for c in items if isinstance(c, Change)] == [
        Action.CREATE,
        Action.UPDATE,
        Action.UPDATE,
    ]


def test_dagsyncs_apt_files_are_written_and_a_foreign_one_is_left_alone() -> None:
    periodic, origins = (path for path, _ in FILES)
    observed = seen(files=((periodic, "0" * 64, True), (origins, "1" * 64, False)))
    assert summaries(system.diff(want(), observed, DiffOptions())) == [
        f"rewrite {periodic}",
        f"note: {origins} was not written by dagsync: left alone",
    ]
    assert summaries(system.diff(want(), seen(files=()), DiffOptions())) == [
        f"write {periodic}",
        f"write {origins}",
    ]


def test_pending_security_updates_and_held_back_upgrades_are_notes_not_changes() -> None:
    pending = (
        apt.Pending("libpam0g", "1.0", "1.1", True),
        apt.Pending("sed", "4.9-1", "4.9-2", False),
    )
    items = system.diff(want(), seen(pending=pending, kept_back=("php8.2-fpm",)), DiffOptions())
    assert summaries(items) == [
        "note: 1 pending security update(s) (package lists of 2026-12-07): libpam0g 1.0 -> 1.1",
        "note: upgrades held back (package lists of 2026-12-07): php8.2-fpm (held)",
    ]
    assert system.encode(seen(pending=pending)) == system.encode(seen())


def test_only_security_origins_are_allowed_after_clearing_debians() -> None:
    text = apt.origins_text()
    assert text.index("#clear Unattended-Upgrade::Origins-Pattern;") < text.index(
        "Unattended-Upgrade::Origins-Pattern {"
    )
    patterns = [line.strip() for line in text.splitlines() if line.strip().startswith('"origin=')]
    assert patterns and all("label=Debian-Security" in p for p in patterns)


# --- apply scripts -------------------------------------------------------------------------


def _package_change(name: str, version: str | None, install: bool, hold: bool = True) -> Change:
    payload = {
        "op": "package",
        "package": name,
        "version": version,
        "hold": hold,
        "install": install,
    }
    return Change(system.KIND, Action.CREATE, f"package {name}", "", (), payload)


def test_the_install_script_checks_exact_names_pins_versions_and_holds() -> None:
    script = system.packages_script(
        [_package_change("php8.2-fpm", "8.2.7-1~deb12u1", True), _package_change("g++", None, True)]
    )
    assert "grep -qxF -- php8.2-fpm" in script and "grep -qxF -- g++" in script
    install = next(line for line in script.splitlines() if line.startswith("apt-get install"))
    assert shlex.split(install)[-3:] == ["--", "php8.2-fpm=8.2.7-1~deb12u1", "g++"]
    assert "apt-mark hold -- php8.2-fpm g++" in script


def test_holding_alone_does_not_touch_the_package_lists() -> None:
    script = system.packages_script([_package_change("redis-server", None, False)])
    assert "apt-get" not in script and "apt-mark hold -- redis-server" in script


def test_the_upgrade_script_refuses_unknown_codenames() -> None:
    script = system.upgrade_script({"from": "bookworm", "to": "trixie", "version": "13"})
    assert "s/\\bbookworm(-security|-updates|-backports)?\\b/trixie\\1/g" in script
    with pytest.raises(ValueError):
        system.upgrade_script({"from": "bookworm;rm", "to": "trixie", "version": "13"})


def test_the_observer_runs_the_os_read_of_any_declared_packages() -> None:
    command = system.read(want())
    request = observer_reads.request_for(command)
    assert shlex.split(request) == ["os", "php8.2-fpm redis-server unattended-upgrades"]
    assert observer_reads.table()["os"].render(shlex.split(request)[1:]) == command
    with pytest.raises(ValueError):
        observer_reads.table()["os"].render(["x; reboot"])
