"""Who reaches what in the sandbox (issue 19, point 2): every source the YAML declares gets an
address on the sandbox's `sources` host; `dagsync sandbox matrix` probes every declared port of
the example clients from every source, `dagsync sandbox probe` one port from one source.

First the pure part (which sources, which address stands for each, what the YAML lets in),
then one sandbox of the example repository, firewalls applied, probed for real.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.reconcile.hosts import firewall
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.run import Selection
from dagsync.reconcile.transport.inventory import SANDBOX_ENV, SANDBOX_HOSTS_FILE
from dagsync.sandbox import world
from dagsync.sandbox.reach import SOURCES_HOST
from dagsync.sandbox.sources import (
    any_address,
    expected,
    port_checks,
    probe_address,
    sources,
)
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.network import unique_network
from dagsync.testing.hosts.outside import machine_addresses, outside_address
from dagsync.testing.hosts.system import TestHostsError
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)


def _inputs(key: str) -> object:
    repo = load_repository(REPO, validate=False)
    (found,) = [i for i in server_inputs(repo, Selection(), NOW) if i.target.key == key]
    return found


# --- which sources, and what the YAML lets in ----------------------------------------------


def test_every_declared_management_and_blocked_range_gets_an_address_inside_it() -> None:
    found = {str(s.network): s for s in sources(load_repository(REPO, validate=False))}
    assert set(found) == {
        "192.0.2.0/28",  # management
        "192.0.2.64/29",  # management
        "192.0.2.128/27",  # cime-conseil/dev1's office, https
        "198.51.100.66/32",  # velo-savoie's blocklist
        "203.0.113.32/28",  # velo-savoie's Chambéry office, mariadb
        "203.0.113.41/32",  # the shop web servers, mariadb
        "203.0.113.42/32",
        "203.0.113.200/29",  # velo-savoie's blocklist
        "None",  # any
    }
    for source in found.values():
        if source.network is not None:
            assert IPv4Address(source.address) in source.network
    assert found["192.0.2.0/28"].roles == ("management",)
    assert found["203.0.113.200/29"].roles == ("blocked by velo-savoie",)
    # The office's address is none of the two narrower /32s inside it: it stands for the /28.
    assert found["203.0.113.32/28"].address not in ("203.0.113.41", "203.0.113.42")


def test_the_address_standing_for_any_is_in_no_declared_range() -> None:
    every = [s for s in sources(load_repository(REPO, validate=False)) if s.network is not None]
    networks = [s.network for s in every if s.network is not None]
    address = any_address(networks)
    assert not any(address in n for n in networks)
    whole = [IPv4Network("203.0.113.0/24"), IPv4Network("198.51.100.0/24")]
    assert any_address(whole) in IPv4Network("192.0.2.0/24")  # the next documentation range


@pytest.mark.parametrize(
    ("net", "narrower", "address"),
    [
        ("203.0.113.32/28", [], "203.0.113.33"),
        ("203.0.113.32/28", ["203.0.113.33/32", "203.0.113.34/31"], "203.0.113.36"),
        ("198.51.100.66/32", [], "198.51.100.66"),
        ("198.51.100.66/31", [], "198.51.100.66"),
    ],
)
def test_a_range_is_probed_from_an_address_no_narrower_declaration_covers(
    net: str, narrower: list[str], address: str
) -> None:
    networks = [IPv4Network(net), *map(IPv4Network, narrower)]
    assert str(probe_address(IPv4Network(net), networks)) == address


@pytest.mark.parametrize(
    ("key", "port", "address", "lets_in"),
    [
        ("velo-savoie/db1", 3306, "203.0.113.40", True),  # the Chambéry office's /28
        ("velo-savoie/db1", 3306, "203.0.113.41", True),  # a web server
        ("velo-savoie/db1", 3306, "203.0.113.48", False),  # just past the /28
        ("velo-savoie/db1", 3306, "192.0.2.1", False),  # management: SSH only
        ("velo-savoie/db1", 22, "192.0.2.1", True),
        ("velo-savoie/db1", 22, "203.0.113.40", False),
        ("velo-savoie/web1", 443, "203.0.113.254", True),  # any
        ("velo-savoie/web1", 443, "198.51.100.66", False),  # blocked by velo-savoie
        ("alpine-books/shop1", 443, "203.0.113.201", False),  # velo-savoie's block, shared
        ("velo-savoie/web1", 8443, "203.0.113.40", False),  # not declared
        ("cime-conseil/dev1", 443, "192.0.2.130", True),
        ("cime-conseil/dev1", 443, "203.0.113.254", False),
    ],
)
def test_what_the_yaml_lets_in(key: str, port: int, address: str, lets_in: bool) -> None:
    assert expected(_inputs(key), port, address) is lets_in  # type: ignore[arg-type]


def test_a_blocked_management_address_keeps_ssh_and_nothing_else() -> None:
    from dataclasses import replace

    from dagsync.reconcile.resource import BlockedEntry

    inputs = _inputs("velo-savoie/web1")
    blocked = BlockedEntry(IPv4Network("192.0.2.0/28"), "velo-savoie", "test")
    inputs = replace(inputs, blocked=(blocked,))  # type: ignore[type-var]
    assert expected(inputs, 22, "192.0.2.1")  # type: ignore[arg-type]
    assert not expected(inputs, 443, "192.0.2.1")  # type: ignore[arg-type]


def test_each_server_is_probed_on_ssh_its_declared_tcp_ports_and_one_undeclared_port() -> None:
    db1 = port_checks(_inputs("velo-savoie/db1"))  # type: ignore[arg-type]
    assert [c.shown for c in db1] == ["tcp/22 ssh", "tcp/3306 mariadb", "tcp/9 (not declared)"]
    assert db1[1].declared == ("203.0.113.41/32", "203.0.113.42/32", "203.0.113.32/28")
    assert db1[0].declared == ("management",) and db1[2].declared == ()


@pytest.mark.parametrize(
    "text", ["127.0.0.1", "10.9.9.20", "169.254.1.1", "224.0.0.1", "0.0.0.0", "2001:db8::1", "x"]
)
def test_an_address_that_cannot_stand_for_an_outside_source_is_refused(text: str) -> None:
    net = unique_network("rchu")
    own = f"{net.prefix}.20" if text == "10.9.9.20" else text
    with pytest.raises(TestHostsError):
        outside_address(own, net)


def test_no_source_takes_an_address_this_machine_uses_or_talks_to() -> None:
    """Where the machine's own network is 192.0.2.0/24 (its gateway 192.0.2.1, itself .2), the
    management range 192.0.2.0/28 is probed from .3, and `--from 192.0.2.1` is refused."""
    repo = load_repository(REPO, validate=False)
    avoid = {IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")}
    found = {str(s.network): s.address for s in sources(repo, avoid)}
    assert found["192.0.2.0/28"] == "192.0.2.3"
    assert found["198.51.100.66/32"] == "198.51.100.66"  # a /32 leaves no choice
    net = unique_network("rchv")
    with pytest.raises(TestHostsError, match="cannot stand for an outside source"):
        outside_address("192.0.2.1", net, avoid)
    assert str(outside_address("192.0.2.3", net, avoid)) == "192.0.2.3"
    assert IPv4Address("127.0.0.1") in machine_addresses()  # read from `ip -j -4 addr`


def test_the_sandbox_probes_the_production_ruleset_plus_only_its_controller() -> None:
    """The sources are the YAML's own addresses: the ruleset a sandbox server gets differs from
    the one `plan` renders for production by the controller's /32 in the management set only."""
    repo = load_repository(REPO, validate=False)
    controller = IPv4Network("10.231.78.1/32")
    production = server_inputs(repo, Selection(), NOW)
    sandboxed = server_inputs(repo, Selection(), NOW, (controller,))
    assert len(production) == len(sandboxed) == 6
    for prod, box in zip(production, sandboxed, strict=True):
        before = firewall.desired(prod)[0].text.splitlines()
        after = firewall.desired(box)[0].text.splitlines()
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert len(changed) == 1, changed  # the management4 elements, nothing else
        old, new = changed[0]
        assert new.replace("10.231.78.1/32, ", "") == old and "elements" in new


