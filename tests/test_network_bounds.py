"""Bounds on what a client may claim or reach (attacker review findings 3, 7, 8 and 15):
public mail domains and DAG's own, sources that cover most of the Internet, blocklist entries,
reverse DNS, management ranges; in `dagsync.model.reserved`, and again in the renderers (defence in
depth). The rules' located findings are cases of tests/data/rules/cases-network.yaml."""

from __future__ import annotations

import datetime as dt
import re
from ipaddress import IPv4Address, ip_network
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dagsync.model.client import BlockedAddress, Client
from dagsync.model.policy import DagSettings, PrefixBound
from dagsync.model.reserved import blocked_problem, own_domains, public_index, reserved_domain
from dagsync.reconcile.hosts.blocklist import RefusedEntry, blocked_for
from dagsync.reconcile.hosts.work import works_from_repository
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.validate.repository import Repository, load_repository
from dagsync.validate.run import validate_repository
from test_hostile_fields import POLICY, sample_client

PROJECT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def _dag(**changes: Any) -> DagSettings:
    data = YAML(typ="safe").load((PROJECT / "policies" / "dag.yaml").read_text())
    data.update(changes)
    return DagSettings.model_validate(data)


DAG = _dag()


# --- finding 3: domains no client may claim ----------------------------------------------


def test_dags_own_domains_come_from_its_hosts_and_its_explicit_list() -> None:
    assert own_domains(DAG) == ("dagtechnologies.example", "dagtechnologies.fr")
    bare = _dag(own_domains=[])
    assert own_domains(bare) == ("dagtechnologies.example",)  # mx1/backup1 host names


@pytest.mark.parametrize(
    ("domain", "why"),
    [
        ("gmail.com", "`gmail.com` is a public mail provider's domain"),
        ("mail.gmail.com", "`gmail.com` is a public mail provider's domain"),
        ("yahoo.fr", "`yahoo.*` is a public mail provider's domain"),
        ("yahoo.co.uk", "`yahoo.*` is a public mail provider's domain"),
        ("shop.yahoo.co.uk", "`yahoo.*` is a public mail provider's domain"),
        ("gmx.de", "`gmx.*` is a public mail provider's domain"),
        ("orange.fr", "`orange.fr` is a public mail provider's domain"),
        ("dagtechnologies.example", "`dagtechnologies.example` is DAG Technologies' own domain"),
        ("support.dagtechnologies.fr", "`dagtechnologies.fr` is DAG Technologies' own domain"),
        ("cime-conseil.example", None),
        ("notgmail.com", None),  # a suffix of the text, not a parent domain
        ("yahoo.example.com", None),  # `yahoo` is not the registrable label here
        ("gmail.com.evil.example", None),
    ],
)
def test_reserved_domains_are_dags_and_public_providers_and_their_subdomains(
    domain: str, why: str | None
) -> None:
    assert reserved_domain(domain, DAG) == why


def _shared(domains: list[str]) -> mail.ClientMail:
    data = sample_client()
    data["mail"].update(domains=domains, external_forwards=[])
    return mail.ClientMail(Client.model_validate(data), POLICY, ())


def test_mail_renderer_refuses_a_public_providers_domain_with_the_settings() -> None:
    with pytest.raises(
        mc.ReservedDomain,
        match=re.escape(
            "client alpine-books declares the mail domain gmail.com: `gmail.com` is a public "
            "mail provider's domain, never a client's (policies/dag.yaml)"
        ),
    ):
        mail.desired([_shared(["alpine-books.example", "gmail.com"])], DAG)


def test_mail_renderer_refuses_dags_own_domain_with_the_settings() -> None:
    with pytest.raises(
        mc.ReservedDomain, match=re.escape("`dagtechnologies.example` is DAG Techno")
    ):
        mail.desired([_shared(["alpine-books.example", "dagtechnologies.example"])], DAG)


