"""No client reaching another client's data (issue 13): a mail domain, a forward source, a
vhost name and a database name belong to one client.  The validator refuses a claim on
another client's name with a finding that names both places (REP012-REP014); the shared mail
renderer refuses, at render time, anything that would cross clients; a plan with a value no
renderer writes fails only its own server."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Run
from dagsync.config.document import ClientFiles
from dagsync.model.client import Client
from dagsync.reconcile.hosts.engine import _observe, target_plan
from dagsync.reconcile.hosts.work import works_from_repository
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.run import Selection
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.validate.indexing import index_client, read_claims
from dagsync.validate.repository import load_repository
from dagsync.validate.run import validate_repository
from test_hostile_fields import POLICY, sample_client

ALPINE = "clients/alpine-books/client.yaml"
CIME = "clients/cime-conseil/client.yaml"
PROD1 = "clients/cime-conseil/servers/prod1.yaml"
WEB1 = "clients/velo-savoie/servers/web1.yaml"
DB1 = "clients/velo-savoie/servers/db1.yaml"


def edit(root: Path, rel: str, old: str, new: str) -> None:
    text = (root / rel).read_text()
    assert old in text, f"{old!r} not in {rel}"
    (root / rel).write_text(text.replace(old, new, 1))


def position(root: Path, rel: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate((root / rel).read_text().splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {rel}")


def found(run: Run, rule: str) -> list[tuple[str, int, int, str]]:
    return sorted((f.file, f.line, f.column, f.message) for f in run.findings if f.rule == rule)


def test_a_forward_of_another_clients_address_is_refused_at_the_forward(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(
        repo_copy,
        CIME,
        "    - source: direction@cime-conseil.example\n",
        "    - source: claire.martin@alpine-books.example\n",
    )
    run = validate(repo_copy)
    assert run.code == 1
    line, column = position(repo_copy, CIME, "claire.martin@alpine-books.example")
    owner = "{}:{}:{}".format(ALPINE, *position(repo_copy, ALPINE, "alpine-books.example]"))
    assert found(run, "REP013") == [
        (
            CIME,
            line,
            column,
            "forward source `claire.martin@alpine-books.example` is not this client's address: "
            f"`alpine-books.example` belongs to client alpine-books (its mail domain at {owner}); "
            "a client forwards only the mail of its own domains",
        )
    ]


def test_a_forward_of_a_domain_no_client_hosts_is_refused(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(
        repo_copy, CIME, "source: direction@cime-conseil.example", "source: boss@elsewhere.example"
    )
    run = validate(repo_copy)
    assert [(f[0], f[3].split(":")[0]) for f in found(run, "REP013")] == [
        (CIME, "forward source `boss@elsewhere.example` is not this client's address")
    ]
    assert (
        "`elsewhere.example` is not a mail domain of client cime-conseil"
        in found(run, "REP013")[0][3]
    )


def test_a_vhost_alias_claiming_another_clients_mail_domain_is_refused_with_both_places(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(
        repo_copy,
        PROD1,
        "  - domain: portail.cime-conseil.example\n",
        "  - domain: portail.cime-conseil.example\n    aliases: [alpine-books.example]\n",
    )
    run = validate(repo_copy)
    line, column = position(repo_copy, PROD1, "alpine-books.example]")
    owner = "{}:{}:{}".format(ALPINE, *position(repo_copy, ALPINE, "alpine-books.example]"))
    assert found(run, "REP012") == [
        (
            PROD1,
            line,
            column,
            "vhost alias `alpine-books.example` belongs to client alpine-books: it is its mail "
            f"domain at {owner}; a domain belongs to one client",
        )
    ]


def test_a_mail_domain_or_a_name_under_another_clients_mail_domain_is_refused(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(
        repo_copy,
        CIME,
        "domains: [cime-conseil.example]",
        "domains: [cime-conseil.example, Alpine-Books.example.]",
    )
    edit(
        repo_copy,
        WEB1,
        "  - domain: shop.velo-savoie.example",
        "  - domain: shop.alpine-books.example",
    )
    run = validate(repo_copy, "json")
    claims = [(f[0], f[3].split(":")[0]) for f in found(run, "REP012")]
    assert claims == [
        (CIME, "mail domain `alpine-books.example` belongs to client alpine-books"),
        (WEB1, "vhost domain `shop.alpine-books.example` belongs to client alpine-books"),
    ]


def test_a_name_of_the_clients_own_is_not_a_claim(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(
        repo_copy,
        PROD1,
        "  - domain: portail.cime-conseil.example\n",
        "  - domain: portail.cime-conseil.example\n    aliases: [cime-conseil.example]\n",
    )
    run = validate(repo_copy)
    assert found(run, "REP012") == found(run, "REP013") == found(run, "REP014") == []


def test_a_database_name_of_another_client_is_refused(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, DB1, "    name: velo_shop", "    name: portal")
    run = validate(repo_copy)
    line, column = position(repo_copy, DB1, "portal")
    owner_line, owner_column = position(repo_copy, PROD1, "name: portal")
    owner = f"{PROD1}:{owner_line}:{owner_column + len('name: ')}"
    assert found(run, "REP014") == [
        (
            DB1,
            line,
            column,
            f"database name `portal` belongs to client cime-conseil (declared at {owner}): "
            "a database name belongs to one client",
        )
    ]


def test_changed_since_sees_the_claims_of_clients_it_does_not_validate(repo_copy: Path) -> None:
    """`validate --changed-since` only indexes the other clients (a quick word scan); a claim
    on one of their names is still found, with both places, because the files whose words
    meet a claim are parsed."""
    edit(
        repo_copy, CIME, "source: direction@cime-conseil.example", "source: x@alpine-books.example"
    )
    edit(repo_copy, PROD1, "    name: portal", "    name: shop")
    result = validate_repository(repo_copy, only=["cime-conseil"], use_cache=False)
    found = sorted((f.rule, f.file, f.related) for f in result.findings if f.rule.startswith("REP"))
    alpine = position(repo_copy, ALPINE, "alpine-books.example]")
    shop = position(repo_copy, "clients/alpine-books/servers/shop1.yaml", "    name: shop")
    assert found == [
        ("REP013", CIME, ((ALPINE, *alpine),)),
        ("REP014", PROD1, (("clients/alpine-books/servers/shop1.yaml", shop[0], shop[1] + 10),)),
    ]


def test_quick_index_gives_hints_not_claims_and_they_cover_what_the_parser_reads(
    repo_copy: Path,
) -> None:
    files = ClientFiles(
        "alpine-books",
        ALPINE,
        "clients/alpine-books/requests.yaml",
        ("clients/alpine-books/servers/shop1.yaml",),
    )
    index = index_client(repo_copy, files)
    assert index.mail_domains == index.vhost_names == index.databases == []
    hints = {(h.file, h.value) for h in index.claim_hints}
    read_claims(repo_copy, index, {h.file for h in index.claim_hints})
    assert index.claim_hints == []
    claims = [*index.mail_domains, *index.vhost_names, *index.databases]
    assert sorted(i.value for i in claims) == [
        "alpine-books.example",
        "alpine-books.example",
        "shop",
        "www.alpine-books.example",
    ]
    assert all((i.file, i.value) in hints for i in claims)


@pytest.mark.parametrize(
    "text",
    [
        "mail: {hosting: shared, domains: [a.example]}\n",
        'mail:\n  hosting: shared\n  domains:\n  - "b.example"\n',
        "id: x\nmail:\n  domains: [a.example]\n  external_forwards:\n"
        "  - {source: Boss@A.Example., target: t@c.example}\n",
        "mail :\n  domains: [a.example]\n",
        'mail:\n  domains: ["\\x61.example"]\n',
        "mail: {hosting: shared,\n  domains: [a.example]}\n",
    ],
)
def test_hints_cover_every_claim_or_the_scan_abstains(text: str) -> None:
    from dagsync.config.document import ClientIndex
    from dagsync.config.yamlio import load
    from dagsync.validate.indexing import claim_hints, index_client_claims

    data, problem = load(text)
    assert problem is None and isinstance(data, dict)
    exact = ClientIndex()
    index_client_claims("c.yaml", data, exact)
    hints = claim_hints("c.yaml", text, ("mail",))
    names = [*exact.mail_domains, *(f.value.rpartition("@")[2] for f in exact.forward_sources)]
    assert names  # every example claims something
    if hints is not None:
        words = {h.value for h in hints}
        assert {n if isinstance(n, str) else n.value for n in names} <= words
    else:
        assert any(mark in text for mark in ("\\", "&", "mail :"))


# --- the mail renderer, called directly with a crossing model ---------------------------------


def crossing_client() -> Client:
    """velo-savoie's YAML with shared mail and a forward of alpine-books' address, built
    without the validator's repository invariants."""
    data = sample_client()
    data.update(id="velo-savoie")
    data["mail"]["domains"] = ["velo-savoie.example"]
    return Client.model_validate(data)