def test_a_source_inside_the_sandboxs_own_network_is_noted_not_probed() -> None:
    from dagsync.sandbox.reach import Sandbox, _outside
    from dagsync.sandbox.sources import Source
    from dagsync.testing.hosts.network import Network

    box = Sandbox(Network("10.231.78"), {}, 12)
    inside = Source("10.231.78.5", IPv4Network("10.231.78.0/28"), ("declared",))
    office = Source("203.0.113.33", IPv4Network("203.0.113.32/28"), ("declared",))
    kept, notes = _outside(box, [inside, office])
    assert kept == (office,)
    assert notes == [
        "source 10.231.78.0/28 (declared) not probed: "
        "10.231.78.5 cannot stand for an outside source address"
    ]


def test_a_sandbox_network_avoids_the_source_addresses() -> None:
    avoid = [IPv4Network(f"10.{b}.0.0/16") for b in range(200, 255) if b != 222]
    net = unique_network("rchw", avoid)
    assert net.prefix.startswith("10.222.")


# --- on a sandbox ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sandbox of the example repository (no OVH emulator), its firewalls applied."""
    if reason := skip_reason():
        pytest.skip(reason)
    if shutil.which("nft", path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
        pytest.skip("the sandbox's firewalls need nft (apt install nftables)")
    repo = tmp_path_factory.mktemp("reach") / "repo"
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, repo / folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
        patch.setenv(SANDBOX_ENV, "1")
        for role in ("AUTHOR", "COMMITTER"):
            patch.setenv(f"GIT_{role}_NAME", "Sandbox Tester")
            patch.setenv(f"GIT_{role}_EMAIL", "tester@dagtechnologies.example")
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", "clients"], check=True)
        try:
            world.up(repo, unique_network("rch"), emulator=False)
            yield repo
        finally:
            world.down(repo)


def dagsync(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    code = main([*args, "--repo", str(root)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _apply_firewalls(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, out = dagsync(capsys, root, "apply", "--yes", "--only", "firewall", "--no-record")
    assert code == 0, out


def _namespace(root: Path, key: str) -> str:
    state = json.loads((root / world.STATE / "state.json").read_text())
    name = key.replace("/", "-")
    return f"{state['network']['ns_prefix']}{state['names'].index(name) + 1}"


def _nft(root: Path, key: str, command: str) -> None:
    argv = ["ip", "netns", "exec", _namespace(root, key), "nft", command]
    subprocess.run(argv, check=True, capture_output=True, text=True)


@pytest.mark.hosts
def test_without_the_firewall_the_matrix_shows_undeclared_sources_reaching_ports(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("velo-savoie/db1", "velo-savoie/web1", "velo-savoie/web2"):
        argv = ["ip", "netns", "exec", _namespace(root, key), "nft", "delete table inet dagsync"]
        subprocess.run(argv, check=False, capture_output=True)  # absent before the first apply
    code, out = dagsync(capsys, root, "sandbox", "matrix", "--client", "velo-savoie")
    assert code == 1, out
    assert "velo-savoie/db1 tcp/3306 mariadb: MISMATCH" in out
    assert "UNDECLARED source reaches it: 198.51.100.66/32 (blocked by velo-savoie)" in out
    assert "note: velo-savoie/db1: no dagsync firewall loaded" in out


@pytest.mark.hosts
def test_every_declared_port_of_the_example_clients_is_reached_by_its_sources_only(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _apply_firewalls(capsys, root)
    code, out = dagsync(capsys, root, "sandbox", "matrix", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    rows = {(p["target"], p["port"]): p for p in data["ports"]}
    assert len(rows) == 21 and all(p["ok"] for p in rows.values())  # 6 servers
    labels = {s["network"] or "any": f"{s['network'] or s['address']} ({', '.join(s['roles'])})"
              for s in data["sources"]}  # fmt: skip
    office, web1, web2 = (
        labels["203.0.113.32/28"],
        labels["203.0.113.41/32"],
        labels["203.0.113.42/32"],
    )
    management = {labels["192.0.2.0/28"], labels["192.0.2.64/29"]}
    blocked = {labels["198.51.100.66/32"], labels["203.0.113.200/29"]}
    assert set(rows["velo-savoie/db1", 3306]["reached_by"]) == {office, web1, web2}
    assert set(rows["cime-conseil/dev1", 443]["reached_by"]) == {labels["192.0.2.128/27"]}
    for (target, port), row in rows.items():
        reached = set(row["reached_by"])
        if port == 22:
            assert reached == management, target
        elif port == 9:
            assert reached == set(), target
        if row["declared"] == ["any"]:
            assert reached == set(labels.values()) - blocked, (target, port)
    code, text = dagsync(capsys, root, "sandbox", "matrix")
    assert code == 0, text
    assert text.endswith(
        "21 port(s) probed from 9 source(s): every port is reached by its declared sources only\n"
    )


@pytest.mark.hosts
def test_the_matrix_finds_a_hand_opened_port_and_a_declared_source_shut_out(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _apply_firewalls(capsys, root)
    _nft(root, "velo-savoie/web2", "insert rule inet dagsync input tcp dport 9 accept")
    _nft(root, "velo-savoie/db1", "add element inet dagsync blocked4 { 203.0.113.33 }")
    code, out = dagsync(capsys, root, "sandbox", "matrix", "--client", "velo-savoie")
    assert code == 1, out
    assert "velo-savoie/web2 tcp/9 (not declared): MISMATCH (declared: nobody)" in out
    assert "  UNDECLARED source reaches it: 203.0.113.254 (any)" in out
    assert "velo-savoie/db1 tcp/3306 mariadb: MISMATCH" in out
    assert "  DECLARED source cannot reach it: 203.0.113.32/28 (declared)" in out
    assert out.endswith("11 port(s) probed from 9 source(s): 2 mismatch(es)\n")
    _apply_firewalls(capsys, root)  # the hand edits are drift: apply puts them back
    code, out = dagsync(capsys, root, "sandbox", "matrix", "--client", "velo-savoie")
    assert code == 0, out


@pytest.mark.hosts
def test_a_probe_answers_filtered_closed_or_open_with_what_the_yaml_says(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _apply_firewalls(capsys, root)
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "203.0.113.40", "db1:3306")
    assert code == 0, out
    assert "203.0.113.40 -> velo-savoie/db1 " in out
    assert "tcp/3306: closed (the YAML lets it in) [source: 203.0.113.32/28 (declared)]" in out
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "203.0.113.40", "web1:8443")
    assert code == 0 and "tcp/8443: filtered (the YAML keeps it out)" in out, out
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "management", "web1:22")
    assert code == 0, out
    assert out.count("tcp/22: open (the YAML lets it in)") == 2  # sshd answers, both ranges
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "any", "velo-savoie/web1:443")
    assert code == 0 and "tcp/443: closed (the YAML lets it in) [source: " in out, out
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "127.0.0.1", "web1:443")
    assert code == 2 and "cannot stand for an outside source address" in out, out
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "any", "web9:443")
    assert code == 2 and "'web9' is no server of the sandbox" in out, out


@pytest.mark.hosts
def test_a_blocked_address_is_filtered_on_a_port_open_to_any_once_the_block_is_applied(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _apply_firewalls(capsys, root)
    argv = ["sandbox", "probe", "--from", "198.51.100.99", "web1:443"]
    code, out = dagsync(capsys, root, *argv)
    assert code == 0 and "tcp/443: closed (the YAML lets it in)" in out, out
    code, out = dagsync(capsys, root, "block", "198.51.100.99", "--client", "velo-savoie",
                        "--reason", "sandbox test: an attacker")  # fmt: skip
    assert code == 0, out
    code, out = dagsync(capsys, root, *argv)  # declared, not yet applied
    assert code == 1 and "tcp/443: closed MISMATCH: the YAML keeps it out" in out, out
    _apply_firewalls(capsys, root)
    code, out = dagsync(capsys, root, *argv)
    assert code == 0, out
    assert "tcp/443: filtered (the YAML keeps it out)" in out
    assert "[source: 198.51.100.99/32 (blocked by velo-savoie)]" in out
    code, out = dagsync(capsys, root, "sandbox", "probe", "--from", "198.51.100.99", "shop1:443")
    assert code == 0 and "filtered" in out, out  # shared network-wide: alpine-books too
    code, out = dagsync(capsys, root, "sandbox", "matrix")
    assert code == 0, out
    assert "probed from 10 source(s)" in out  # the new block is a source of its own


@pytest.mark.hosts
def test_the_source_addresses_never_reach_this_machines_own_network(root: Path) -> None:
    """The sources live in the sandbox's namespaces only: no address, route or neighbour of
    this machine's own namespace names one the sources host holds (not even where the machine's
    own network is a documentation range: 192.0.2.1 may be its gateway), and the overrides know
    no sources host."""
    held = subprocess.run(
        ["ip", "-n", _namespace(root, SOURCES_HOST), "-j", "-4", "addr", "show", "dev", "eth0"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    addresses = {i["local"] for i in json.loads(held)[0]["addr_info"] if i["prefixlen"] == 32}
    assert {"203.0.113.33", "198.51.100.66", "203.0.113.201"} <= addresses
    assert len(addresses) >= 9  # the examples' 9 sources, and those probes added
    own = ""
    for argv in (["addr"], ["route", "show", "table", "all"], ["neigh"]):
        own += subprocess.run(["ip", "-4", *argv], capture_output=True, text=True).stdout
    words = set(own.replace("/", " ").split())
    assert not words & addresses, sorted(words & addresses)
    overrides = json.loads((root / SANDBOX_HOSTS_FILE).read_text())
    assert not any(SOURCES_HOST in key for key in overrides["hosts"])
    status = world.status(root)
    assert status.startswith(f"sandbox: up ({len(overrides['hosts'])} hosts")  # no sources
    state = json.loads((root / world.STATE / "state.json").read_text())
    address = f"{state['network']['prefix']}.{10 + len(state['names'])}"  # the last host
    assert re.search(rf"^sources \(probe, matrix\) +{re.escape(address)}$", status, re.M), status


@pytest.mark.hosts
def test_probes_in_several_batches_keep_their_order(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagsync.testing.hosts import probes

    _apply_firewalls(capsys, root)
    monkeypatch.setattr(probes, "BATCH", 40)  # velo-savoie: 11 ports x 9+ sources, 3 batches
    code, out = dagsync(capsys, root, "sandbox", "matrix", "--client", "velo-savoie")
    assert code == 0, out
    assert "velo-savoie/db1 tcp/3306 mariadb: ok" in out
