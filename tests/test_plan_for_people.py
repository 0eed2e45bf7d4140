"""Plans a person reads at a glance: a summary first, servers, OVH service sets and DAG targets
counted apart, production marked, `--changes-only`, a PR comment of what changes only, and a
typed confirmation before production changes.  Snapshots are literal."""

from __future__ import annotations

import pytest

from dagsync.commands.confirm import ask as _ask
from dagsync.commands.confirm import production_question
from dagsync.reconcile.core import Action, Change, Detail, Target, Transport
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.render import render_markdown, render_text, summary_line


def _change(kind: str, action: Action, detail: str) -> Change:
    sign = {Action.CREATE: "+", Action.DELETE: "-"}.get(action, "~")
    return Change(kind, action, "r", "update", (Detail(sign, detail),), {})


def _target(
    client: str,
    name: str,
    *changes: Change,
    production: bool = False,
    transport: Transport = Transport.SSH,
    error: str | None = None,
) -> TargetPlan:
    return TargetPlan(
        Target(client, name, transport, production), "192.0.2.10", changes=changes, error=error
    )


PLAN = Plan(
    (
        _target(
            "velo-savoie",
            "web1",
            _change("firewall", Action.UPDATE, "tcp dport 8443 accept"),
            _change("accounts", Action.CREATE, "user deploy"),
            production=True,
        ),
        _target("velo-savoie", "web2", production=True),
        _target("cime-conseil", "dev1", _change("accounts", Action.LOCK, "user intern")),
        _target("velo-savoie", "web1@ovh", production=True, transport=Transport.OVH),
        _target("dag", "sbg-backup-1", _change("backup-storage", Action.UPDATE, "key web1")),
        _target("dag", "mx1", error="cannot connect"),
    ),
    "2026-12-07T10:00:00+00:00",
    "abc123",
    False,
    "/home/runner/_work/repo/.dagsync-sandbox/hosts.json",
)


def test_the_summary_line_counts_servers_ovh_and_dag_targets_apart() -> None:
    assert summary_line(PLAN) == (
        "Plan: 1 to add, 2 to change, 1 to lock, 0 to destroy, on 2 of 3 server(s), "
        "0 of 1 OVH service set(s) and 1 of 2 DAG target(s). 1 target(s) could not be fully read."
    )
    quiet = Plan((_target("a", "web1"), _target("a", "web1@ovh", transport=Transport.OVH)), "t")
    assert summary_line(quiet) == (
        "No changes: 1 server(s) and 1 OVH service set(s) match the configuration."
    )


def test_the_terminal_plan_opens_with_a_summary_table_and_hides_the_runners_folders() -> None:
    text = render_text(PLAN, changes_only=True)
    assert text.splitlines()[:7] == [
        "(hosts override file in effect: .dagsync-sandbox/hosts.json)",
        "Summary: 4 of 6 target(s) change or need attention, 1 in PRODUCTION:",
        "  target             kind        role        changes",
        "  velo-savoie/web1   server      PRODUCTION  firewall ~1, accounts +1",
        "  cime-conseil/dev1  server      -           accounts ~1",
        "  dag/sbg-backup-1   DAG target  -           backup-storage ~1",
        "  dag/mx1            DAG target  -           ERROR: could not be planned",
    ]
    assert "velo-savoie/web2" not in text and "web1@ovh" not in text  # --changes-only
    assert "velo-savoie/web2 (192.0.2.10, production): no changes" in render_text(PLAN)


def test_the_pr_comment_lists_only_what_changes_with_relative_paths() -> None:
    markdown = render_markdown(PLAN)
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert table == [
        "| Server | Address | Add | Change | Lock | Destroy | Status |",
        "|---|---|---:|---:|---:|---:|---|",
        "| `velo-savoie/web1` (prod) | 192.0.2.10 | 1 | 1 | 0 | 0 | changes |",
        "| `cime-conseil/dev1` | 192.0.2.10 | 0 | 0 | 1 | 0 | changes |",
        "| `dag/sbg-backup-1` | 192.0.2.10 | 0 | 1 | 0 | 0 | changes |",
        "| `dag/mx1` | 192.0.2.10 | 0 | 0 | 0 | 0 | ⚠️ error |",
    ]
    assert "_2 unchanged target(s) not listed._" in markdown
    assert "/home/runner" not in markdown
    assert "_Hosts override file in effect: `.dagsync-sandbox/hosts.json`._" in markdown


def test_production_changes_ask_for_their_count_before_applying(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert production_question(PLAN) == (
        "1 PRODUCTION target(s) will change (velo-savoie/web1). Type 1 to apply",
        "1",
    )
    answers = iter(["y", "1"])
    monkeypatch.setattr("click.prompt", lambda *a, **k: next(answers))
    assert _ask(PLAN) is False  # "y" is not the count
    assert "not applied: the answer was not 1" in capsys.readouterr().err
    assert _ask(PLAN) is True
    no_production = Plan((_target("a", "dev1", _change("accounts", Action.CREATE, "u")),), "t")
    assert production_question(no_production) is None
    monkeypatch.setattr("click.confirm", lambda *a, **k: True)
    assert _ask(no_production) is True