def test_mail_renderer_refuses_a_forward_of_another_clients_address() -> None:
    alpine = Client.model_validate(
        {**sample_client(), "mail": {**sample_client()["mail"], "external_forwards": []}}
    )
    clients = [mail.ClientMail(alpine, POLICY, ()), mail.ClientMail(crossing_client(), POLICY, ())]
    with pytest.raises(
        mc.CrossTenant,
        match=re.escape(
            "client velo-savoie forwards claire.martin@alpine-books.example, an address of a "
            "domain of client alpine-books"
        ),
    ):
        mail.desired(clients)


def test_mail_renderer_refuses_one_domain_for_two_clients() -> None:
    alpine = Client.model_validate(sample_client())
    data = sample_client()
    data.update(id="velo-savoie")
    data["mail"]["external_forwards"] = []
    other = Client.model_validate(data)  # also declares alpine-books.example
    with pytest.raises(mc.CrossTenant, match="declared by clients alpine-books and velo-savoie"):
        mail.desired([mail.ClientMail(alpine, POLICY, ()), mail.ClientMail(other, POLICY, ())])


# --- a value no renderer writes fails its own server only -------------------------------------


def test_a_key_comment_with_a_carriage_return_fails_only_its_server(repo_copy: Path) -> None:
    """Validation refuses it; with the validator bypassed (`load_repository(validate=False)`
    builds the models, then the key is changed), planning still fails this server alone."""
    repo = load_repository(repo_copy, validate=False)
    config = repo.client("velo-savoie")
    web1 = next(s for s in config.servers if s.name == "web1")
    account = web1.accounts[0].model_copy(
        update={"keys": [web1.accounts[0].keys[0] + "\rssh-rsa AAAA x"]}
    )
    bad = web1.model_copy(update={"accounts": [account]})
    servers = tuple(bad if s.name == "web1" else s for s in config.servers)
    clients = tuple(
        c.__class__(c.client, servers) if c.id == "velo-savoie" else c for c in repo.clients
    )
    repo = repo.__class__(repo.root, repo.settings, clients)
    works = works_from_repository(
        repo, Selection(), Overrides(), dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    )
    by_key = {w.target.key: w for w in works}
    assert by_key["velo-savoie/web1"].error is not None
    assert "is not one OpenSSH public key line" in by_key["velo-savoie/web1"].error
    assert by_key["velo-savoie/web1"].reads == ()
    others = [k for k, w in by_key.items() if k != "velo-savoie/web1"]
    assert others and all(by_key[k].error is None and by_key[k].desired for k in others)
    observation = _observe(by_key["velo-savoie/web1"], None, None, keep=False, lock_holder=None)  # type: ignore[arg-type]
    assert observation.session is None
    plan = target_plan(observation, None)  # type: ignore[arg-type]
    assert plan.error == by_key["velo-savoie/web1"].error
    assert plan.changes == ()


