"""IP reputation against a real DNS server: dnsmasq on a test host serves a test blocklist
zone that lists one client server's address; dagsync reports that address and only it, and a
blocklist server that does not answer is `unknown`, never clean."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from dagsync.reconcile.security import reputation
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.validate.repository import Repository, load_repository

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-security")]

MAIN = Path(__file__).resolve().parents[1]
ZONE = "bl.dagsync.test"


@pytest.fixture(scope="module")
def repo() -> Repository:
    return load_repository(MAIN)


def _listed(repo: Repository) -> tuple[str, str]:
    web1 = next(s for c, s in repo.servers() if c.id == "velo-savoie" and s.name == "web1")
    return "velo-savoie/web1", str(web1.ips[0])


@pytest.fixture(scope="module")
def dns_host(tmp_path_factory: pytest.TempPathFactory, repo: Repository) -> Iterator[TestHost]:
    if reason := skip_reason() or (shutil.which("dnsmasq") is None and "install dnsmasq-base"):
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("dnsbl")
    with testhosts(names=["dns1"], state_dir=base / "th", network=unique_network("dnsb")) as lab:
        host = lab["dns1"]
        name = reputation.query_name(ip_address(_listed(repo)[1]), ZONE)
        start = (
            "setsid dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces "
            f"--listen-address={host.address} --port=53 --user=root --local=/{ZONE}/ "
            f"--host-record={name},127.0.0.2 --txt-record={name},'listed by the test' "
            "</dev/null >/tmp/dnsmasq.log 2>&1 &"
        )
        host.run(start, check=True)
        ask = reputation.resolver([host.address])
        for _ in range(100):  # until it answers
            if reputation.lookup(ask, "t", "192.0.2.1", ZONE).state != "unknown":
                break
        yield host


def test_the_listed_server_address_is_reported_and_no_other(
    dns_host: TestHost, repo: Repository
) -> None:
    found = reputation.check(
        reputation.resolver([dns_host.address]), reputation.public_addresses(repo.clients), [ZONE]
    )
    target, address = _listed(repo)
    assert [f.line() for f in found if f.state != "clean"] == [
        f"{target}: {address} is listed by {ZONE} (127.0.0.2: listed by the test)"
    ]
    assert len(found) == len(reputation.public_addresses(repo.clients)) > 1


def test_a_blocklist_server_that_does_not_answer_is_unknown_not_clean(
    dns_host: TestHost, repo: Repository
) -> None:
    silent = reputation.resolver([dns_host.address], port=5353, timeout=1.0)
    target, address = _listed(repo)
    found = reputation.lookup(silent, target, address, ZONE)
    assert found.state == "unknown" and found.line().endswith(")")
