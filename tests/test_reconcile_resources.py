"""Resource kinds as data: recorded command output -> parsed facts; desired + observed ->
changes (an idempotent case gives none); unreadable facts never lead to a removal."""

from __future__ import annotations

import datetime as dt
import json
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from dagsync.config.yamlio import load
from dagsync.model.client import Client
from dagsync.model.server import Server
from dagsync.reconcile.core import Action, Change, DiffOptions, Note, Target, Unknown
from dagsync.reconcile.hosts import accounts, firewall, rootaccess
from dagsync.reconcile.hosts.nft import parse_ruleset, render
from dagsync.reconcile.resource import BlockedEntry, CommandResult, ServerInputs

DATA = Path(__file__).parent / "data" / "reconcile"
SANDBOX_MANAGEMENT = ("192.0.2.0/28", "192.0.2.64/29", "10.203.0.1/32")
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)  # a Tuesday, 11:00 in Paris


def _model(name: str) -> Any:
    data, problem = load((DATA / "model" / f"{name}.yaml").read_text())
    assert problem is None
    return data


def server(name: str, **changes: Any) -> Server:
    return Server.model_validate({**_model(name), **changes})


def client(name: str = "velo-savoie", **changes: Any) -> Client:
    return Client.model_validate({**_model(name), **changes})


def inputs(
    srv: Server,
    owner: Client | None = None,
    *,
    management: tuple[str, ...] = SANDBOX_MANAGEMENT,
    blocked: tuple[BlockedEntry, ...] | None = None,
    now: dt.datetime = NOW,
) -> ServerInputs:
    owner = owner or client()
    if blocked is None:
        blocked = tuple(
            BlockedEntry(b.address, owner.id, b.reason) for b in owner.network.blocklist
        )
    return ServerInputs(
        Target(owner.id, srv.name, production=True),
        owner,
        srv,
        tuple(ip_network(m) for m in management),
        blocked,
        now,
    )


def nft_output(name: str, file_sha: str = "-", pending: str = "no") -> CommandResult:
    text = (DATA / "nft" / f"{name}.json").read_text()
    first = f"{file_sha}  {firewall.NFT_FILE}" if file_sha != "-" else "- absent"
    return CommandResult(0, f"{first}\npending {pending}\n{text}", "")


def only_changes(items: list[Change | Note]) -> list[Change]:
    return [i for i in items if isinstance(i, Change)]


# --- firewall ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded", "name"), [("converged-web1", "web1"), ("converged-db1", "db1")]
)
def test_firewall_recorded_after_apply_matches_desired_so_no_change(
    recorded: str, name: str
) -> None:
    desired, _ = firewall.desired(inputs(server(name)))
    observed = firewall.parse(nft_output(recorded, desired.sha256))
    assert isinstance(observed, firewall.FirewallObserved)
    assert firewall.diff(desired, observed, DiffOptions()) == []


def test_firewall_addresses_merged_into_a_range_by_nft_still_match_the_two_sources() -> None:
    ruleset = parse_ruleset((DATA / "nft" / "converged-db1.json").read_text())
    assert ruleset.table is not None
    text = render(ruleset.table, "x")
    assert "ip saddr { 203.0.113.41/32, 203.0.113.42/32 } tcp dport 3306" in text


def test_firewall_hand_made_drift_is_shown_rule_by_rule_and_element_by_element() -> None:
    desired, _ = firewall.desired(inputs(server("web1")))
    observed = firewall.parse(nft_output("drifted-web1", desired.sha256))
    assert isinstance(observed, firewall.FirewallObserved)
    assert observed.ruleset.other_tables == ("ip filter",)
    [change] = only_changes(firewall.diff(desired, observed, DiffOptions()))
    assert change.action is Action.UPDATE and change.payload["reload"] is True
    shown = {(d.sign, d.text) for d in change.details}
    assert ("-", "tcp dport 9999 accept") in shown
    assert (
        "+",
        "set blocked4: 198.51.100.66/32  (velo-savoie: SSH brute force against web1 "
        "(intrusion detection alert))",
    ) in shown
    assert any(s == "-" and t.startswith("# unparsed rule:") and "counter" in t for s, t in shown)


def test_firewall_on_a_host_without_the_table_creates_it() -> None:
    desired, _ = firewall.desired(inputs(server("web1")))
    observed = firewall.parse(nft_output("empty"))
    assert isinstance(observed, firewall.FirewallObserved) and observed.ruleset.table is None
    [change] = only_changes(firewall.diff(desired, observed, DiffOptions()))
    assert change.action is Action.CREATE
    assert change.payload["text"] == desired.text


def test_firewall_file_differing_from_a_matching_live_ruleset_is_rewritten_without_reload() -> None:
    desired, _ = firewall.desired(inputs(server("web1")))
    observed = firewall.parse(nft_output("converged-web1", "0" * 64))
    assert isinstance(observed, firewall.FirewallObserved)
    [change] = only_changes(firewall.diff(desired, observed, DiffOptions()))
    assert change.payload["reload"] is False


