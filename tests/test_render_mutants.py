"""The plan renderers' whole output, as literals, for one plan holding every kind of target (a
production server with each action, details and a note; facts that could not be read; a target
in error; an unchanged DAG host): text, text in colour, text with --changes-only, markdown, the
summary line and table. Written to kill the mutants that survived in
`bench/mutation.py renderers` (a word, a sign, a count, a column changed)."""

from __future__ import annotations

from dagsync.reconcile.core import Action, Change, Detail, Note, Target
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.render import render_markdown, render_text, summary_line, summary_table


def plan() -> Plan:
    web1 = TargetPlan(
        Target("velo-savoie", "web1", production=True),
        "203.0.113.41",
        changes=(
            Change(
                "firewall",
                Action.UPDATE,
                "table inet dagsync",
                "update table inet dagsync",
                (
                    Detail("+", "tcp dport 8080 accept"),
                    Detail("-", "tcp dport 9999 accept"),
                    Detail(" ", "context | pipe"),
                ),
            ),
            Change(
                "accounts",
                Action.CREATE,
                "user newbie",
                "create ssh user newbie (1 key(s))",
                (Detail("+", "key ssh-ed25519 …KEY c@new"),),
            ),
            Change("accounts", Action.LOCK, "user olduser", "lock user olduser"),
            Change("accounts", Action.DELETE, "user gone", "delete user gone"),
        ),
        notes=(Note("firewall", "blocked 198.51.100.0/24 overlaps a declared source"),),
    )
    db1 = TargetPlan(
        Target("velo-savoie", "db1"),
        "203.0.113.43",
        unknown=(("firewall", "nft: permission denied"),),
    )
    web2 = TargetPlan(
        Target("velo-savoie", "web2"),
        "203.0.113.42",
        error="cannot connect to 203.0.113.42:22: timed out",
    )
    mx1 = TargetPlan(Target("dag", "mx1"), "10.0.0.9")
    return Plan((db1, web1, web2, mx1), "2026-11-24T10:00:00+00:00", "abc1234", False, None)


