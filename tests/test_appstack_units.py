"""The vhosts resource without a host: the nginx renderer against hostile values, the parser
from recorded output, and the diff from desired + observed to changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagsync.reconcile.appstack import nginx, vhosts
from dagsync.reconcile.core import Action, Change, DiffOptions, Note, Unknown
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import Selection
from dagsync.reconcile.shell import UnsafeValue
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
CONF = nginx.CONF_DIR


def hexed(records: list[str], end: str = "\0") -> str:
    return "".join(r + end for r in records).encode().hex()


def recorded(
    entries: Sequence[str] = (),
    hashes: Sequence[str] = (),
    managed: Sequence[str] = (),
    installed: bool = True,
    running: bool = True,
) -> CommandResult:
    head = ["nginx yes" if installed else "nginx no", "running yes" if running else "running no"]
    body = [hexed(list(entries)), hexed(list(hashes)), hexed(list(managed), "//")]
    return CommandResult(0, "\n".join([*head, *body]) + "\n", "")


def inputs_of(server: str) -> object:
    repo = load_repository(REPO, validate=False)
    now = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
    return server_inputs(repo, Selection(servers=(server,)), now)[0]


def shop1() -> vhosts.VhostsDesired:
    state, notes = vhosts.desired(inputs_of("alpine-books/shop1"))  # type: ignore[arg-type]
    assert notes == ()
    return state


# --- renderer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        'www.example"; include /etc/shadow; #',
        "~^(?<x>.+)$",
        "*.example.com",
        "$host",
        "a.example\nserver_name evil",
        "a b.example",
        "",
        "a..example",
        "-a.example",
        "a.example;",
    ],
)
def test_a_hostile_server_name_is_refused(name: str) -> None:
    with pytest.raises(UnsafeValue):
        nginx.server_name(name)


def test_server_names_are_lower_case_without_the_final_dot() -> None:
    assert nginx.server_name("WWW.Example.COM.") == "www.example.com"


@pytest.mark.parametrize(
    "root",
    ["/etc", "/root/site", "/srv/../etc", "/srv/a b", "/var/www/$host", "srv/x", "/srv/x/",
     "/var/wwwx/y", "/srv/a\nb", "/"],
)  # fmt: skip
def test_a_document_root_outside_srv_and_var_www_or_unsafe_is_refused(root: str) -> None:
    with pytest.raises(UnsafeValue):
        nginx.site("a.example", (), root, False)


@given(st.text(min_size=1, max_size=40))
def test_an_nginx_string_is_quoted_whole_or_refused(value: str) -> None:
    try:
        out = nginx.string(value)
    except UnsafeValue:
        assert "$" in value or any(not c.isprintable() for c in value)
        return
    assert out[0] == out[-1] == '"'
    body = out[1:-1]
    # every `"` inside is escaped, so the string cannot end early
    i = 0
    decoded = []
    while i < len(body):
        if body[i] == "\\":
            decoded.append(body[i + 1])
            i += 2
        else:
            assert body[i] != '"'
            decoded.append(body[i])
            i += 1
    assert "".join(decoded) == value


def test_a_tls_vhost_redirects_http_and_serves_its_root_over_https() -> None:
    site = nginx.site("WWW.Shop.example", ["shop.example"], "/srv/shop", True)
    text = nginx.render(site, "c/s")
    assert text.startswith(nginx.HEADER + "\n# c/s\n")
    assert text.count('server_name "www.shop.example" "shop.example";') == 2
    assert "return 301 https://$host$request_uri;" in text
    assert 'ssl_certificate "/etc/dagsync/tls/www.shop.example/fullchain.pem";' in text
    assert 'access_log "/var/log/nginx/www.shop.example.access.log";' in text
    assert 'root "/srv/shop";' in text
    assert site.file_name == "dagsync-www.shop.example.conf"


def test_a_vhost_without_tls_serves_http_only() -> None:
    text = nginx.render(nginx.site("a.example", [], None, False), "c/s")
    assert "443" not in text and "return 301" not in text
    assert 'root "/var/www/a.example";' in text


# --- desired -------------------------------------------------------------------------------


def test_vhosts_of_an_apache_server_are_noted_not_managed() -> None:
    state, notes = vhosts.desired(inputs_of("cime-conseil/prod1"))  # type: ignore[arg-type]
    assert state == vhosts.VhostsDesired(None, ())
    assert notes == (Note("vhosts", "1 vhost(s) declared on apache: not managed yet"),)


def test_a_vhost_declared_twice_on_one_server_is_refused() -> None:
    from dataclasses import replace

    inputs = inputs_of("alpine-books/shop1")
    server = inputs.server  # type: ignore[attr-defined]
    twice = server.model_copy(update={"vhosts": [server.vhosts[0], server.vhosts[0]]})
    with pytest.raises(UnsafeValue, match="declared twice"):
        vhosts.desired(replace(inputs, server=twice))  # type: ignore[type-var]


# --- parse ---------------------------------------------------------------------------------


def test_the_read_is_parsed_into_files_with_their_names_decoded() -> None:
    sha = "a" * 64
    ours, default = CONF + "/dagsync-a.example.conf", "/etc/nginx/sites-enabled/default"
    odd = "/etc/nginx/sites-enabled/evil\nf /etc/nginx/conf.d/x.conf"
    result = recorded(
        [f"f {ours}", f"l {default}", f"f {odd}", "p /etc/nginx/conf.d/fifo"],
        [f"{sha}  {ours}", f"{sha}  {odd}"],
        [ours],
        running=False,
    )
    observed = vhosts.parse(result)
    assert isinstance(observed, vhosts.VhostsObserved)
    assert observed.installed and not observed.running
    assert observed.files == (
        vhosts.SeenFile(ours, "file", sha, True),
        vhosts.SeenFile(default, "link", None, False),
        vhosts.SeenFile(odd, "file", sha, False),
        vhosts.SeenFile("/etc/nginx/conf.d/fifo", "other", None, False),
    )


def test_no_nginx_folder_is_no_file() -> None:
    result = CommandResult(0, "nginx no\nrunning no\n\n\n\n", "")
    assert vhosts.parse(result) == vhosts.VhostsObserved(False, False, ())


@pytest.mark.parametrize(
    "result",
    [
        CommandResult(3, "nginx yes\nrunning yes\n", "find: Permission denied"),
        CommandResult(0, "", ""),
        CommandResult(0, "nginx maybe\nrunning yes\n\n\n\n", ""),
        CommandResult(0, "nginx yes\nrunning yes\nzz\n\n\n", ""),
        recorded([f"f {CONF}/a.conf"], []),  # a file without its digest: not read
        recorded([f"f {CONF}/a.conf"], [f"xyz  {CONF}/a.conf"]),
    ],
)
def test_an_unreadable_or_unexpected_read_is_unknown(result: CommandResult) -> None:
    assert isinstance(vhosts.parse(result), Unknown)


# --- diff ----------------------------------------------------------------------------------


def observed(*files: vhosts.SeenFile, installed: bool = True, running: bool = True) -> object:
    return vhosts.VhostsObserved(installed, running, files)


def diff(desired: vhosts.VhostsDesired, seen: object, destroy: bool = False) -> list[object]:
    return list(vhosts.diff(desired, seen, DiffOptions(destroy)))  # type: ignore[arg-type]


def test_an_absent_vhost_file_is_created_with_its_tls_placeholder_data() -> None:
    want = shop1()
    [change] = diff(want, observed())
    assert isinstance(change, Change) and change.action is Action.CREATE
    assert change.payload["path"] == f"{CONF}/dagsync-www.alpine-books.example.conf"
    assert change.payload["text"] == want.files[0].text
    assert change.payload["tls"]["names"] == ["www.alpine-books.example", "alpine-books.example"]


def test_a_converged_host_gives_nothing() -> None:
    want = shop1()
    file = want.files[0]
    assert diff(want, observed(vhosts.SeenFile(file.path, "file", file.sha256, True))) == []


def test_a_changed_dagsync_file_is_updated() -> None:
    want = shop1()
    [change] = diff(want, observed(vhosts.SeenFile(want.files[0].path, "file", "b" * 64, True)))
    assert isinstance(change, Change) and change.action is Action.UPDATE


@pytest.mark.parametrize("kind", ["file", "link", "other"])
def test_a_file_dagsync_did_not_write_at_a_vhost_path_is_noted_never_changed(kind: str) -> None:
    want = shop1()
    where = want.files[0].path
    out = diff(want, observed(vhosts.SeenFile(where, kind, None, False)), destroy=True)
    assert all(isinstance(o, Note) for o in out)
    assert "was not written by dagsync" in out[0].text  # type: ignore[attr-defined]


def test_nginx_missing_is_a_note_not_a_change() -> None:
    out = diff(shop1(), observed(installed=False, running=False))
    assert out == [
        Note("vhosts", "nginx is not installed: 1 vhost(s) cannot be written until it is")
    ]


def test_a_converged_but_stopped_nginx_is_started() -> None:
    want = shop1()
    file = want.files[0]
    seen = observed(vhosts.SeenFile(file.path, "file", file.sha256, True), running=False)
    [change] = diff(want, seen)
    assert isinstance(change, Change) and change.payload == {"op": "start"}


def test_an_undeclared_dagsync_vhost_is_deleted_only_with_allow_destroy() -> None:
    want = shop1()
    file = want.files[0]
    old = f"{CONF}/dagsync-old.example.conf"
    seen = observed(
        vhosts.SeenFile(file.path, "file", file.sha256, True),
        vhosts.SeenFile(old, "file", "c" * 64, True),
        vhosts.SeenFile(f"{CONF}/shop.conf", "file", "c" * 64, False),
        vhosts.SeenFile(f"{CONF}/dagsync-x.conf.dagsync-new", "file", "c" * 64, True),
    )
    kept = diff(want, seen)
    assert all(isinstance(o, Note) for o in kept)
    [delete] = [o for o in diff(want, seen, destroy=True) if isinstance(o, Change)]
    assert (delete.action, delete.resource) == (Action.DELETE, old)


def test_the_swap_refuses_a_path_that_is_not_a_dagsync_vhost_file() -> None:
    for where in (
        "/etc/passwd",
        f"{CONF}/../dagsync-a.conf",
        f"{CONF}/shop.conf",
        "dagsync-a.conf",
    ):
        change = Change("vhosts", Action.DELETE, where, "x", (), {"op": "delete", "path": where})
        with pytest.raises(UnsafeValue):
            vhosts.swap_script([change])


def test_the_read_is_the_same_for_every_server() -> None:
    assert vhosts.read(shop1()) == vhosts.read(None)  # the observer allows it as it is
