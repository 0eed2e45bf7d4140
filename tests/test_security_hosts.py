"""CrowdSec end to end on test hosts: an attack on one server is blocked where the model says.

DAG's security host runs one local API per decision scope; every client server runs an agent
(sshd parser and brute-force scenarios) and the nftables bouncer, all configured by dagsync.
Clients: alpha and bravo share blocks network-wide (the default), charlie opted out of
propagation by request, delta propagates to its own servers only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.reconcile.hosts import firewall
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.run import Selection
from dagsync.reconcile.security import install
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV
from dagsync.sandbox.security_lab import (
    ClientSpec,
    Lab,
    LabError,
    run_step,
    security_lab,
    tools_missing,
    wait_for,
)
from dagsync.testing.hosts.checks import skip_reason

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-security")]

MAIN = Path(__file__).resolve().parents[1]
CLIENTS = (
    ClientSpec("alpha", ("a1", "a2")),
    ClientSpec("bravo", ("b1",)),
    ClientSpec("charlie", ("c1", "c2"), propagation=False),
    ClientSpec("delta", ("d1", "d2"), shared=False),
)
SERVERS = tuple(s for c in CLIENTS for s in c.servers)
# Long enough for detection, the local API and a bouncer poll on a loaded 2-core machine.
SETTLE = 60.0


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if reason := skip_reason() or tools_missing():
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("security")
    with security_lab(base, MAIN, CLIENTS, attackers=("x1", "x2", "x3", "x4")) as lab:
        lab.apply()
        lab.ready()
        yield lab


def _attack_and_wait(lab: Lab, attacker: str, server: str, expected: set[str]) -> None:
    assert not any(lab.dropped(attacker, s) for s in SERVERS)  # before: reachable everywhere
    lab.attack(attacker, server)
    wait_for(
        lambda: all(lab.dropped(attacker, s) for s in expected),
        SETTLE,
        f"{attacker} dropped on {sorted(expected)}",
    )


def test_the_scopes_follow_each_clients_propagation_choice(lab: Lab) -> None:
    scopes = {s.key: sorted(m.server for m in s.members) for s in lab.model.scopes}
    assert scopes == {
        "network": ["a1", "a2", "b1"],
        "client.delta": ["d1", "d2"],
        "server.charlie.c1": ["c1"],
        "server.charlie.c2": ["c2"],
    }


def test_an_attack_on_a_sharing_client_is_dropped_on_every_sharing_server(lab: Lab) -> None:
    _attack_and_wait(lab, "x1", "a1", {"a1", "a2", "b1"})
    address = lab.host("x1").address
    assert lab.decisions(lab.scope_of("a1")) == [address]
    for server in ("c1", "c2", "d1", "d2"):  # opted out, or not sharing: never told
        assert not lab.dropped("x1", server), server
        assert address not in lab.decisions(lab.scope_of(server))


def test_an_attack_on_an_opted_out_client_stays_on_the_server_that_saw_it(lab: Lab) -> None:
    _attack_and_wait(lab, "x2", "c1", {"c1"})
    assert lab.decisions(lab.scope_of("c1")) == [lab.host("x2").address]
    for server in ("c2", "a1", "a2", "b1", "d1", "d2"):
        assert not lab.dropped("x2", server), server


def test_a_client_that_does_not_share_keeps_blocks_to_its_own_servers(lab: Lab) -> None:
    _attack_and_wait(lab, "x3", "d2", {"d1", "d2"})
    for server in ("a1", "a2", "b1", "c1", "c2"):
        assert not lab.dropped("x3", server), server


def test_a_pushed_block_reaches_every_server_of_a_client_that_keeps_blocks_to_itself(
    lab: Lab,
) -> None:
    lab.block("delta", lab.host("x2").address)  # x2 is banned on c1 only, so far
    wait_for(lambda: lab.dropped("x2", "d1") and lab.dropped("x2", "d2"), SETTLE, "d1 and d2")
    for server in ("a1", "a2", "b1", "c2"):
        assert not lab.dropped("x2", server), server


def test_a_pushed_block_of_an_opted_out_client_reaches_each_of_its_servers(lab: Lab) -> None:
    lab.block("charlie", lab.host("x1").address)  # x1 is banned on the sharing servers
    wait_for(lambda: lab.dropped("x1", "c1") and lab.dropped("x1", "c2"), SETTLE, "c1 and c2")
    assert not lab.dropped("x1", "d1")


def test_a_push_that_would_ban_a_server_of_the_network_is_refused(lab: Lab) -> None:
    with pytest.raises(LabError, match="server bravo/b1"):
        lab.block("alpha", lab.host("b1").address)
    assert lab.host("b1").address not in lab.decisions(lab.scope_of("a1"))


def _dagsync_table(lab: Lab, server: str) -> bytes:
    """dagsync's own firewall file for the server, as the hosts driver renders it."""
    selection = Selection(servers=(server,))
    (inputs,) = server_inputs(lab.repo, selection, dt.datetime.now(dt.UTC))
    return firewall.desired(inputs)[0].text.encode()