def test_firewall_left_unconfirmed_by_an_interrupted_apply_is_confirmed_again() -> None:
    desired, _ = firewall.desired(inputs(server("web1")))
    observed = firewall.parse(nft_output("converged-web1", desired.sha256, pending="yes"))
    assert isinstance(observed, firewall.FirewallObserved) and observed.pending_rollback
    [change] = only_changes(firewall.diff(desired, observed, DiffOptions()))
    assert change.payload["reload"] is True and "confirm" in change.summary


@pytest.mark.parametrize(
    "result",
    [
        CommandResult(127, "", "nft: command not found"),
        CommandResult(0, "- absent\npending no\n{not json", ""),
        CommandResult(1, "? unreadable\npending no\n{}", "sha256sum: Permission denied"),
        CommandResult(0, "garbage\n", ""),
    ],
)
def test_firewall_unreadable_ruleset_is_unknown_not_absent(result: CommandResult) -> None:
    assert isinstance(firewall.parse(result), Unknown)


def test_firewall_ruleset_order_management_before_blocklist_and_ports_with_sources() -> None:
    desired, _ = firewall.desired(inputs(server("db1")))
    lines = [line.strip() for line in desired.text.splitlines()]
    management = lines.index('ip saddr @management4 tcp dport 22 accept comment "management"')
    blocked = lines.index('ip saddr @blocked4 drop comment "blocklist"')
    established = lines.index("ct state established,related accept")
    assert management < blocked < established
    assert 'ip saddr 203.0.113.32/28 tcp dport 3306 accept comment "mariadb"' in lines
    assert "type filter hook input priority 0; policy drop;" in lines
    assert "elements = { 10.203.0.1/32, 192.0.2.0/28, 192.0.2.64/29 }" in lines


def test_firewall_icmp_off_keeps_ipv6_neighbour_discovery_only() -> None:
    quiet = server("web1", firewall={**_model("web1")["firewall"], "icmp": False})
    desired, _ = firewall.desired(inputs(quiet))
    assert "meta l4proto" not in desired.text
    assert "icmpv6 type { nd-neighbor-advert, nd-neighbor-solicit, nd-router-advert }" in (
        desired.text
    )


def test_firewall_overlapping_sources_are_collapsed_and_ipv6_gets_its_own_rule() -> None:
    port = {
        "protocol": "udp",
        "port": "6000-6010",
        "service": "x",
        "justification": "test",
        "sources": ["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/48"],
    }
    srv = server("web1", firewall={"icmp": True, "open_ports": [port]})
    desired, _ = firewall.desired(inputs(srv))
    assert 'ip saddr 10.0.0.0/8 udp dport 6000-6010 accept comment "x"' in desired.text
    assert 'ip6 saddr 2001:db8::/48 udp dport 6000-6010 accept comment "x"' in desired.text


def test_firewall_notes_a_blocked_network_overlapping_a_declared_source() -> None:
    blocked = (BlockedEntry(ip_network("203.0.113.40/29"), "other", "abuse"),)
    _, notes = firewall.desired(inputs(server("db1"), blocked=blocked))
    assert any("203.0.113.40/29 (blocked by other)" in n.text for n in notes)


# --- accounts ------------------------------------------------------------------------------


def recorded_accounts() -> accounts.AccountsObserved:
    text = (DATA / "accounts" / "shop1.txt").read_text()
    observed = accounts.parse(CommandResult(0, text, ""))
    assert isinstance(observed, accounts.AccountsObserved)
    return observed


def test_accounts_recorded_listing_parses_users_keys_and_locks() -> None:
    observed = recorded_accounts()
    assert [u.name for u in observed.users] == ["claire", "daemon", "gone", "olduser"]
    claire = observed.get("claire")
    assert claire is not None and claire.managed and not claire.locked
    assert claire.keys == (
        'restrict,command="internal-sftp" ssh-ed25519 '
        "AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr claire@alpine-books",
    )
    gone = observed.get("gone")
    assert gone is not None and gone.locked and gone.managed
    daemon = observed.get("daemon")
    assert daemon is not None and not daemon.managed and daemon.uid == 1


def test_accounts_converged_sftp_user_needs_nothing() -> None:
    desired, _ = accounts.desired(inputs(server("shop1"), client("alpine-books")))
    observed = recorded_accounts()
    changes = accounts.diff(desired, observed, DiffOptions())
    assert [c.resource for c in only_changes(changes)] == ["user olduser"]  # claire is fine


def test_accounts_undeclared_user_is_locked_by_default_and_deleted_with_allow_destroy() -> None:
    desired, _ = accounts.desired(inputs(server("shop1"), client("alpine-books")))
    observed = recorded_accounts()
    [lock] = only_changes(accounts.diff(desired, observed, DiffOptions()))
    assert lock.action is Action.LOCK and lock.resource == "user olduser"
    assert not lock.destructive
    assert any(d.sign == "-" and "old@laptop" in d.text for d in lock.details)
    destroy = only_changes(accounts.diff(desired, observed, DiffOptions(allow_destroy=True)))
    assert {(c.action, c.resource) for c in destroy} == {
        (Action.DELETE, "user olduser"),
        (Action.DELETE, "user gone"),
    }
    assert all(c.destructive for c in destroy)


