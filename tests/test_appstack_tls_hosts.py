"""Certificates over ACME on test hosts: Debian's pebble as the CA, Debian's certbot on the web
host, a real TLS client checking the served certificate against pebble's root."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import write_yaml
from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.config.yamlio import load
from dagsync.reconcile.hosts import engine
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    load_overrides,
)
from dagsync.testing import pebble
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.validate.repository import load_repository

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-appstack-tls")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("tls")
CLIENT = "alpine-books"
SHOP = f"clients/{CLIENT}/servers/shop1.yaml"
WWW, BARE = "www.alpine-books.example", "alpine-books.example"
EXTRA = "shop.alpine-books.example"  # the name the reissue test adds in git
KINDS = ("vhosts", "tls")


@dataclass
class World:
    lab: TestHosts
    root: Path
    ca: pebble.Pebble

    @property
    def shop1(self) -> TestHost:
        return self.lab["shop1"]


def yaml(path: Path) -> Any:
    data, problem = load(path.read_text())
    assert problem is None, problem
    return data


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := skip_reason():
        pytest.skip(reason)
    for tool in ("nginx", "certbot", "pebble"):
        if shutil.which(tool, path="/usr/sbin:/usr/bin") is None:
            pytest.skip(f"{tool} (Debian package) is not installed")
    base = tmp_path_factory.mktemp("tls")
    with pytest.MonkeyPatch.context() as mp:
        for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV):
            mp.delenv(var, raising=False)
        mp.setenv(SANDBOX_ENV, "1")
        with testhosts(names=("shop1", "acme"), state_dir=base / "th", network=NET) as lab:
            shop1 = lab["shop1"]
            # EXTRA resolves from the start: pebble (Go) caches /etc/hosts for 5 s, so a line
            # appended just before an order may not be seen yet (CI saw "lookup ... refused").
            names = {WWW: shop1.address, BARE: shop1.address, EXTRA: shop1.address}
            ca = pebble.start(lab["acme"], names)
            ca.trust(shop1)
            root = base / "repo"
            for folder in ("policies", "schemas"):
                shutil.copytree(REPO / folder, root / folder)
            shutil.copytree(REPO / f"clients/{CLIENT}", root / f"clients/{CLIENT}")
            data = yaml(root / SHOP)
            data["vhosts"][0]["tls"] = {"issuer": "letsencrypt"}
            write_yaml(root / SHOP, data)
            overrides = {
                "version": 1,
                "hosts": {
                    f"{CLIENT}/shop1": {
                        "address": shop1.address,
                        "port": 22,
                        "host_key": shop1.host_key_public,
                    }
                },
                "ssh_key": str(lab.client_key),
                "acme": {"letsencrypt": ca.directory},
            }
            (root / ".dagsync-sandbox").mkdir()
            (root / ".dagsync-sandbox/hosts.json").write_text(json.dumps(overrides))
            yield World(lab, root, ca)


def scope(w: World, **changes: Any) -> Scope:
    return Scope(
        w.root, **{"servers": ("shop1",), "kinds": KINDS, "connect_timeout": 3.0, **changes}
    )


def plan_json(w: World, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = run_plan(scope(w), "json", detailed_exitcode=True)
    return code, json.loads(capsys.readouterr().out)


def served(w: World, name: str, roots: str) -> dict[str, Any]:
    """The certificate the web host serves for `name`, verified against `roots`."""
    context = ssl.create_default_context(cadata=roots)
    raw = socket.create_connection((w.shop1.address, 443), timeout=10)
    with raw, context.wrap_socket(raw, server_hostname=name) as tls:
        cert = tls.getpeercert()
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        first = tls.recv(64).decode(errors="replace")
    assert cert is not None
    return {**cert, "status_line": first.split("\r\n", 1)[0]}


def names_of(cert: dict[str, Any]) -> set[str]:
    return {value for kind, value in cert["subjectAltName"] if kind == "DNS"}


@pytest.fixture(scope="module")
def issued(world: World) -> World:
    assert run_apply(scope(world), yes=True, record=False) == 0
    return world


def test_a_declared_vhost_answers_https_with_a_pebble_certificate_for_exactly_its_names(
    issued: World,
) -> None:
    roots = issued.ca.roots()
    for name in (WWW, BARE):
        cert = served(issued, name, roots)
        assert names_of(cert) == {WWW, BARE}
        assert cert["status_line"].startswith("HTTP/1.1 ")
    with pytest.raises(ssl.SSLCertVerificationError):
        served(issued, WWW, issued.ca.listener_ca.read_text())  # another CA: refused


def test_after_issuing_a_second_plan_changes_nothing(
    issued: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, plan = plan_json(issued, capsys)
    assert code == 0, plan
    key = issued.shop1.run(f"stat -c '%a %U' /etc/dagsync/tls/{WWW}/privkey.pem", check=True)
    assert key.stdout.split() == ["600", "root"]


def _engine_inputs(w: World) -> Any:
    repo = load_repository(w.root)
    overrides = load_overrides(w.root / ".dagsync-sandbox/hosts.json")
    options = RunOptions(kinds=frozenset({"tls"}))
    return repo, overrides, options


def test_plan_warns_30_days_before_expiry_and_apply_renews(issued: World) -> None:
    w = issued
    roots = w.ca.roots()
    before = served(w, WWW, roots)
    end = dt.datetime.strptime(before["notAfter"], "%b %d %H:%M:%S %Y %Z").replace(tzinfo=dt.UTC)
    repo, overrides, options = _engine_inputs(w)
    selection = Selection(servers=("shop1",))
    calm = engine.plan(repo, selection, overrides, options, now=end - dt.timedelta(days=31))
    assert calm.targets[0].changes == () and calm.targets[0].notes == ()
    soon = end - dt.timedelta(days=29)
    plan = engine.plan(repo, selection, overrides, options, now=soon)
    [target] = plan.targets
    assert [n.text for n in target.notes] == [
        f"{WWW}: the certificate expires on {end:%Y-%m-%d}, within 30 days"
    ]
    assert [c.summary for c in target.changes] == [f"renew {WWW} from letsencrypt"]
    report = engine.apply(repo, selection, overrides, options, lambda p: True, now=soon)
    assert [r.status.value for r in report.results] == ["applied"], report.results
    after = served(w, WWW, roots)  # the apply waited until nginx served it
    assert after["serialNumber"] != before["serialNumber"]
    assert names_of(after) == {WWW, BARE}


def test_a_name_added_in_git_is_reissued_into_the_certificate(
    issued: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = issued
    shop = w.root / SHOP
    saved = shop.read_text()
    extra = EXTRA  # in the CA's /etc/hosts since pebble started; no vhost names it until now
    data = yaml(shop)
    data["vhosts"][0]["aliases"].append(extra)
    write_yaml(shop, data)
    try:
        code, plan = plan_json(w, capsys)
        assert code == 2
        summaries = [c["summary"] for t in plan["targets"] for c in t["changes"]]
        assert f"reissue {WWW}: its names differ" in summaries
        assert run_apply(scope(w), yes=True, record=False) == 0
        assert names_of(served(w, extra, w.ca.roots())) == {WWW, BARE, extra}
        assert plan_json(w, capsys)[0] == 0
    finally:
        shop.write_text(saved)
