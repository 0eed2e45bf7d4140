"""The `os` resource on a test host: prerequisites installed from a local apt repository the
test builds (dummy packages of no files, served from a `file:` source of the host's own
/etc/apt; nothing reaches a network), held, unattended-upgrades configured for security
origins only, pending security updates and held-back upgrades noted (identically for the
observer key), and a distribution that is not the declared one failing the plan."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import read_yaml, write_yaml
from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.reconcile.appstack import apt
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
)
from dagsync.reconcile.transport.session import OBSERVER_ENV
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import testhosts
from dagsync.testing.hosts.network import unique_network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-appstack-os")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("aos")
CLIENT = "alpine-books"
SHOP = f"clients/{CLIENT}/servers/shop1.yaml"
APP, LIB, TOOL = "dagsync-test-app", "dagsync-test-lib", "dagsync-test-tool"


@dataclass
class World:
    host: TestHost
    root: Path  # the repository
    hosts_file: Path
    observer_file: Path
    repos: Path  # the apt repositories, under the host's state folder (seen inside the host)


def _deb(folder: Path, name: str, version: str) -> None:
    src = folder / f"{name}_{version}"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: dagsync tests <tests@dagsync.invalid>\n"
        "Description: a dummy package of no files, for dagsync's tests\n"
    )
    subprocess.run(
        [
            "dpkg-deb",
            "--root-owner-group",
            "--build",
            str(src),
            str(folder / f"{name}_{version}.deb"),
        ],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(src)


def _repository(folder: Path, label: str, suite: str, debs: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True)
    for name, version in debs:
        _deb(folder, name, version)
    packages = subprocess.run(
        ["apt-ftparchive", "packages", "."], cwd=folder, check=True, capture_output=True
    ).stdout
    (folder / "Packages").write_bytes(packages)
    fields = {"Origin": "Debian", "Label": label, "Suite": suite, "Codename": suite}
    options = [f"-oAPT::FTPArchive::Release::{k}={v}" for k, v in fields.items()]
    release = subprocess.run(
        ["apt-ftparchive", *options, "release", "."], cwd=folder, check=True, capture_output=True
    ).stdout
    (folder / "Release").write_bytes(release)


def _sources(w: World, *names: str) -> None:
    """The host's only apt sources: these local repositories; then its package lists."""
    lines = "".join(f"deb [trusted=yes] file:{w.repos / n} ./\n" for n in names)
    w.host.run(
        "rm -f /etc/apt/sources.list.d/* && : > /etc/apt/sources.list && "
        f"printf '%s' '{lines}' > /etc/apt/sources.list.d/dagsync-test.list && "
        "apt-get update -q >/dev/null 2>&1",
        check=True,
    )


def _set_os(w: World, **os: Any) -> None:
    shop = w.root / SHOP
    data = read_yaml(shop)
    data["os"] = {"name": "debian", "version": "12", **os}
    write_yaml(shop, data)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := skip_reason():
        pytest.skip(reason)
    if not all(shutil.which(t) for t in ("apt-ftparchive", "dpkg-deb", "unattended-upgrade")):
        pytest.skip("apt-utils and unattended-upgrades (Debian packages) are needed")
    base = tmp_path_factory.mktemp("appstack-os")
    with pytest.MonkeyPatch.context() as mp:
        for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV, OBSERVER_ENV):
            mp.delenv(var, raising=False)
        mp.setenv(SANDBOX_ENV, "1")
        with testhosts(names=("shop1",), state_dir=base / "th", network=NET) as lab:
            host = lab["shop1"]
            root = base / "repo"
            for folder in ("policies", "schemas"):
                shutil.copytree(REPO / folder, root / folder)
            shutil.copytree(REPO / f"clients/{CLIENT}", root / f"clients/{CLIENT}")
            repos = host.root / "apt"
            old = [(APP, "1.0-1"), (LIB, "1.0-1"), (TOOL, "1.0-1")]
            _repository(repos / "main", "Debian", "bookworm", old)
            # a point release: Debian's own 50unattended-upgrades allows it, dagsync's does not
            _repository(repos / "point", "Debian", "bookworm", [(TOOL, "1.1-1")])
            _repository(
                repos / "security",
                "Debian-Security",
                "bookworm-security",
                [(APP, "1.1-1"), (LIB, "1.1-1")],
            )
            key = base / "observer_ed25519"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                check=True,
                capture_output=True,
            )
            public = " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])
            where = {"address": host.address, "port": 22, "host_key": host.host_key_public}
            overrides = {
                "version": 1,
                "hosts": {f"{CLIENT}/shop1": where},
                "ssh_key": str(lab.client_key),
                "observer": {"key": public, "ssh_key": str(key)},
            }
            (root / ".dagsync-sandbox").mkdir()
            hosts_file = root / ".dagsync-sandbox/hosts.json"
            hosts_file.write_text(json.dumps(overrides))
            observer_file = hosts_file.with_name("observer-hosts.json")
            observer_file.write_text(json.dumps({**overrides, "ssh_key": str(key)}))
            w = World(host, root, hosts_file, observer_file, repos)
            _sources(w, "main")
            _set_os(w, prerequisites=[{"package": APP, "version": "1.0-1"}])
            yield w