def test_mail_renderer_renders_the_clients_own_domains() -> None:
    state, _ = mail.desired([_shared(["alpine-books.example"])], DAG)
    assert [q.domain for q in state.quotas] == ["alpine-books.example"]


def test_plan_of_the_mail_hosts_passes_the_settings_to_the_renderer() -> None:
    """`plan_hosts` renders with policies/dag.yaml: the refusal happens before any host is
    contacted, for a repository whose validation was bypassed."""
    repo = load_repository(PROJECT, validate=False)
    config = repo.client("alpine-books")
    client = config.client.model_copy(
        update={
            "mail": config.client.mail.model_copy(
                update={"domains": ["alpine-books.example", "hotmail.fr"]}
            )
        }
    )
    clients = tuple(c.__class__(client, c.servers) if c is config else c for c in repo.clients)
    hostile = Repository(repo.root, repo.settings, clients)
    with pytest.raises(mc.ReservedDomain, match=re.escape("hotmail.fr: `hotmail.fr` is a public")):
        mail.plan_hosts(
            hostile,
            mail.clients_of(hostile, {c.id: POLICY for c in clients}),
            Overrides(),
            RunOptions(),
        )


# --- finding 7: sources that together are the whole Internet -----------------------------

BOUND = PrefixBound(ipv4=8, ipv6=16)


@pytest.mark.parametrize(
    ("sources", "index"),
    [
        (["any"], 0),
        (["0.0.0.0/0"], 0),
        (["::/0"], 0),
        (["0.0.0.0/1", "128.0.0.0/1"], 0),
        (["10.0.0.0/8"], None),  # exactly the bound: one organisation's block
        (["10.0.0.0/8", "11.0.0.0/32"], 0),  # one address more
        (["10.0.0.0/9", "10.128.0.0/9"], None),  # merges into the /8
        (["10.0.0.0/8", "10.0.0.0/9"], None),  # overlaps counted once
        (["203.0.113.1/32", "10.0.0.0/8", "12.0.0.0/8"], 1),  # the widest is reported
        (["2001::/16"], None),
        (["203.0.113.1/32", "2000::/15"], 1),
        (["2001:db8::/32", "0.0.0.0/2"], 1),  # per version: IPv4 is wide, IPv6 is not
    ],
)
def test_sources_covering_more_than_the_bound_count_as_the_whole_internet(
    sources: list[str], index: int | None
) -> None:
    parsed: list[object] = [s if s == "any" else ip_network(s) for s in sources]
    assert public_index(parsed, BOUND) == index


def test_many_disjoint_ninths_count_as_public() -> None:
    """Every other /9 of the space (64 networks, none adjacent): a quarter of IPv4."""
    ninths: list[object] = [ip_network(f"{2 * i}.0.0.0/9") for i in range(64)]
    assert public_index(ninths, BOUND) == 0


# --- finding 8: blocklist entries ---------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("0.0.0.0/0", "0.0.0.0/0 is wider than a /16 (blocklist_widest of policies/dag.yaml)"),
        ("::/0", "::/0 is wider than a /32 (blocklist_widest of policies/dag.yaml)"),
        ("198.51.0.0/15", "198.50.0.0/15"),
        ("198.51.0.0/16", None),
        ("2001:db8::/32", None),
        ("192.0.2.0/24", "192.0.2.0/24 covers DAG's management range 192.0.2.0/28"),
        ("192.0.2.70/32", "192.0.2.70/32 covers DAG's management range 192.0.2.64/29"),
    ],
)
def test_blocklist_entry_bounds(entry: str, problem: str | None) -> None:
    net = ip_network(entry, strict=False)
    found = blocked_problem(net, DAG)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_blocklist_entry_covering_a_storage_host_is_refused() -> None:
    dag = _dag()
    storages = [
        s.model_copy(update={"address": IPv4Address("198.51.100.250")})
        for s in dag.backup_storages[:1]
    ]
    dag = dag.model_copy(update={"backup_storages": storages + dag.backup_storages[1:]})
    assert blocked_problem(ip_network("198.51.100.0/24"), dag) == (
        "198.51.100.0/24 covers DAG's storage host sbg-backup-1"
    )


