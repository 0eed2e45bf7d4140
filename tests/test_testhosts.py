"""Behaviour of the network-namespace test hosts (dagsync.testing.hosts), on real namespaces."""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dagsync.testing.hosts import host as host_module
from dagsync.testing.hosts.__main__ import main as hosts_cli
from dagsync.testing.hosts.checks import MAX_HOSTS, skip_reason
from dagsync.testing.hosts.lab import TestHosts, testhosts, up
from dagsync.testing.hosts.network import (
    CLAIMS,
    Network,
    _claim_path,
    subnets_in_use,
    unique_network,
)
from dagsync.testing.hosts.probes import probe_from, tcp_probe
from dagsync.testing.hosts.system import TestHostsError
from dagsync.testing.hosts.teardown import down

pytestmark = pytest.mark.hosts

# Names and subnets of this run's own: any number of runs (and sandboxes) share the machine.
SHARED = unique_network("th")
LIFECYCLE = unique_network("tl")


@pytest.fixture(autouse=True)
def _need_namespaces() -> None:
    if reason := skip_reason():
        pytest.skip(reason)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestHosts]:
    if reason := skip_reason():
        pytest.skip(reason)
    with testhosts(3, state_dir=tmp_path_factory.mktemp("th") / "state", network=SHARED) as hosts:
        yield hosts


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """State folder for a LIFECYCLE test; whatever a failed test leaves is removed after it."""
    yield tmp_path / "state"
    if _leftovers(LIFECYCLE):
        down(tmp_path / "state", LIFECYCLE)


def _nft_tables() -> str:
    return subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout


def _leftovers(net: Network) -> list[str]:
    """Kernel objects of one test network still present in the root namespace."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    found = [n for n in names if n.startswith(net.ns_prefix)]
    links = [p.name for p in Path("/sys/class/net").iterdir()]
    found += [n for n in links if n.startswith(net.veth_prefix) or n == net.bridge]
    return found


def _netns_pids(namespace: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def test_each_host_answers_ssh_with_its_own_hostname_under_strict_host_key_checking(
    lab: TestHosts,
) -> None:
    assert [h.name for h in lab.hosts] == ["h1", "h2", "h3"]
    for host in lab.hosts:
        result = host.ssh("hostname; cat /etc/hostname", check=True)
        assert result.stdout.split() == [host.name, host.name]
    assert "StrictHostKeyChecking yes" in lab.ssh_config.read_text()


def test_hosts_reach_each_other_over_ssh_with_pinned_keys(lab: TestHosts) -> None:
    result = lab["h1"].ssh(f"ssh h2 hostname && ssh {lab['h3'].address} hostname", check=True)
    assert result.stdout.split() == ["h2", "h3"]


def test_run_acts_inside_the_hosts_own_mount_and_uts_namespaces(lab: TestHosts) -> None:
    h1 = lab["h1"]
    result = h1.run("hostname; echo marker > /etc/dagsync-th-marker; ls /root/.ssh", check=True)
    assert result.stdout.split()[0] == "h1"
    assert "authorized_keys" in result.stdout
    assert not Path("/etc/dagsync-th-marker").exists()
    assert (h1.root / "etc.upper/dagsync-th-marker").read_text() == "marker\n"
    assert lab["h2"].run("test -e /etc/dagsync-th-marker").returncode == 1


def test_ssh_refuses_a_host_whose_key_differs_from_the_pinned_one(
    lab: TestHosts, tmp_path: Path
) -> None:
    h1, h2 = lab["h1"], lab["h2"]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{h1.name},{h1.address} {h2.host_key_public}\n")
    argv = ["ssh", "-F", str(lab.ssh_config), "-o", f"UserKnownHostsFile={wrong}"]
    result = subprocess.run([*argv, h1.name, "true"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 255
    assert "Host key verification failed" in result.stderr
    unknown = subprocess.run(
        [*argv[:-1], "UserKnownHostsFile=/dev/null", h1.name, "true"],
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 255


def test_nft_table_added_on_one_host_stays_on_that_host(lab: TestHosts) -> None:
    before = _nft_tables()
    h1, h2 = lab["h1"], lab["h2"]
    h1.ssh("nft add table inet dsth_t1", check=True)
    try:
        assert "dsth_t1" in h1.ssh("nft list tables", check=True).stdout
        assert "dsth_t1" not in h2.ssh("nft list tables", check=True).stdout
        assert _nft_tables() == before
    finally:
        h1.ssh("nft delete table inet dsth_t1")


def test_an_address_blocked_by_a_hosts_ruleset_cannot_connect_while_others_can(
    lab: TestHosts,
) -> None:
    h1, h2, h3 = lab.hosts
    assert probe_from(h1, h2.address, 22) == "open"
    rule = f"nft add table inet dsth_blk; nft add chain inet dsth_blk in '{{ type filter hook input priority 0; }}'; nft add rule inet dsth_blk in ip saddr {h1.address} tcp dport 22 drop"
    h2.run(rule, check=True)
    try:
        assert probe_from(h1, h2.address, 22, timeout=0.3) == "timeout"
        assert probe_from(h3, h2.address, 22) == "open"
        assert tcp_probe(h2.address, 22) == "open"
    finally:
        h2.run("nft delete table inet dsth_blk", check=True)
    assert probe_from(h1, h2.address, 22) == "open"


def test_probes_tell_refused_ports_and_unroutable_addresses_apart(lab: TestHosts) -> None:
    h1, h2 = lab["h1"], lab["h2"]
    assert tcp_probe(h2.address, 2222) == "refused"
    assert probe_from(h1, h2.address, 2222) == "refused"
    # No default route inside a host: a documentation address fails before any packet leaves.
    assert probe_from(h1, "192.0.2.1", 22) == "unreachable"
    assert "default" not in h1.run("ip route", check=True).stdout


def test_useradd_on_one_host_changes_only_that_hosts_accounts_and_home(lab: TestHosts) -> None:
    real_passwd = Path("/etc/passwd").read_bytes()
    h1, h2 = lab["h1"], lab["h2"]
    h1.ssh("useradd -m -s /bin/sh dsthalice", check=True)
    assert "dsthalice:" in h1.ssh("getent passwd dsthalice", check=True).stdout
    assert h2.ssh("id dsthalice").returncode != 0
    assert Path("/etc/passwd").read_bytes() == real_passwd
    assert not Path("/home/dsthalice").exists()
    assert (h1.root / "home/dsthalice").is_dir()


def test_a_new_account_logs_in_with_its_key_once_its_password_is_not_locked(
    lab: TestHosts,
) -> None:
    h3 = lab["h3"]
    keys = "install -d -m 700 -o dsthbob -g dsthbob ~dsthbob/.ssh && install -m 600 -o dsthbob /root/.ssh/authorized_keys ~dsthbob/.ssh/"
    h3.ssh(f"useradd -m -s /bin/sh dsthbob && {keys}", check=True)
    # With UsePAM no, sshd treats useradd's default "!" password as a locked account.
    assert h3.ssh("true", user="dsthbob").returncode == 255
    h3.ssh("usermod -p '*' dsthbob", check=True)
    result = h3.ssh("id -un; pwd", user="dsthbob", check=True)
    assert result.stdout.split() == ["dsthbob", "/home/dsthbob"]


def test_up_refuses_while_the_bridge_exists_and_names_the_down_command(
    lab: TestHosts, tmp_path: Path
) -> None:
    with pytest.raises(
        TestHostsError, match=rf"{SHARED.bridge} already exists.*hosts down --state"
    ):
        up(1, state_dir=tmp_path / "other", network=SHARED)
    assert lab["h1"].ssh("true").returncode == 0
    assert not (tmp_path / "other").exists()


def test_down_leaves_nothing_and_a_second_up_works(state: Path) -> None:
    names = ["web1", "db1"]
    extra = [(f"{LIFECYCLE.prefix}.99", "backup-store")]
    for _ in range(2):
        lab = up(names=names, state_dir=state, extra_hosts_entries=extra, network=LIFECYCLE)
        assert lab["db1"].ssh("hostname", check=True).stdout.strip() == "db1"
        assert (
            f"{LIFECYCLE.prefix}.99"
            in lab["web1"].ssh("getent hosts backup-store", check=True).stdout
        )
        pids = [pid for h in lab.hosts for pid in _netns_pids(h.namespace)]
        assert {h.sshd_pid for h in lab.hosts} <= set(pids)
        down(state)
        assert _leftovers(LIFECYCLE) == []
        assert [pid for pid in pids if _alive(pid)] == []
        assert [h.sshd_pid for h in lab.hosts if Path(f"/proc/{h.sshd_pid}").exists()] == []
        assert not state.exists()


def _alive(pid: int) -> bool:
    """Not gone and not a zombie (a crashed session's orphans are reaped by PID 1, later)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for_command(namespace: str, comm: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pid in _netns_pids(namespace):
            with contextlib.suppress(FileNotFoundError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                    return
        time.sleep(0.02)
    raise AssertionError(f"no {comm} process in {namespace}")


def test_standalone_down_cleans_up_after_a_crashed_session(state: Path) -> None:
    net = LIFECYCLE
    flags = ["--network", net.prefix, "--bridge", net.bridge, "--ns-prefix", net.ns_prefix]
    flags += ["--veth-prefix", net.veth_prefix]
    cli = [sys.executable, "-m", "dagsync.testing.hosts"]
    # The CLI process exits with its hosts still running: what a crashed test session leaves.
    subprocess.run([*cli, "up", "2", "--state", str(state), *flags], check=True, timeout=60)
    ns = LIFECYCLE.ns_prefix
    # A live SSH session is more processes the teardown must end.
    session = subprocess.Popen(
        ["ssh", "-F", str(state / "ssh_config"), "h1", "sleep 60"], stdout=subprocess.DEVNULL
    )
    try:
        _wait_for_command(f"{ns}1", "sleep")
        pids = _netns_pids(f"{ns}1") + _netns_pids(f"{ns}2")
        assert hosts_cli(["down", "--state", str(state)]) == 0
        assert session.wait(timeout=10) != 0
    finally:
        session.kill()
    assert _leftovers(LIFECYCLE) == []
    assert len(pids) >= 4  # two sshd, the session's sshd and its sleep
    assert [pid for pid in pids if _alive(pid)] == []
    assert not state.exists()
    assert hosts_cli(["down", "--state", str(state)]) == 0  # twice is harmless


def test_down_without_state_file_removes_objects_by_name_pattern_but_keeps_the_folder(
    state: Path,
) -> None:
    lab = up(1, state_dir=state, network=LIFECYCLE)
    (lab.state_dir / "state.json").unlink()
    with pytest.raises(TestHostsError, match="not a test-hosts state folder"):
        down(state, LIFECYCLE)
    assert _leftovers(LIFECYCLE) == []
    assert (state / "h1").is_dir()


def test_an_sshd_that_dies_at_start_fails_up_with_its_log_and_cleans_up(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host_module, "_sshd_config", lambda d, address: "NoSuchDagsyncOption yes\n")
    with pytest.raises(TestHostsError, match=r"exited[\s\S]*NoSuchDagsyncOption"):
        up(1, state_dir=state, network=LIFECYCLE)
    assert _leftovers(LIFECYCLE) == []
    assert not state.exists()


@pytest.mark.parametrize("names", [["h1", "h1"], ["Web1"], ["a" * 64]])
def test_up_rejects_bad_host_names(names: list[str], tmp_path: Path) -> None:
    with pytest.raises(TestHostsError, match="host names"):
        up(names=names, state_dir=tmp_path / "state", network=LIFECYCLE)
    assert _leftovers(LIFECYCLE) == []


@pytest.mark.parametrize(
    ("network", "state_dir", "message"),
    [
        (replace(LIFECYCLE, bridge="a-very-long-bridge"), None, "longer than 15"),
        (replace(LIFECYCLE, prefix="10.300.0"), None, "first three octets"),
        (LIFECYCLE, Path("/var/tmp/dagsync-th-state"), "under a path the hosts mount over"),
    ],
)
def test_up_rejects_bad_networks_and_state_folders(
    network: Network, state_dir: Path | None, message: str, tmp_path: Path
) -> None:
    with pytest.raises(TestHostsError, match=message):
        up(1, state_dir=state_dir or tmp_path / "state", network=network)
    assert _leftovers(LIFECYCLE) == []
    assert not Path("/var/tmp/dagsync-th-state").exists()


# --- isolation: any number of runs on one machine ------------------------------------------


def test_unique_networks_differ_in_names_and_subnet_and_fit_link_name_limits() -> None:
    nets = [unique_network("bkp") for _ in range(20)]
    assert len({n.bridge for n in nets}) == 20
    assert len({n.prefix for n in nets}) >= 19  # a random /24 among 14,080: a repeat is rare
    for net in nets:
        assert len(net.bridge) <= 15 and len(net.veth(MAX_HOSTS)) <= 15
        subnet = ipaddress.IPv4Network(f"{net.prefix}.0/24")
        assert subnet.subnet_of(ipaddress.IPv4Network("10.192.0.0/10"))
        assert not any(subnet.overlaps(used) for used in subnets_in_use())
    with pytest.raises(ValueError, match="1-4 lowercase letters"):
        unique_network("bad tag")


def test_two_sets_of_hosts_run_side_by_side_and_down_removes_only_its_own(
    tmp_path: Path,
) -> None:
    one, two = unique_network("iso"), unique_network("iso")
    first = up(2, state_dir=tmp_path / "one", network=one)
    try:
        second = up(2, state_dir=tmp_path / "two", network=two)
        try:
            assert first["h1"].ssh("hostname", check=True).stdout.strip() == "h1"
            assert second["h1"].ssh("hostname", check=True).stdout.strip() == "h1"
            assert first["h1"].address != second["h1"].address
            down(tmp_path / "one")
            assert _leftovers(one) == []
            assert second["h2"].ssh("hostname", check=True).stdout.strip() == "h2"
            assert _claim_path(two).exists() and not _claim_path(one).exists()
        finally:
            down(tmp_path / "two")
        assert _leftovers(two) == []
        assert not _claim_path(two).exists()
    finally:
        down(tmp_path / "one")


def test_a_subnet_claimed_by_live_hosts_is_refused_and_a_stale_claim_is_taken_over(
    tmp_path: Path,
) -> None:
    net = unique_network("clm")
    lab = up(1, state_dir=tmp_path / "live", network=net)
    try:
        other = replace(net, bridge=f"{net.bridge}x", ns_prefix="dclmx-", veth_prefix="dclmxv")
        with pytest.raises(TestHostsError, match=rf"{net.prefix}.0/24 is used by the test hosts"):
            up(1, state_dir=tmp_path / "other", network=other)
        assert not (tmp_path / "other").exists()
        assert lab["h1"].ssh("true").returncode == 0
    finally:
        down(tmp_path / "live")
    stale = unique_network("clm")
    CLAIMS.mkdir(parents=True, exist_ok=True)
    _claim_path(stale).write_text(f"{tmp_path / 'crashed-run-long-gone'}\n")
    lab = up(1, state_dir=tmp_path / "new", network=stale)
    try:
        assert _claim_path(stale).read_text().strip() == str(tmp_path / "new")
    finally:
        down(tmp_path / "new")
    assert not _claim_path(stale).exists()


def test_down_without_state_or_network_removes_nothing_of_other_runs(
    lab: TestHosts, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    down(tmp_path / "empty")
    assert lab["h1"].ssh("true").returncode == 0
    assert _leftovers(SHARED) != []