TEXT = "Summary: 3 of 4 target(s) change or need attention, 1 in PRODUCTION:\n  target            kind    role        changes\n  velo-savoie/db1   server  -           unknown facts\n  velo-savoie/web1  server  PRODUCTION  firewall ~1, accounts +1 -1 ~1\n  velo-savoie/web2  server  -           ERROR: could not be planned\n\nvelo-savoie/db1 (203.0.113.43): no changes\n  ? firewall: unknown (nft: permission denied); nothing will be changed or removed for it\nvelo-savoie/web1 (203.0.113.41, production): 1 to add, 1 to change, 1 to lock, 1 to destroy\n  ~ firewall: update table inet dagsync\n      + tcp dport 8080 accept\n      - tcp dport 9999 accept\n        context | pipe\n  + accounts: create ssh user newbie (1 key(s))\n      + key ssh-ed25519 …KEY c@new\n  ~ accounts: lock user olduser\n  - accounts: delete user gone\n  note (firewall): blocked 198.51.100.0/24 overlaps a declared source\nvelo-savoie/web2 (203.0.113.42): ERROR\n  ! could not be planned: cannot connect to 203.0.113.42:22: timed out\ndag/mx1 (10.0.0.9): no changes\nPlan: 1 to add, 1 to change, 1 to lock, 1 to destroy, on 1 of 3 server(s) and 0 of 1 DAG target(s). 2 target(s) could not be fully read.\n"
COLOUR = "Summary: 3 of 4 target(s) change or need attention, 1 in PRODUCTION:\n  target            kind    role        changes\n  velo-savoie/db1   server  -           unknown facts\n  velo-savoie/web1  server  PRODUCTION  firewall ~1, accounts +1 -1 ~1\n  velo-savoie/web2  server  -           ERROR: could not be planned\n\nvelo-savoie/db1 (203.0.113.43): no changes\n\x1b[31m  ? firewall: unknown (nft: permission denied); nothing will be changed or removed for it\x1b[0m\nvelo-savoie/web1 (203.0.113.41, production): 1 to add, 1 to change, 1 to lock, 1 to destroy\n\x1b[33m  ~ firewall: update table inet dagsync\x1b[0m\n\x1b[32m      + tcp dport 8080 accept\x1b[0m\n\x1b[31m      - tcp dport 9999 accept\x1b[0m\n        context | pipe\n\x1b[32m  + accounts: create ssh user newbie (1 key(s))\x1b[0m\n\x1b[32m      + key ssh-ed25519 …KEY c@new\x1b[0m\n\x1b[33m  ~ accounts: lock user olduser\x1b[0m\n\x1b[31m  - accounts: delete user gone\x1b[0m\n  note (firewall): blocked 198.51.100.0/24 overlaps a declared source\nvelo-savoie/web2 (203.0.113.42): ERROR\n\x1b[31m  ! could not be planned: cannot connect to 203.0.113.42:22: timed out\x1b[0m\ndag/mx1 (10.0.0.9): no changes\nPlan: 1 to add, 1 to change, 1 to lock, 1 to destroy, on 1 of 3 server(s) and 0 of 1 DAG target(s). 2 target(s) could not be fully read.\n"
CHANGES_ONLY = "Summary: 3 of 4 target(s) change or need attention, 1 in PRODUCTION:\n  target            kind    role        changes\n  velo-savoie/db1   server  -           unknown facts\n  velo-savoie/web1  server  PRODUCTION  firewall ~1, accounts +1 -1 ~1\n  velo-savoie/web2  server  -           ERROR: could not be planned\n\nvelo-savoie/db1 (203.0.113.43): no changes\n  ? firewall: unknown (nft: permission denied); nothing will be changed or removed for it\nvelo-savoie/web1 (203.0.113.41, production): 1 to add, 1 to change, 1 to lock, 1 to destroy\n  ~ firewall: update table inet dagsync\n      + tcp dport 8080 accept\n      - tcp dport 9999 accept\n        context | pipe\n  + accounts: create ssh user newbie (1 key(s))\n      + key ssh-ed25519 …KEY c@new\n  ~ accounts: lock user olduser\n  - accounts: delete user gone\n  note (firewall): blocked 198.51.100.0/24 overlaps a declared source\nvelo-savoie/web2 (203.0.113.42): ERROR\n  ! could not be planned: cannot connect to 203.0.113.42:22: timed out\nPlan: 1 to add, 1 to change, 1 to lock, 1 to destroy, on 1 of 3 server(s) and 0 of 1 DAG target(s). 2 target(s) could not be fully read.\n"
MARKDOWN = "### dagsync plan\n\nPlan: 1 to add, 1 to change, 1 to lock, 1 to destroy, on 1 of 3 server(s) and 0 of 1 DAG target(s). 2 target(s) could not be fully read.\n\n| Server | Address | Add | Change | Lock | Destroy | Status |\n|---|---|---:|---:|---:|---:|---|\n| `velo-savoie/db1` | 203.0.113.43 | 0 | 0 | 0 | 0 | ⚠️ unknown facts |\n| `velo-savoie/web1` (prod) | 203.0.113.41 | 1 | 1 | 1 | 1 | changes |\n| `velo-savoie/web2` | 203.0.113.42 | 0 | 0 | 0 | 0 | ⚠️ error |\n\n_1 unchanged target(s) not listed._\n\n<details><summary><b>velo-savoie/db1</b>: no changes</summary>\n\n```diff\n  ? firewall: unknown (nft: permission denied); nothing will be changed or removed for it\n```\n\n</details>\n<details><summary><b>velo-savoie/web1</b>: 1 to add, 1 to change, 1 to lock, 1 to destroy</summary>\n\n```diff\n  ~ firewall: update table inet dagsync\n+     tcp dport 8080 accept\n-     tcp dport 9999 accept\n        context | pipe\n+ accounts: create ssh user newbie (1 key(s))\n+     key ssh-ed25519 …KEY c@new\n  ~ accounts: lock user olduser\n- accounts: delete user gone\n  note (firewall): blocked 198.51.100.0/24 overlaps a declared source\n```\n\n</details>\n<details><summary><b>velo-savoie/web2</b>: error</summary>\n\n```diff\n  ! could not be planned: cannot connect to 203.0.113.42:22: timed out\n```\n\n</details>\n"
SUMMARY = "Plan: 1 to add, 1 to change, 1 to lock, 1 to destroy, on 1 of 3 server(s) and 0 of 1 DAG target(s). 2 target(s) could not be fully read."
TABLE = [
    "Summary: 3 of 4 target(s) change or need attention, 1 in PRODUCTION:",
    "  target            kind    role        changes",
    "  velo-savoie/db1   server  -           unknown facts",
    "  velo-savoie/web1  server  PRODUCTION  firewall ~1, accounts +1 -1 ~1",
    "  velo-savoie/web2  server  -           ERROR: could not be planned",
    "",
]