def _with_blocklist(repo: Repository, client_id: str, addresses: list[str]) -> Repository:
    config = repo.client(client_id)
    network = config.client.network
    items = [
        BlockedAddress(address=ip_network(a), reason="Attack", added_on=dt.date(2026, 11, 2))
        for a in addresses
    ]
    client = config.client.model_copy(
        update={"network": network.model_copy(update={"blocklist": items})}
    )
    clients = tuple(c.__class__(client, c.servers) if c is config else c for c in repo.clients)
    return Repository(repo.root, repo.settings, clients)


def test_shared_entry_covering_another_clients_server_is_refused_on_every_server() -> None:
    """velo-savoie shares its blocklist network-wide and blocks alpine-books' shop1
    (203.0.113.10): no server of any client gets a firewall rendered (the validator was
    bypassed); each server fails alone, with the reason."""
    repo = _with_blocklist(
        load_repository(PROJECT, validate=False), "velo-savoie", ["203.0.113.10/32"]
    )
    entries = blocked_for("alpine-books", repo.clients, repo.settings)
    assert [(str(e.network), type(e).__name__) for e in entries] == [
        ("203.0.113.10/32", "RefusedEntry")
    ]
    assert isinstance(entries[0], RefusedEntry)
    assert entries[0].problem == (
        "203.0.113.10/32 covers 203.0.113.10, an address of server alpine-books/shop1"
    )
    works = works_from_repository(repo, Selection(), Overrides(), NOW)
    errors = {w.target.key: w.error for w in works}
    assert set(errors) == {
        "alpine-books/shop1",
        "cime-conseil/dev1",
        "cime-conseil/prod1",
        "velo-savoie/db1",
        "velo-savoie/web1",
        "velo-savoie/web2",
    }
    assert all(
        e is not None
        and "blocklist entry of client velo-savoie refused: 203.0.113.10/32 covers "
        "203.0.113.10, an address of server alpine-books/shop1"
        in e
        for e in errors.values()
    ), errors


def test_wide_entries_are_refused_by_the_renderer_and_a_narrow_one_renders() -> None:
    base = load_repository(PROJECT, validate=False)
    repo = _with_blocklist(base, "velo-savoie", ["::/0", "0.0.0.0/1", "198.51.100.66/32"])
    works = {w.target.key: w for w in works_from_repository(repo, Selection(), Overrides(), NOW)}
    assert works["alpine-books/shop1"].error == (
        "not planned: blocklist entry of client velo-savoie refused: 0.0.0.0/1 is wider than "
        "a /16 (blocklist_widest of policies/dag.yaml) (and 1 more); fix the client's "
        "network.blocklist (dagsync validate)"
    )
    fine = _with_blocklist(base, "velo-savoie", ["198.51.100.66/32"])
    works = {w.target.key: w for w in works_from_repository(fine, Selection(), Overrides(), NOW)}
    assert all(w.error is None for w in works.values())


def test_an_entry_covering_another_clients_server_is_refused_on_its_own_servers_too() -> None:
    """Even unshared, a client's entry on another client's server address is refused: it
    would cut that client's server off this client's (e.g. a shared service)."""
    base = load_repository(PROJECT, validate=False)
    config = base.client("cime-conseil")
    network = config.client.network.model_copy(update={"share_blocklist_network_wide": False})
    unshared = config.client.model_copy(update={"network": network})
    clients = tuple(c.__class__(unshared, c.servers) if c is config else c for c in base.clients)
    repo = _with_blocklist(
        Repository(base.root, base.settings, clients), "cime-conseil", ["203.0.113.8/30"]
    )
    assert [
        type(e).__name__
        for e in blocked_for("cime-conseil", repo.clients, repo.settings)
        if e.client == "cime-conseil"
    ] == ["RefusedEntry"]
    assert [e.client for e in blocked_for("alpine-books", repo.clients, repo.settings)] == [
        "velo-savoie",
        "velo-savoie",
    ]