def scope(w: World, kinds: tuple[str, ...] = ("os",)) -> Scope:
    return Scope(w.root, servers=("shop1",), kinds=kinds, connect_timeout=3.0)


def plan_json(w: World, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = run_plan(scope(w), "json", detailed_exitcode=True)
    return code, json.loads(capsys.readouterr().out)


def changes_of(plan: Any) -> list[str]:
    return [c["summary"] for t in plan["targets"] for c in t.get("changes", [])]


def notes_of(plan: Any) -> list[str]:
    return [n["text"] for t in plan["targets"] for n in t.get("notes", [])]


def errors_of(plan: Any) -> list[str]:
    return [t["error"] for t in plan["targets"] if t.get("error")]


def status(w: World, name: str) -> str:
    return w.host.run(f"dpkg-query -W -f='${{Version}} ${{db:Status-Abbrev}}' {name}").stdout


@pytest.fixture(scope="module")
def converged(world: World) -> World:
    assert run_apply(scope(world), yes=True, record=False) == 0
    return world


def test_a_prerequisite_is_installed_at_its_pinned_version_and_held(converged: World) -> None:
    w = converged
    assert status(w, APP) == "1.0-1 hi "
    assert w.host.run("apt-mark showhold", check=True).stdout.split() == [APP]


def test_unattended_upgrades_is_configured_for_security_origins_only(converged: World) -> None:
    w = converged
    for path, text in apt.conf_files().items():
        assert w.host.run(f"cat {path}", check=True).stdout == text
    dump = w.host.run("apt-config dump Unattended-Upgrade", check=True).stdout
    origins = [line for line in dump.splitlines() if "Origins-Pattern::" in line]
    allowed = [line for line in dump.splitlines() if "Allowed-Origins::" in line]
    assert allowed == []
    assert len(origins) == 2 and all("label=Debian-Security" in line for line in origins)
    periodic = w.host.run("apt-config dump APT::Periodic", check=True).stdout
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic


def test_pending_security_updates_and_held_back_upgrades_are_noted_and_nothing_changes(
    converged: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = converged
    w.host.run(f"apt-get install -y -q {LIB}=1.0-1 >/dev/null 2>&1", check=True)
    _sources(w, "main", "security")
    code, plan = plan_json(w, capsys)
    assert code == 0 and changes_of(plan) == [] and errors_of(plan) == []
    notes = notes_of(plan)
    assert any(
        "1 pending security update(s)" in n and f"{LIB} 1.0-1 -> 1.1-1" in n for n in notes
    ), notes
    assert any("upgrades held back" in n and f"{APP} (held)" in n for n in notes), notes
    assert run_apply(scope(w), yes=True, record=False) == 0
    assert status(w, APP) == "1.0-1 hi "
    # the observer key: the same plan, read through the forced command
    assert run_apply(scope(w, ("observer",)), yes=True, record=False) == 0
    _, as_root = plan_json(w, capsys)
    monkeypatch.setenv(HOSTS_FILE_ENV, str(w.observer_file))
    monkeypatch.setenv(OBSERVER_ENV, "1")
    _, as_observer = plan_json(w, capsys)
    for plan in (as_root, as_observer):
        plan.pop("created_at", None)
        plan.pop("overrides", None)
    assert as_observer == as_root


def test_unattended_upgrades_installs_the_security_update_only_and_not_the_held_package(
    converged: World,
) -> None:
    w = converged
    w.host.run(f"apt-get install -y -q {LIB}=1.0-1 {TOOL}=1.0-1 >/dev/null 2>&1", check=True)
    _sources(w, "main", "security", "point")
    run = w.host.run("unattended-upgrade -d 2>&1", timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    assert status(w, LIB) == "1.1-1 ii "  # Debian-Security: applied
    assert status(w, TOOL) == "1.0-1 ii "  # a point release: not a security origin
    assert status(w, APP) == "1.0-1 hi "  # held prerequisite, though its update is security


def test_a_file_at_dagsyncs_path_that_dagsync_did_not_write_is_left_alone(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    original = w.host.run(f"cat {apt.ORIGINS_FILE}", check=True).stdout
    w.host.run(f"echo '// by hand' > {apt.ORIGINS_FILE}", check=True)
    try:
        code, plan = plan_json(w, capsys)
        assert code == 0 and changes_of(plan) == []
        assert f"{apt.ORIGINS_FILE} was not written by dagsync: left alone" in notes_of(plan)
    finally:
        w.host.run(f"printf '%s' {shlex.quote(original)} > {apt.ORIGINS_FILE}", check=True)


def test_another_major_version_than_declared_fails_the_plan_and_an_announced_upgrade_is_shown(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    shop = w.root / SHOP
    saved = shop.read_text()
    try:
        _set_os(w, version="13")
        code, plan = plan_json(w, capsys)
        assert code != 0 and changes_of(plan) == []
        assert any("runs debian 12, its YAML declares debian 13" in e for e in errors_of(plan))
        capsys.readouterr()
        assert run_apply(scope(w), yes=True, record=False) != 0
        assert "its YAML declares debian 13" in capsys.readouterr().out
        _set_os(w, version="13", upgrade_from="12", request="REQ-2025-001")
        code, plan = plan_json(w, capsys)
        assert errors_of(plan) == []
        assert changes_of(plan) == [
            "major upgrade debian 12 -> 13 (request REQ-2025-001: Initial set-up of the shop "
            "server www.alpine-books.example.)"
        ]
    finally:
        shop.write_text(saved)


def test_a_name_apt_would_match_as_a_regular_expression_installs_nothing(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    shop = w.root / SHOP
    saved = shop.read_text()
    regex = APP.replace("-app", ".app")  # apt-get install reads it as a regex matching APP
    before = w.host.run("dpkg-query -W -f='${Package} ${Version}\\n'", check=True).stdout
    try:
        _set_os(w, prerequisites=[{"package": APP, "version": "1.0-1"}, {"package": regex}])
        capsys.readouterr()
        assert run_apply(scope(w), yes=True, record=False) != 0
        assert f"no package named {regex} in the package lists" in capsys.readouterr().out
    finally:
        shop.write_text(saved)
    assert w.host.run("dpkg-query -W -f='${Package} ${Version}\\n'", check=True).stdout == before
    assert w.host.run("apt-mark showhold", check=True).stdout.split() == [APP]


def _suite(folder: Path, suite: str, name: str, version: str, postinst: str = "") -> None:
    """dists/<suite>/main of a repository with one package (a release-marker package whose
    postinst may stand for base-files' new /etc/os-release)."""
    pool = folder / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    src = pool / f"{name}_{version}"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: dagsync tests <tests@dagsync.invalid>\nDescription: a release marker\n"
    )
    if postinst:
        (src / "DEBIAN/postinst").write_text(f"#!/bin/sh\nset -e\n{postinst}\n")
        (src / "DEBIAN/postinst").chmod(0o755)
    deb = pool / f"{name}_{version}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(src), str(deb)], check=True)
    shutil.rmtree(src)
    binary = folder / "dists" / suite / "main/binary-all"
    binary.mkdir(parents=True)
    packages = subprocess.run(
        ["apt-ftparchive", "packages", f"pool/{deb.name}"],
        cwd=folder,
        check=True,
        capture_output=True,
    ).stdout
    (binary / "Packages").write_bytes(packages)
    fields = {"Origin": "Debian", "Label": "Debian", "Suite": suite, "Codename": suite}
    options = [f"-oAPT::FTPArchive::Release::{k}={v}" for k, v in fields.items()]
    options.append("-oAPT::FTPArchive::Release::Components=main")
    release = subprocess.run(
        ["apt-ftparchive", *options, "release", "."],
        cwd=folder / "dists" / suite,
        check=True,
        capture_output=True,
    ).stdout
    (folder / "dists" / suite / "Release").write_bytes(release)


def test_an_announced_major_upgrade_switches_the_sources_upgrades_and_keeps_holds(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    marker = "dagsync-test-release"
    dist = w.repos / "dist"
    _suite(dist, "bookworm", marker, "12")
    new_release = (
        "rm -f /etc/os-release; printf 'ID=debian\\nVERSION_ID=\"13\"\\n' > /etc/os-release"
    )
    _suite(dist, "trixie", marker, "13", postinst=new_release)
    _sources(w, "main", "security")
    w.host.run(
        f"echo 'deb [trusted=yes] file:{dist} bookworm main' >> "
        "/etc/apt/sources.list.d/dagsync-test.list && apt-get update -q >/dev/null 2>&1 && "
        f"apt-get install -y -q {marker} >/dev/null 2>&1",
        check=True,
    )
    shop = w.root / SHOP
    saved = shop.read_text()
    try:
        _set_os(
            w,
            version="13",
            upgrade_from="12",
            request="REQ-2025-001",
            prerequisites=[{"package": APP, "version": "1.0-1"}],
        )
        assert run_apply(scope(w), yes=True, record=False) == 0
        assert 'VERSION_ID="13"' in w.host.run("cat /etc/os-release", check=True).stdout
        sources = w.host.run("cat /etc/apt/sources.list.d/dagsync-test.list", check=True).stdout
        assert f"file:{dist} trixie main" in sources and "bookworm" not in sources
        assert status(w, marker) == "13 ii "
        assert status(w, APP) == "1.0-1 hi "
        code, plan = plan_json(w, capsys)
        assert code == 0 and changes_of(plan) == [] and errors_of(plan) == []
        assert "runs debian 13: the major upgrade is done, remove `upgrade_from`" in notes_of(plan)
    finally:
        shop.write_text(saved)