def test_the_text_plan_whole() -> None:
    assert render_text(plan()) == TEXT


def test_the_text_plan_in_colour_whole() -> None:
    assert render_text(plan(), colour=True) == COLOUR


def test_the_text_plan_with_changes_only_whole() -> None:
    assert render_text(plan(), changes_only=True) == CHANGES_ONLY


def test_the_markdown_plan_whole() -> None:
    assert render_markdown(plan()) == MARKDOWN


def test_the_summary_line_and_table_whole() -> None:
    assert summary_line(plan()) == SUMMARY
    assert summary_table(plan()) == TABLE


TRUNCATED = "### dagsync plan\n\nPlan: 1 to add, 1 to change, 1 to lock, 1 to destroy, on 1 of 3 server(s) and 0 of 1 DAG target(s). 2 target(s) could not be fully read.\n\n| Server | Address | Add | Change | Lock | Destroy | Status |\n|---|---|---:|---:|---:|---:|---|\n| `velo-savoie/db1` | 203.0.113.43 | 0 | 0 | 0 | 0 | ⚠️ unknown facts |\n| `velo-savoie/web1` (prod) | 203.0.113.41 | 1 | 1 | 1 | 1 | changes |\n| `velo-savoie/web2` | 203.0.113.42 | 0 | 0 | 0 | 0 | ⚠️ error |\n\n_1 unchanged target(s) not listed._\n\n<details><summary><b>velo-savoie/db1</b>: no changes</summary>\n\n```diff\n  ? firewall: unknown (nft: permission denied); nothing will be changed or removed for it\n```\n\n</details>\n<details><summary><b>velo-savoie/web1</b>: 1 to add, 1 to change, 1 to lock, 1 to destroy</summary>\n\n```diff\n  ~ firewall: update table inet dagsync\n+     tcp dport 8080 accept\n-     tcp dport 9999 accept\n        context | pipe\n+ accounts: create ssh user newbie (1 key(s))\n+     key ssh-ed25519 …KEY c@new\n  ~ accounts: lock user olduser\n- accounts: delete user gone\n  note (firewall): blocked 198.51.100.0/24 overlaps a declared source\n```\n\n</details>\n\n_Truncated: 1 more server(s) not shown to stay under 1,500 characters; run `dagsync plan --format json` for the whole plan._\n"
QUIET_MARKDOWN = "### dagsync plan\n\nNo changes: 1 DAG target(s) match the configuration.\n\n\n"
QUIET_TEXT = (
    "dag/mx1 (10.0.0.9): no changes\nNo changes: 1 DAG target(s) match the configuration.\n"
)


def test_markdown_stops_before_its_limit_and_says_how_many_servers_are_left() -> None:
    assert render_markdown(plan(), limit=1500) == TRUNCATED


def test_nothing_to_change_is_one_sentence_without_a_table() -> None:
    quiet = Plan((TargetPlan(Target("dag", "mx1"), "10.0.0.9"),), "2026-11-24T10:00:00+00:00")
    assert render_markdown(quiet) == QUIET_MARKDOWN
    assert render_text(quiet) == QUIET_TEXT


def test_markdown_escapes_the_summary_names_the_override_file_and_defuses_fences() -> None:
    odd = TargetPlan(
        Target("a|b", "c<d>"),
        "10.0.0.1",
        changes=(Change("firewall", Action.CREATE, "t", "create t", (Detail("+", "```code```"),)),),
    )
    sandbox = "/srv/repo/.dagsync-sandbox/hosts.json"
    text = render_markdown(Plan((odd,), "2026-11-24T10:00:00+00:00", None, False, sandbox))
    assert "_Hosts override file in effect: `.dagsync-sandbox/hosts.json`._\n" in text
    assert "<details><summary><b>a\\|b/c&lt;d&gt;</b>: 1 to add</summary>\n" in text
    assert text.endswith("```diff\n+ firewall: create t\n+     '''code'''\n```\n\n</details>\n")