# --- finding 15: management ranges --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.0.0.0/0", "management range 0.0.0.0/0 is wider than a /24"),
        ("192.0.0.0/16", "management range 192.0.0.0/16 is wider than a /24"),
        ('"::/0"', "management range ::/0 is wider than a /48"),
        ('"2001:db8::/32"', "management range 2001:db8::/32 is wider than a /48"),
    ],
)
def test_a_wide_management_range_is_refused_where_it_is_declared(
    repo_copy: Path, value: str, message: str
) -> None:
    path = repo_copy / "policies" / "dag.yaml"
    text = path.read_text()
    line = text.splitlines().index("  - 192.0.2.64/29") + 1
    path.write_text(text.replace("  - 192.0.2.64/29\n", f"  - {value}\n"))
    findings = validate_repository(repo_copy, use_cache=False).findings
    errors = [(f.rule, f.file, f.line, f.column) for f in findings if f.severity.value == "error"]
    assert errors == [("SCH002", "policies/dag.yaml", line, 5)]
    assert message in next(f.message for f in findings if f.rule == "SCH002")


def test_a_narrow_management_range_is_accepted(repo_copy: Path) -> None:
    path = repo_copy / "policies" / "dag.yaml"
    path.write_text(path.read_text().replace("  - 192.0.2.64/29\n", '  - "2001:db8:1::/48"\n'))
    findings = validate_repository(repo_copy, use_cache=False).findings
    assert [f.rule for f in findings if f.severity.value == "error"] == []


def test_a_blocklist_entry_on_another_clients_server_names_both_places(repo_copy: Path) -> None:
    client = repo_copy / "clients" / "velo-savoie" / "client.yaml"
    client.write_text(
        client.read_text().replace("address: 198.51.100.66/32", "address: 203.0.113.10/32")
    )
    findings = validate_repository(repo_copy, use_cache=False).findings
    assert [(f.rule, f.file, f.line, f.column, f.related) for f in findings] == [
        (
            "REP015",
            "clients/velo-savoie/client.yaml",
            39,
            16,
            (("clients/alpine-books/servers/shop1.yaml", 9, 7),),
        )
    ]


def test_a_blocklist_entry_on_the_clients_own_server_is_not_refused(repo_copy: Path) -> None:
    client = repo_copy / "clients" / "velo-savoie" / "client.yaml"
    web1 = (repo_copy / "clients" / "velo-savoie" / "servers" / "web1.yaml").read_text()
    own = re.search(r"^ips: \[([0-9.]+)", web1, re.MULTILINE)
    assert own is not None
    client.write_text(
        client.read_text().replace("address: 198.51.100.66/32", f"address: {own[1]}/32")
    )
    assert validate_repository(repo_copy, use_cache=False).findings == ()


def test_an_entry_hidden_by_a_yaml_escape_is_still_found(repo_copy: Path) -> None:
    """The repository pass scans client.yaml files for networks before parsing any: an
    escape (`\\x32` is `2`) hides the address from a plain scan, so such a file is parsed."""
    client = repo_copy / "clients" / "velo-savoie" / "client.yaml"
    client.write_text(
        client.read_text().replace(
            "address: 198.51.100.66/32", 'address: "\\x32\\x30\\x33.0.113.10/32"'
        )
    )
    findings = validate_repository(repo_copy, use_cache=False).findings
    assert [(f.rule, f.line, f.column) for f in findings] == [("REP015", 39, 16)]
    assert findings[0].message.startswith("blocking 203.0.113.10/32 would cut off 203.0.113.10")
