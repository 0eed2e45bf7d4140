"""Issue 19, point 4: a reviewer sees, under each port a plan opens, why it is open — the
port's justification and the client's request (id and summary from requests.yaml)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagsync.reconcile.core import Change, DiffOptions, Target
from dagsync.reconcile.hosts import firewall
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.render import render_markdown, render_text
from dagsync.reconcile.run import Selection
from dagsync.validate.repository import load_repository
from test_reconcile_resources import nft_output

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
HTTPS = 'tcp dport 443 accept comment "https"'
WHY = (
    "    because: B2B shop shop.velo-savoie.example behind OVH load balancing. (REQ-2023-010: "
    "Two load-balanced web servers and one database server for the B2B shop.)"
)


def _web1_change() -> Change:
    repo = load_repository(REPO)
    (inputs,) = server_inputs(repo, Selection(("velo-savoie",), ("web1",)), NOW)
    desired, _ = firewall.desired(inputs)
    observed = firewall.parse(nft_output("empty"))
    assert isinstance(observed, firewall.FirewallObserved)
    (change,) = firewall.diff(desired, observed, DiffOptions())
    assert isinstance(change, Change)
    return change


def test_an_opened_port_is_followed_by_its_justification_and_request_summary() -> None:
    texts = [(d.sign, d.text) for d in _web1_change().details]
    at = texts.index(("+", HTTPS))
    assert texts[at + 1] == (" ", WHY)


def test_the_request_reaches_the_pull_request_comment_and_the_terminal_plan() -> None:
    change = _web1_change()
    target = TargetPlan(Target("velo-savoie", "web1", production=True), "192.0.2.11", (change,))
    plan = Plan((target,), "2026-12-07T12:00:00Z")
    markdown = render_markdown(plan)
    lines = [line.strip() for line in markdown.splitlines()]
    at = next(i for i, line in enumerate(lines) if line.startswith("+") and line.endswith(HTTPS))
    assert lines[at + 1] == WHY.strip()
    assert markdown.index("```diff") < markdown.index(WHY.strip())  # inside the diff block
    assert WHY.strip() in render_text(plan)


def test_a_rule_that_stays_carries_no_reason_line() -> None:
    converged = firewall.parse(nft_output("converged-web1"))
    assert isinstance(converged, firewall.FirewallObserved)
    repo = load_repository(REPO)
    (inputs,) = server_inputs(repo, Selection(("velo-savoie",), ("web1",)), NOW)
    desired, _ = firewall.desired(inputs)
    changes = firewall.diff(desired, converged, DiffOptions())
    assert all(
        "because:" not in d.text for c in changes if isinstance(c, Change) for d in c.details
    )