# A second plan: an unchanged target first, an OVH service set, two changes of one kind and
# sign, no production server, a hosts override file outside a sandbox folder.


def mixed() -> Plan:
    from dagsync.reconcile.core import Transport

    idle = TargetPlan(Target("velo-savoie", "db1"), "203.0.113.43")
    web1 = TargetPlan(
        Target("velo-savoie", "web1"),
        "203.0.113.41",
        changes=(
            Change("accounts", Action.CREATE, "user a", "create ssh user a (0 key(s))"),
            Change("accounts", Action.CREATE, "user b", "create ssh user b (0 key(s))"),
        ),
    )
    ovh = TargetPlan(
        Target("velo-savoie", "ovh", transport=Transport.OVH),
        "eu.api.ovh.com",
        changes=(Change("reverse_dns", Action.UPDATE, "ip 203.0.113.41", "set reverse"),),
    )
    mx1 = TargetPlan(Target("dag", "mx1"), "10.0.0.9")
    return Plan((idle, web1, ovh, mx1), "2026-11-24T10:00:00+00:00", None, False, "/etc/h.json")


MIXED_SUMMARY = (
    "Plan: 2 to add, 1 to change, 0 to lock, 0 to destroy, on 1 of 2 server(s), 1 of 1 OVH "
    "service set(s) and 0 of 1 DAG target(s)."
)
MIXED_TABLE = (
    "Summary: 2 of 4 target(s) change or need attention:\n"
    "  target            kind             role  changes\n"
    "  velo-savoie/web1  server           -     accounts +2\n"
    "  velo-savoie/ovh   OVH service set  -     reverse_dns ~1\n"
    "\n"
)


def test_a_plan_with_an_ovh_service_set_and_an_override_file_as_text_whole() -> None:
    assert render_text(mixed(), changes_only=True) == (
        "(hosts override file in effect: h.json)\n"
        + MIXED_TABLE
        + "velo-savoie/web1 (203.0.113.41): 2 to add\n"
        "  + accounts: create ssh user a (0 key(s))\n"
        "  + accounts: create ssh user b (0 key(s))\n"
        "velo-savoie/ovh (eu.api.ovh.com): 1 to change\n"
        "  ~ reverse_dns: set reverse\n" + MIXED_SUMMARY + "\n"
    )


def test_a_plan_with_an_ovh_service_set_and_an_override_file_as_markdown_whole() -> None:
    assert render_markdown(mixed()) == (
        "### dagsync plan\n\n" + MIXED_SUMMARY + "\n\n"
        "_Hosts override file in effect: `h.json`._\n\n"
        "| Server | Address | Add | Change | Lock | Destroy | Status |\n"
        "|---|---|---:|---:|---:|---:|---|\n"
        "| `velo-savoie/web1` | 203.0.113.41 | 2 | 0 | 0 | 0 | changes |\n"
        "| `velo-savoie/ovh` | eu.api.ovh.com | 0 | 1 | 0 | 0 | changes |\n\n"
        "_2 unchanged target(s) not listed._\n\n"
        "<details><summary><b>velo-savoie/web1</b>: 2 to add</summary>\n\n```diff\n"
        "+ accounts: create ssh user a (0 key(s))\n"
        "+ accounts: create ssh user b (0 key(s))\n```\n\n</details>\n"
        "<details><summary><b>velo-savoie/ovh</b>: 1 to change</summary>\n\n```diff\n"
        "  ~ reverse_dns: set reverse\n```\n\n</details>\n"
    )


def test_an_empty_plan_counts_zero_servers() -> None:
    empty = Plan((), "2026-11-24T10:00:00+00:00")
    assert summary_line(empty) == "No changes: 0 server(s) match the configuration."
    assert summary_table(empty) == []


def test_markdown_shows_a_block_that_ends_exactly_at_its_limit() -> None:
    """The limit keeps 300 characters for the truncation note: a first block that ends exactly
    300 characters before the limit is shown, one character more and it is not."""
    head, first = MARKDOWN.split("<details>", 2)[:2]
    end = len(head) + len("<details>") + len(first)
    assert render_markdown(plan(), limit=end + 300).startswith(MARKDOWN[:end] + "\n_Truncated: 2")
    shorter = render_markdown(plan(), limit=end + 299)
    assert shorter.startswith(head + "\n_Truncated: 3 more server(s)")
