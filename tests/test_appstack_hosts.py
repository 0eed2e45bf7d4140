"""Vhosts on a real nginx (Debian's) in a test host: written from the YAML, served, tested with
`nginx -t` before a reload, rolled back when the test fails, and left alone when dagsync did
not write them."""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import read_yaml, write_yaml
from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.reconcile.appstack import nginx, vhosts
from dagsync.reconcile.core import Action, Change, Target
from dagsync.reconcile.resource import ApplyOptions, Status
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
    endpoint,
    load_overrides,
)
from dagsync.reconcile.transport.session import HostSession
from dagsync.reconcile.transport.ssh import credentials
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.validate.repository import load_repository

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-appstack")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("app")
CLIENT = "alpine-books"
SHOP = f"clients/{CLIENT}/servers/shop1.yaml"
WWW = "www.alpine-books.example"
VHOST_FILE = f"{nginx.CONF_DIR}/dagsync-{WWW}.conf"
FOREIGN = "/etc/nginx/sites-enabled/default"


@dataclass
class World:
    lab: TestHosts
    root: Path

    @property
    def shop1(self) -> TestHost:
        return self.lab["shop1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := skip_reason():
        pytest.skip(reason)
    if shutil.which("nginx", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("nginx (Debian package) is not installed")
    base = tmp_path_factory.mktemp("appstack")
    with pytest.MonkeyPatch.context() as mp:
        for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV):
            mp.delenv(var, raising=False)
        mp.setenv(SANDBOX_ENV, "1")
        with testhosts(names=("shop1",), state_dir=base / "th", network=NET) as lab:
            root = base / "repo"
            for folder in ("policies", "schemas"):
                shutil.copytree(REPO / folder, root / folder)
            shutil.copytree(REPO / f"clients/{CLIENT}", root / f"clients/{CLIENT}")
            host = lab["shop1"]
            overrides = {
                "version": 1,
                "hosts": {
                    f"{CLIENT}/shop1": {
                        "address": host.address,
                        "port": 22,
                        "host_key": host.host_key_public,
                    }
                },
                "ssh_key": str(lab.client_key),
            }
            (root / ".dagsync-sandbox").mkdir()
            (root / ".dagsync-sandbox/hosts.json").write_text(json.dumps(overrides))
            yield World(lab, root)


def scope(w: World, **changes: Any) -> Scope:
    return Scope(
        w.root, **{"servers": ("shop1",), "kinds": ("vhosts",), "connect_timeout": 3.0, **changes}
    )


def apply(w: World, **changes: Any) -> int:
    return run_apply(scope(w, **changes), yes=True, record=False)


def plan_json(w: World, capsys: pytest.CaptureFixture[str], **changes: Any) -> tuple[int, Any]:
    capsys.readouterr()
    code = run_plan(scope(w, **changes), "json", detailed_exitcode=True)
    return code, json.loads(capsys.readouterr().out)


def changes_of(plan: Any) -> list[Any]:
    return [c for t in plan["targets"] for c in t.get("changes", [])]


def notes_of(plan: Any) -> list[str]:
    return [n["text"] for t in plan["targets"] for n in t.get("notes", [])]


def http_get(host: TestHost, name: str, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host.address, 80, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": name})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def session(w: World) -> HostSession:
    repo = load_repository(w.root)
    overrides = load_overrides(w.root / ".dagsync-sandbox/hosts.json")
    server = next(s for _, s in repo.servers() if s.name == "shop1")
    where = endpoint(f"{CLIENT}/shop1", server, overrides)
    return HostSession(Target(CLIENT, "shop1"), where, credentials("root", overrides)).open()


@pytest.fixture(scope="module")
def converged(world: World) -> World:
    assert apply(world) == 0
    return world


def test_declared_vhost_is_written_served_and_redirected_to_https(converged: World) -> None:
    w = converged
    text = w.shop1.run(f"cat {VHOST_FILE}", check=True).stdout
    assert text.startswith(nginx.HEADER + "\n")
    assert f'server_name "{WWW}" "alpine-books.example";' in text
    for name in (WWW, "alpine-books.example"):
        status, headers, _ = http_get(w.shop1, name, "/a?b=c")
        assert status == 301
        assert headers["Location"] == f"https://{name}/a?b=c"
    w.shop1.run(f"mkdir -p {nginx.ACME_WEBROOT}/.well-known/acme-challenge", check=True)
    w.shop1.run(f"echo token > {nginx.ACME_WEBROOT}/.well-known/acme-challenge/t1", check=True)
    assert http_get(w.shop1, WWW, "/.well-known/acme-challenge/t1")[0:1] == (200,)
    log = w.shop1.run(f"cat /var/log/nginx/{WWW}.access.log", check=True).stdout
    assert "/.well-known/acme-challenge/t1" in log


def test_second_apply_changes_nothing_and_foreign_files_are_reported_untouched(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    before = w.shop1.run(f"readlink {FOREIGN}; sha256sum {nginx.CONF_DIR}/*", check=True).stdout
    code, plan = plan_json(w, capsys)
    assert code == 0, plan
    assert changes_of(plan) == []
    assert f"'{FOREIGN}' was not written by dagsync: left alone" in notes_of(plan)
    assert apply(w) == 0
    after = w.shop1.run(f"readlink {FOREIGN}; sha256sum {nginx.CONF_DIR}/*", check=True).stdout
    assert after == before


def test_a_file_dagsync_did_not_write_at_a_vhost_path_is_never_overwritten(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    shop = w.root / SHOP
    saved = shop.read_text()
    hand = f"{nginx.CONF_DIR}/dagsync-extra.alpine-books.example.conf"
    w.shop1.run(f"printf '# written by hand\\n' > {hand}", check=True)
    data = read_yaml(shop)
    data["vhosts"].append({"domain": "extra.alpine-books.example"})
    write_yaml(shop, data)
    try:
        code, plan = plan_json(w, capsys)
        assert code == 0 and changes_of(plan) == []
        assert any(hand in n and "not written by dagsync" in n for n in notes_of(plan))
        assert apply(w) == 0
        assert w.shop1.run(f"cat {hand}", check=True).stdout == "# written by hand\n"
    finally:
        shop.write_text(saved)
        w.shop1.run(f"rm -f {hand}", check=True)


def test_a_bad_config_forced_past_the_validator_is_restored_and_nginx_keeps_serving(
    converged: World,
) -> None:
    w = converged
    good = w.shop1.run(f"cat {VHOST_FILE}", check=True).stdout
    bad = good.replace("location / {", "location / {\n        no_such_directive on;")
    forced = [
        Change(vhosts.KIND, Action.UPDATE, VHOST_FILE, "forced", (),
               {"op": "write", "path": VHOST_FILE, "text": bad, "sha256": ""}),
        Change(vhosts.KIND, Action.CREATE, f"{nginx.CONF_DIR}/dagsync-new.example.conf",
               "forced", (), {"op": "write", "path": f"{nginx.CONF_DIR}/dagsync-new.example.conf",
                              "text": "server { listen 80; server_name new.example; }\n"}),
    ]  # fmt: skip
    s = session(w)
    try:
        outcomes = vhosts.apply(s, forced, ApplyOptions())
    finally:
        s.close()
    assert [o.status for o in outcomes] == [Status.FAILED, Status.FAILED]
    assert "no_such_directive" in outcomes[0].message
    assert "previous files were restored" in outcomes[0].message
    assert w.shop1.run(f"cat {VHOST_FILE}", check=True).stdout == good
    assert w.shop1.run(f"ls {nginx.CONF_DIR}", check=True).stdout.split() == [f"dagsync-{WWW}.conf"]
    assert http_get(w.shop1, WWW)[0] == 301  # still up, still the old configuration


def test_an_undeclared_vhost_is_removed_only_with_allow_destroy(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    shop = w.root / SHOP
    saved = shop.read_text()
    data = read_yaml(shop)
    data["vhosts"].append({"domain": "old.alpine-books.example"})
    write_yaml(shop, data)
    try:
        assert apply(w) == 0
        assert http_get(w.shop1, "old.alpine-books.example")[0] == 404  # the apply waited
    finally:
        shop.write_text(saved)
    old = f"{nginx.CONF_DIR}/dagsync-old.alpine-books.example.conf"
    code, plan = plan_json(w, capsys)
    assert code == 0
    assert f"{old} is no longer declared: it is removed only with --allow-destroy" in notes_of(plan)
    code, plan = plan_json(w, capsys, allow_destroy=True)
    assert code == 2
    assert [(c["action"], c["resource"]) for c in changes_of(plan)] == [("delete", old)]
    assert apply(w, allow_destroy=True) == 0
    assert w.shop1.run(f"test -e {old}").returncode == 1
    assert plan_json(w, capsys, allow_destroy=True)[0] == 0


def test_a_quoted_string_reaches_nginx_exactly_as_written(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The renderer's quoting, proven by nginx itself: a value full of nginx syntax
    (quotes, backslashes, `;`, braces, `#`) comes back byte for byte in a response header."""
    w = converged
    hostile = "a\"b\\c;d{e}#f 'g' } server { listen 81; }"
    good = w.shop1.run(f"cat {VHOST_FILE}", check=True).stdout
    echo = "    add_header X-Echo " + nginx.string(hostile) + " always;\n"
    text = good.replace("    location / {", echo + "    location / {", 1)
    change = Change(vhosts.KIND, Action.UPDATE, VHOST_FILE, "forced", (),
                    {"op": "write", "path": VHOST_FILE, "text": text})  # fmt: skip
    s = session(w)
    try:
        assert [o.status for o in vhosts.apply(s, [change], ApplyOptions())] == [Status.APPLIED]
    finally:
        s.close()
    assert http_get(w.shop1, WWW)[1]["X-Echo"] == hostile
    assert w.shop1.run("ss -ltn | grep -c ':81 '").stdout.strip() == "0"
    assert apply(w) == 0  # back to the declared file
    assert plan_json(w, capsys)[0] == 0