def test_validate_refuses_a_key_comment_with_a_carriage_return_at_its_line(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINqaeBOuTTnm8n5IwSI4NE9tGQuVK66n1dZGfi6Wjeds"
    edit(repo_copy, WEB1, f"{key} deploy@velo-savoie-ci", f'"{key} deploy@velo\\rsavoie-ci"')
    run = validate(repo_copy)
    line, column = position(repo_copy, WEB1, f'"{key}')
    findings = [(f.file, f.line, f.column, f.rule) for f in run.findings if f.rule != "RUN001"]
    assert findings == [(WEB1, line, column, "SCH002")]
    message = next(f.message for f in run.findings if f.file == WEB1 and f.rule == "SCH002")
    assert (
        "no control character (CR, LF, NUL, tab) and no Unicode line separator anywhere" in message
    )
    assert "\r" not in run.out


def test_validate_refuses_the_backup_path_with_a_command_at_its_line(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    shop1 = "clients/alpine-books/servers/shop1.yaml"
    edit(repo_copy, shop1, "paths: [/srv/www]", 'paths: ["/srv/shop/uploads$(reboot)"]')
    run = validate(repo_copy)
    line, column = position(repo_copy, shop1, '"/srv/shop/uploads$(reboot)"')
    assert [(f.file, f.line, f.column, f.rule) for f in run.findings if f.rule != "RUN001"] == [
        (shop1, line, column, "SCH002")
    ]
    assert "an absolute, normalised path" in run.findings[0].message.lower()


def test_a_backup_path_no_renderer_writes_fails_only_its_server_in_the_backup_plan(
    repo_copy: Path,
) -> None:
    from ipaddress import IPv4Address

    from dagsync.reconcile.backup import driver
    from test_hostile_fields import STORAGE_KEY

    repo = load_repository(repo_copy, validate=False)
    storages = [
        s.model_copy(update={"address": IPv4Address("10.0.0.5"), "host_key": STORAGE_KEY})
        for s in repo.settings.backup_storages
    ]
    settings = repo.settings.model_copy(update={"backup_storages": storages})
    config = repo.client("velo-savoie")
    web1 = next(s for s in config.servers if s.name == "web1")
    backup = web1.backup.model_copy(update={"paths": ["/srv/shop\x00$(reboot)"]})
    bad = web1.model_copy(update={"backup": backup})
    servers = tuple(bad if s.name == "web1" else s for s in config.servers)
    clients = tuple(
        c.__class__(c.client, servers) if c.id == "velo-savoie" else c for c in repo.clients
    )
    run = driver.build(repo.__class__(repo.root, settings, clients), Selection(), Overrides())
    host, desired = run.servers["velo-savoie/web1"]
    assert desired is None
    assert host.error == "not planned: a path or name of the backup job contains a NUL character"
    others = {k: v for k, v in run.servers.items() if k != "velo-savoie/web1"}
    assert others and all(d is not None and h.error is None for h, d in others.values())
