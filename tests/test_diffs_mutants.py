"""The reconcile diff functions' whole answers as literals (kind, action, resource, summary, every
detail line in order, and the payload's keys), on the recorded outputs of
tests/data/reconcile: written to kill the mutants that survived in `bench/mutation.py diffs`
(a detail's text, sign or order, a summary, an action)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note
from dagsync.reconcile.hosts import accounts, firewall, rootaccess
from dagsync.reconcile.resource import CommandResult
from test_reconcile_resources import (
    DATA,
    NOW,
    cime,
    client,
    inputs,
    nft_output,
    recorded_accounts,
    server,
    with_accounts,
)

NEW_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINEWKEYNEWKEYNEWKEYNEWKEYNEWKEYNEWKEYNEWK1 c@new"


def whole(items: Sequence[Change | Note]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i in items:
        if isinstance(i, Change):
            details = tuple((d.sign, d.text) for d in i.details)
            out.append(
                (i.kind, str(i.action), i.resource, i.summary, details, tuple(sorted(i.payload)))
            )
        else:
            out.append(("note", i.kind, i.text))
    return out


DRIFTED = [
    (
        "firewall",
        "update",
        "table inet dagsync",
        "update table inet dagsync",
        (
            (
                "+",
                "set blocked4: 198.51.100.66/32  (velo-savoie: SSH brute force against web1 (intrusion detection alert))",
            ),
            ("-", "tcp dport 9999 accept"),
            (
                "-",
                '# unparsed rule: [{"match": {"left": {"payload": {"field": "dport", "protocol": "tcp"}}, "op": "==", "right": 22}}, {"counter": {"bytes": 0, "packets": 0}}, {"accept": null}]',
            ),
        ),
        ("file", "reload", "sha256", "text"),
    )
]

EMPTY = [
    (
        "firewall",
        "create",
        "table inet dagsync",
        "create table inet dagsync",
        (
            (
                "+",
                "set blocked4: 198.51.100.66/32  (velo-savoie: SSH brute force against web1 (intrusion detection alert))",
            ),
            (
                "+",
                "set blocked4: 203.0.113.200/29  (velo-savoie: Credential stuffing on the shop login)",
            ),
            ("+", "set management4: 10.203.0.1/32"),
            ("+", "set management4: 192.0.2.0/28"),
            ("+", "set management4: 192.0.2.64/29"),
            ("+", "chain input"),
            ("+", 'meta iif "lo" accept'),
            ("+", 'ip saddr @management4 tcp dport 22 accept comment "management"'),
            ("+", 'ip6 saddr @management6 tcp dport 22 accept comment "management"'),
            ("+", 'ip saddr @blocked4 drop comment "blocklist"'),
            ("+", 'ip6 saddr @blocked6 drop comment "blocklist"'),
            ("+", "ct state established,related accept"),
            ("+", "ct state invalid drop"),
            ("+", 'meta l4proto { icmp, ipv6-icmp } accept comment "icmp"'),
            ("+", 'tcp dport 443 accept comment "https"'),
            (
                " ",
                "    because: B2B shop shop.velo-savoie.example behind OVH load balancing. (REQ-2023-010)",
            ),
            ("+", 'tcp dport 80 accept comment "http"'),
            (" ", "    because: Redirect to HTTPS and ACME challenges."),
        ),
        ("file", "reload", "sha256", "text"),
    )
]

FILE = [
    (
        "firewall",
        "update",
        "/etc/nftables.d/dagsync.nft",
        "rewrite /etc/nftables.d/dagsync.nft (the live ruleset already matches)",
        ((" ", "the file the host loads at boot differs from the live ruleset"),),
        ("file", "reload", "sha256", "text"),
    )
]

PENDING = [
    (
        "firewall",
        "update",
        "table inet dagsync",
        "confirm the ruleset (reload it commit-confirmed)",
        ((" ", "an interrupted apply left this ruleset unconfirmed, with its rollback armed"),),
        ("file", "reload", "sha256", "text"),
    )
]

LOCK = [
    (
        "accounts",
        "lock",
        "user olduser",
        "lock user olduser (no longer declared; --allow-destroy deletes it)",
        (("-", "key ssh-ed25519 …YOLDKEY1 old@laptop"),),
        ("home", "name"),
    )
]

DESTROY = [
    (
        "accounts",
        "delete",
        "user gone",
        "delete user gone and its home /home/gone (no longer declared)",
        (),
        ("home", "name"),
    ),
    (
        "accounts",
        "delete",
        "user olduser",
        "delete user olduser and its home /home/olduser (no longer declared)",
        (),
        ("home", "name"),
    ),
]

NEWKEYS = [
    (
        "accounts",
        "update",
        "user claire",
        "update sftp user claire",
        (
            ("-", 'key restrict,command="internal-sftp" ssh-ed25519 …9dm0z/Mr claire@alpine-books'),
            ("+", 'key restrict,command="internal-sftp" ssh-ed25519 …KEYNEWK1 c@new'),
            (" ", "    because: sftp account of Claire Martin"),
        ),
        ("adopt", "comment", "home", "keys", "name", "shell", "unlock"),
    ),
    (
        "accounts",
        "create",
        "user newbie",
        "create ssh user newbie (1 key(s))",
        (
            ("+", "key ssh-ed25519 …9dm0z/Mr claire@alpine-books"),
            (" ", "    because: ssh account of Claire Martin"),
        ),
        ("comment", "home", "keys", "name", "shell"),
    ),
    (
        "accounts",
        "lock",
        "user olduser",
        "lock user olduser (no longer declared; --allow-destroy deletes it)",
        (("-", "key ssh-ed25519 …YOLDKEY1 old@laptop"),),
        ("home", "name"),
    ),
]

GONE = [
    (
        "accounts",
        "update",
        "user gone",
        "update ssh user gone",
        (
            ("-", "shell /bin/sh"),
            ("+", "shell /bin/bash"),
            ("+", "unlock (declared again)"),
            ("+", "key ssh-ed25519 …9dm0z/Mr claire@alpine-books"),
            (" ", "    because: ssh account of Claire Martin"),
        ),
        ("adopt", "comment", "home", "keys", "name", "shell", "unlock"),
    ),
    (
        "accounts",
        "lock",
        "user olduser",
        "lock user olduser (no longer declared; --allow-destroy deletes it)",
        (("-", "key ssh-ed25519 …YOLDKEY1 old@laptop"),),
        ("home", "name"),
    ),
]

SHELL = [
    (
        "accounts",
        "update",
        "user claire",
        "update ssh user claire",
        (
            ("-", "shell /usr/sbin/nologin"),
            ("+", "shell /bin/bash"),
            ("-", 'key restrict,command="internal-sftp" ssh-ed25519 …9dm0z/Mr claire@alpine-books'),
            ("+", "key ssh-ed25519 …9dm0z/Mr claire@alpine-books"),
            (" ", "    because: ssh account of Claire Martin"),
        ),
        ("adopt", "comment", "home", "keys", "name", "shell", "unlock"),
    ),
    (
        "accounts",
        "lock",
        "user olduser",
        "lock user olduser (no longer declared; --allow-destroy deletes it)",
        (("-", "key ssh-ed25519 …YOLDKEY1 old@laptop"),),
        ("home", "name"),
    ),
]


def _firewall(name: str, file_sha: str = "-", pending: str = "no") -> list[Change | Note]:
    desired, _ = firewall.desired(inputs(server("web1")))
    sha = desired.sha256 if file_sha == "desired" else file_sha
    observed = firewall.parse(nft_output(name, sha, pending))
    assert isinstance(observed, firewall.FirewallObserved)
    return list(firewall.diff(desired, observed, DiffOptions()))


@pytest.mark.parametrize(
    ("recorded", "file_sha", "pending", "expected"),
    [
        ("drifted-web1", "desired", "no", DRIFTED),
        ("empty", "-", "no", EMPTY),
        ("converged-web1", "0" * 64, "no", FILE),
        ("converged-web1", "desired", "yes", PENDING),
    ],
    ids=["drifted", "empty", "file-only", "pending-rollback"],
)
def test_firewall_changes_whole(
    recorded: str, file_sha: str, pending: str, expected: list[tuple[Any, ...]]
) -> None:
    assert whole(_firewall(recorded, file_sha, pending)) == expected


def _accounts(srv_changes: tuple[dict[str, Any], ...] | None, allow_destroy: bool = False) -> Any:
    if srv_changes is None:
        desired, _ = accounts.desired(inputs(server("shop1"), client("alpine-books")))
    else:
        desired, _ = accounts.desired(inputs(with_accounts("shop1", *srv_changes)))
    return accounts.diff(desired, recorded_accounts(), DiffOptions(allow_destroy=allow_destroy))


@pytest.mark.parametrize(
    ("changes", "allow_destroy", "expected"),
    [
        (None, False, LOCK),
        (None, True, DESTROY),
        (({"keys": [NEW_KEY]}, {"name": "newbie", "kind": "ssh"}), False, NEWKEYS),
        (({}, {"name": "gone", "kind": "ssh"}), False, GONE),
        (({"kind": "ssh"},), False, SHELL),
    ],
    ids=[
        "undeclared-locked",
        "undeclared-deleted",
        "new-user-new-key",
        "locked-declared-again",
        "sftp-to-ssh",
    ],
)
def test_accounts_changes_whole(
    changes: tuple[dict[str, Any], ...] | None, allow_destroy: bool, expected: list[tuple[Any, ...]]
) -> None:
    assert whole(_accounts(changes, allow_destroy)) == expected


JULIEN = (
    'expiry-time="202611241100Z" ssh-ed25519 '
    "AAAAC3NzaC1lZDI1NTE5AAAAIMUDNFCZpuxxm/jUuDt6bs8t9qoj8YWIcPtkbyb8Izsu julien@cime-laptop"
)


def test_root_access_opened_then_closed_whole() -> None:
    opened, _ = rootaccess.desired(inputs(server("dev1"), cime(), now=NOW))
    nothing = rootaccess.parse(CommandResult(0, "", ""))
    assert isinstance(nothing, rootaccess.RootObserved)
    [grant] = rootaccess.diff(opened, nothing, DiffOptions())
    assert isinstance(grant, Change) and grant.kind == "root-access"
    assert (str(grant.action), grant.resource, grant.summary) == (
        "create",
        "/root/.ssh/authorized_keys",
        "root access for Julien Favre until 12:00 Paris time (REQ-2026-021)",
    )
    assert [(d.sign, d.text) for d in grant.details] == [
        ("+", JULIEN),
        (
            " ",
            "    because: root access window of Julien Favre: tue, thu 09:00-12:00 Paris time, "
            "2026-09-01 to 2027-08-31 (REQ-2026-021)",
        ),
    ]
    assert grant.payload == {"lines": [JULIEN]}
    present = rootaccess.parse(CommandResult(0, f"block\nline\t{JULIEN}\n", ""))
    assert isinstance(present, rootaccess.RootObserved)
    assert rootaccess.diff(opened, present, DiffOptions()) == []
    closed, _ = rootaccess.desired(inputs(server("dev1"), cime(), now=NOW + dt.timedelta(days=1)))
    [close] = rootaccess.diff(closed, present, DiffOptions())
    assert isinstance(close, Change)
    assert (str(close.action), close.resource, close.summary) == (
        "update",
        "/root/.ssh/authorized_keys",
        "close root access (no window open)",
    )
    assert [(d.sign, d.text) for d in close.details] == [("-", JULIEN)]
    assert close.payload == {"lines": []}


def _live(edit: Callable[[list[dict[str, Any]]], None]) -> list[tuple[str, str]]:
    """The firewall diff of web1 against its converged recording edited by `edit`."""
    desired, _ = firewall.desired(inputs(server("web1")))
    data = json.loads((DATA / "nft" / "converged-web1.json").read_text())
    edit(data["nftables"])
    out = f"{desired.sha256}  {firewall.NFT_FILE}\npending no\n{json.dumps(data)}"
    observed = firewall.parse(CommandResult(0, out, ""))
    assert isinstance(observed, firewall.FirewallObserved)
    [change] = firewall.diff(desired, observed, DiffOptions())
    assert isinstance(change, Change) and change.summary == "update table inet dagsync"
    return [(d.sign, d.text) for d in change.details]


def test_firewall_extra_elements_sets_chains_and_a_changed_policy_are_each_named() -> None:
    def drift(objects: list[dict[str, Any]]) -> None:
        for o in objects:
            if "set" in o and o["set"]["name"] == "blocked4":
                o["set"]["elem"].append("192.0.2.250")
            if "set" in o and o["set"]["name"] == "blocked6":
                o["set"]["flags"] = []
            if "chain" in o and o["chain"]["name"] == "input":
                o["chain"]["policy"] = "accept"
        objects.append(
            {"set": {"family": "inet", "name": "extra4", "table": "dagsync", "type": "ipv4_addr"}}
        )
        objects.append(
            {
                "chain": {
                    "family": "inet",
                    "table": "dagsync",
                    "name": "forward",
                    "type": "filter",
                    "hook": "forward",
                    "prio": 0,
                    "policy": "drop",
                }
            }
        )

    assert _live(drift) == [
        ("-", "set blocked4: 192.0.2.250/32"),
        ("~", "set blocked6: type or flags differ"),
        ("-", "set extra4"),
        ("-", "chain input: filter input 0 policy accept"),
        ("+", "chain input: filter input 0 policy drop"),
        ("-", "chain forward"),
    ]


def test_firewall_rule_changes_at_two_places_of_a_chain_are_both_shown() -> None:
    management = 'ip saddr @management4 tcp dport 22 accept comment "management"'

    def move(objects: list[dict[str, Any]]) -> None:
        rules = [i for i, o in enumerate(objects) if "rule" in o]
        second = objects.pop(rules[1])
        objects.append(second)  # the second rule, moved to the end of the chain

    assert _live(move) == [("+", management), ("-", management)]


def test_accounts_a_duplicated_key_is_its_own_detail() -> None:
    """A declared key present twice on the host is a `~` detail (nothing added or removed)."""
    text = (DATA / "accounts" / "shop1.txt").read_text()
    claire = next(line for line in text.splitlines() if line.startswith("key\tclaire\trestrict"))
    text = text.replace(claire, f"{claire}\n{claire}")
    observed = accounts.parse(CommandResult(0, text, ""))
    assert isinstance(observed, accounts.AccountsObserved)
    desired, _ = accounts.desired(inputs(server("shop1"), client("alpine-books")))
    assert whole(accounts.diff(desired, observed, DiffOptions())) == [
        (
            "accounts",
            "update",
            "user claire",
            "update sftp user claire",
            (("~", "key order or duplicates"), (" ", "    because: sftp account of Claire Martin")),
            ("adopt", "comment", "home", "keys", "name", "shell", "unlock"),
        ),
        (
            "accounts",
            "lock",
            "user olduser",
            "lock user olduser (no longer declared; --allow-destroy deletes it)",
            (("-", "key ssh-ed25519 …YOLDKEY1 old@laptop"),),
            ("home", "name"),
        ),
    ]


@pytest.mark.parametrize(
    ("recorded", "file_sha", "pending", "reload"),
    [
        ("drifted-web1", "desired", "no", True),
        ("empty", "-", "no", True),
        ("converged-web1", "0" * 64, "no", False),
        ("converged-web1", "desired", "yes", True),
    ],
    ids=["drifted", "empty", "file-only", "pending-rollback"],
)
def test_firewall_changes_reload_the_live_ruleset_unless_only_the_file_differs(
    recorded: str, file_sha: str, pending: str, reload: bool
) -> None:
    [change] = _firewall(recorded, file_sha, pending)
    assert isinstance(change, Change)
    assert change.payload["reload"] is reload
    assert change.payload["file"] == "/etc/nftables.d/dagsync.nft"


# Adoption and refusals: a declared user that already exists outside dagsync's group.

ALICE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIALICEALICEALICEALICEALICEALICEALICEALIC1 a@x"
ALICE = accounts.AccountSpec("alice", "sftp", "/usr/sbin/nologin", (ALICE_KEY,), "Alice")


def _found(
    uid: int = 1000,
    managed: bool = False,
    name: str = "alice",
    privileged: str | None = None,
    locked: bool = False,
    keys: tuple[str, ...] = (ALICE_KEY,),
) -> accounts.AccountsObserved:
    user = accounts.ObservedUser(
        name, uid, managed, "/usr/sbin/nologin", f"/srv/{name}", locked, keys,
        privileged=privileged,
    )  # fmt: skip
    return accounts.AccountsObserved((user,))


def test_an_existing_user_at_the_first_user_uid_is_adopted_as_it_is() -> None:
    assert accounts.diff([ALICE], _found(uid=1000), DiffOptions()) == [
        Change(
            "accounts",
            Action.UPDATE,
            "user alice",
            "update sftp user alice",
            (Detail(" ", "adopt the existing user alice (group dagsync-managed)"),),
            {
                "name": "alice",
                "shell": "/usr/sbin/nologin",
                "keys": [ALICE_KEY],
                "comment": "Alice",
                "home": "/srv/alice",
                "adopt": True,
                "unlock": False,
            },
        )
    ]


def test_an_adopted_locked_user_is_unlocked_in_the_same_change() -> None:
    (change,) = accounts.diff([ALICE], _found(locked=True, keys=()), DiffOptions())
    assert isinstance(change, Change)
    assert [(d.sign, d.text) for d in change.details] == [
        (" ", "adopt the existing user alice (group dagsync-managed)"),
        ("+", "unlock (declared again)"),
        ("+", "key ssh-ed25519 …ICEALIC1 a@x"),
    ]
    assert (change.payload["adopt"], change.payload["unlock"]) == (True, True)


def test_an_existing_user_below_the_first_user_uid_is_refused_as_a_system_account() -> None:
    assert accounts.diff([ALICE], _found(uid=999), DiffOptions()) == [
        Note("accounts", "refused: alice is a system account (uid 999); declare another name")
    ]


def test_a_managed_user_below_the_first_user_uid_is_updated() -> None:
    (change,) = accounts.diff([ALICE], _found(uid=999, managed=True, locked=True), DiffOptions())
    assert isinstance(change, Change)
    assert change.summary == "update sftp user alice"
    assert [(d.sign, d.text) for d in change.details] == [("+", "unlock (declared again)")]
    assert (change.payload["adopt"], change.payload["unlock"]) == (False, True)


def test_an_existing_reserved_or_privileged_user_is_never_adopted() -> None:
    ubuntu = accounts.AccountSpec("ubuntu", "ssh", "/bin/bash", (ALICE_KEY,), "U")
    assert accounts.diff([ubuntu], _found(name="ubuntu"), DiffOptions()) == [
        Note(
            "accounts",
            "refused: ubuntu is a reserved name (a cloud image's administrator or DAG's own): "
            "dagsync never adopts it; declare another name",
        )
    ]
    assert accounts.diff([ALICE], _found(privileged="member of sudo"), DiffOptions()) == [
        Note(
            "accounts",
            "refused: alice exists and is privileged (member of sudo): dagsync never adopts "
            "it; declare another name",
        )
    ]


@pytest.mark.parametrize(("locked", "locks"), [(False, True), (True, False)])
def test_an_undeclared_managed_user_without_keys_is_locked_unless_it_is(
    locked: bool, locks: bool
) -> None:
    found = _found(managed=True, locked=locked, keys=())
    expected = [
        Change(
            "accounts",
            Action.LOCK,
            "user alice",
            "lock user alice (no longer declared; --allow-destroy deletes it)",
            (),
            {"name": "alice", "home": "/srv/alice"},
        )
    ]
    assert accounts.diff([], found, DiffOptions()) == (expected if locks else [])