def with_accounts(name: str, *changes: dict[str, Any]) -> Server:
    """Server `name` whose accounts are its first account updated by each of `changes`."""
    first = _model(name)["accounts"][0]
    return server(name, accounts=[{**first, **c} for c in changes])


def test_accounts_declaring_a_system_user_is_refused_with_a_note() -> None:
    desired, _ = accounts.desired(inputs(with_accounts("shop1", {"name": "daemon", "kind": "ssh"})))
    items = accounts.diff(desired, recorded_accounts(), DiffOptions())
    notes = [i for i in items if isinstance(i, Note)]
    assert any("daemon is a system account" in n.text for n in notes)
    assert not any(isinstance(i, Change) and i.resource == "user daemon" for i in items)


def test_accounts_new_user_is_created_and_changed_keys_are_listed() -> None:
    new_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINEWKEYNEWKEYNEWKEYNEWKEYNEWKEYNEWKEYNEWK1 c@new"
    srv = with_accounts("shop1", {"keys": [new_key]}, {"name": "newbie", "kind": "ssh"})
    desired, _ = accounts.desired(inputs(srv))
    changes = {
        c.resource: c
        for c in only_changes(accounts.diff(desired, recorded_accounts(), DiffOptions()))
    }
    assert changes["user newbie"].action is Action.CREATE
    assert changes["user newbie"].payload["shell"] == "/bin/bash"
    signs = {d.sign for d in changes["user claire"].details}
    assert signs == {"-", "+", " "}  # " ": the line saying why the account exists


def test_accounts_unreadable_listing_is_unknown() -> None:
    assert isinstance(accounts.parse(CommandResult(127, "", "getent: not found")), Unknown)
    assert isinstance(accounts.parse(CommandResult(0, "user\tx\n", "")), Unknown)


def test_accounts_ftp_accounts_are_noted_not_managed() -> None:
    srv = with_accounts("shop1", {"name": "ftpuser", "kind": "ftp"})
    desired, notes = accounts.desired(inputs(srv))
    assert desired == () and "FTP account ftpuser" in notes[0].text


# --- root access ---------------------------------------------------------------------------


def cime() -> Client:
    return client("cime-conseil")


def test_root_access_window_open_gives_the_owners_keys_until_the_end_of_the_slot() -> None:
    desired, notes = rootaccess.desired(inputs(server("dev1"), cime(), now=NOW))
    assert notes == ()
    [line] = desired.lines
    # window tue/thu 09:00-12:00 Paris: ends 11:00 UTC on 2026-11-24
    assert line.startswith('expiry-time="202611241100Z" ssh-ed25519 ')
    assert line.endswith("julien@cime-laptop")


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC),  # 12:00 Paris: closed at the end
        dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC),  # a Wednesday
        dt.datetime(2027, 9, 7, 8, 0, tzinfo=dt.UTC),  # after the window's end date
    ],
)
def test_root_access_window_closed_gives_nothing(when: dt.datetime) -> None:
    desired, _ = rootaccess.desired(inputs(server("dev1"), cime(), now=when))
    assert desired.lines == ()


def test_root_access_block_is_read_and_closing_it_removes_the_lines() -> None:
    out = 'block\nline\texpiry-time="202611241100Z" ssh-ed25519 AAAA k\n'
    observed = rootaccess.parse(CommandResult(0, out, ""))
    assert isinstance(observed, rootaccess.RootObserved) and observed.present
    closed, _ = rootaccess.desired(inputs(server("dev1"), cime(), now=NOW + dt.timedelta(days=1)))
    [change] = rootaccess.diff(closed, observed, DiffOptions())
    assert isinstance(change, Change) and change.payload["lines"] == []
    assert change.details[0].sign == "-"


def test_root_access_without_block_and_without_window_needs_nothing() -> None:
    observed = rootaccess.parse(CommandResult(0, "", ""))
    assert isinstance(observed, rootaccess.RootObserved)
    closed, _ = rootaccess.desired(inputs(server("web1")))
    assert rootaccess.diff(closed, observed, DiffOptions()) == []


def test_root_access_open_window_without_an_owned_account_is_noted() -> None:
    desired, notes = rootaccess.desired(inputs(server("dev1", accounts=[]), cime(), now=NOW))
    assert desired.lines == () and "no key to give" in notes[0].text


def test_encoded_facts_are_json() -> None:
    observed = firewall.parse(nft_output("converged-web1"))
    assert isinstance(observed, firewall.FirewallObserved)
    json.dumps(firewall.encode(observed))
    json.dumps(accounts.encode(recorded_accounts()))