def test_the_bouncer_and_dagsyncs_own_table_coexist(lab: Lab) -> None:
    """dagsync's firewall file replaces only `inet dagsync`: the bouncer's drop stays, and
    dagsync's accepting SSH rule does not let a banned address through."""
    b1, table = lab.host("b1"), _dagsync_table(lab, "b1")
    run_step(b1, install.Step("dagsync table", "nft -f -", table))
    _attack_and_wait(lab, "x4", "a2", {"a1", "a2", "b1"})
    run_step(b1, install.Step("dagsync table again", "nft -f -", table))
    tables = b1.run("nft list tables", check=True).stdout.split()
    assert "crowdsec" in tables and "dagsync" in tables
    assert lab.dropped("x4", "b1")
    assert not lab.dropped("x2", "b1")  # banned on c1 only: dagsync's table lets it in


def test_dagsync_block_now_writes_git_and_reaches_the_clients_scope_over_ssh(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sec = lab.security
    hosts = {"dag/sec1": {"address": sec.address, "host_key": sec.host_key_public}}
    override = {"version": 1, "ssh_key": str(lab.hosts.client_key), "ssh_user": "root"}
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps({**override, "hosts": hosts}))
    monkeypatch.setenv(HOSTS_FILE_ENV, str(path))
    x3 = lab.host("x3").address  # banned on delta's servers only, so far
    argv = ["block", x3, "--client", "bravo", "--reason", "scan seen by the SOC", "--now"]
    assert main([*argv, "--repo", str(lab.repo.root)]) == 0
    assert f"address: {x3}/32" in (lab.repo.root / "clients/bravo/client.yaml").read_text()
    wait_for(lambda: all(lab.dropped("x3", s) for s in ("a1", "a2", "b1")), SETTLE, "network")
    assert not lab.dropped("x3", "c1")


def test_a_second_apply_changes_nothing(lab: Lab) -> None:
    assert lab.plan() == {target: [] for target in lab.plan()}
    assert all(not changes for changes in lab.apply().values())


def test_a_stopped_bouncer_is_drift_and_apply_starts_it(lab: Lab) -> None:
    d1 = lab.host("d1")
    d1.run('kill "$(cat /run/dagsync-crowdsec-bouncer.pid)"', check=True)
    wait_for(lambda: "start crowdsec-bouncer (stopped)" in lab.plan()["delta/d1"], 10, "stop")
    assert lab.apply()["delta/d1"] == ["start crowdsec-bouncer (stopped)"]
    assert lab.plan()["delta/d1"] == []


def test_a_hand_edited_agent_file_is_drift_and_apply_restores_it(lab: Lab) -> None:
    a2 = lab.host("a2")
    a2.run("echo '# edited' >> /etc/crowdsec/dagsync/agent/acquis.yaml", check=True)
    assert lab.plan()["alpha/a2"] == ["update /etc/crowdsec/dagsync/agent/acquis.yaml"]
    lab.apply()
    assert lab.plan()["alpha/a2"] == []
