"""OVH resources in the plan, end to end: the example clients against the OVH API emulator,
through the real python-ovh client (``dagsync.ovhapi.client.connect(url=emu.url)``, 127.0.0.1 only)."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from dagsync.errors import DagsyncError
from dagsync.ovhapi.access import ACCESS_RULES
from dagsync.ovhapi.backup import list_backup_access
from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.client import connect as ovh_connect
from dagsync.ovhapi.credentials import ENV_VARS, URL_ENV
from dagsync.ovhapi.errors import OvhRateLimited
from dagsync.ovhapi.firewall import create_rule, firewall_rules, get_firewall, wait_rule_ok
from dagsync.ovhapi.limits import RetryBudget, RetryPolicy
from dagsync.ovhapi.reverse import get_reverse
from dagsync.ovhapi.servers import get_server, set_monitoring
from dagsync.ovhapi.shapes import EdgeRule, PortRange
from dagsync.reconcile.core import Action, Change, Target
from dagsync.reconcile.daghosts import merge_plans
from dagsync.reconcile.ovh import driver
from dagsync.reconcile.ovh.apply import OvhOptions
from dagsync.reconcile.ovh.desired import server_desired
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.render import render_json, render_markdown, render_text
from dagsync.reconcile.report import ApplyReport, HostStatus
from dagsync.reconcile.resource import Status
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.inventory import Endpoint, Overrides
from dagsync.reconcile.transport.session import Timeouts
from dagsync.sandbox.ovh import account_fixture
from dagsync.testing.ovh_api.faults import Fault
from dagsync.testing.ovh_api.fixture import load_account
from dagsync.testing.ovh_api.pipeline import LoggedRequest
from dagsync.testing.ovh_api.progress import NEVER, Delay
from dagsync.testing.ovh_api.server import OvhEmulator
from dagsync.validate.repository import Repository, load_repository

PROJECT = Path(__file__).resolve().parents[1]
FAST = OvhOptions(rule_timeout=60, firewall_timeout=60, task_timeout=60, interval=5)
SHOP1 = "ns3012345.ip-203-0-113.eu"
SHOP1_IP = "203.0.113.10"
SHOP1_BLOCK = f"{SHOP1_IP}/32"
WEB2 = "ns3200002.ip-203-0-113.eu"
VELO = ("ns3200001.ip-203-0-113.eu", "ns3200003.ip-203-0-113.eu", "203.0.113.41", "203.0.113.43")
ALPINE = Selection(clients=("alpine-books",))
EVERYTHING = Selection()
PORT_80 = (
    "    - protocol: tcp\n      port: 80\n      service: http\n      sources: [any]\n"
    "      public: true\n      justification: Public shop, redirects to HTTPS.\n"
)


class FakeTime:
    """A clock that only moves when something sleeps (backoff, polling)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No OVH credentials from the outside; HOME and the current directory are empty."""
    for name in (*ENV_VARS.values(), URL_ENV):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "home")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the example clients and policies."""
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, tmp_path / "repo" / folder)
    return tmp_path / "repo"


@pytest.fixture
def repo(root: Path) -> Repository:
    return load_repository(root)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@contextmanager
def running(account: dict[str, Any]) -> Iterator[OvhEmulator]:
    with OvhEmulator(account) as emulator:
        yield emulator
        assert emulator.internal_errors == []
        signed = [r for r in emulator.requests if not r.path.startswith("/auth/")]
        assert [
            r for r in signed if not any(a.covers(r.method, r.path) for a in ACCESS_RULES)
        ] == []


def connect(
    emu: OvhEmulator, monkeypatch: pytest.MonkeyPatch, fake: FakeTime, key: str | None = None
) -> OvhApi:
    monkeypatch.setenv("OVH_APPLICATION_KEY", emu.application_key)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", emu.application_secret)
    monkeypatch.setenv("OVH_CONSUMER_KEY", key or emu.consumer_key)
    return ovh_connect(
        url=emu.url,
        timeout=5,
        max_rate_per_minute=60_000,
        burst=1_000,
        clock=fake.clock,
        sleep=fake.sleep,
        jitter=lambda ceiling: ceiling,
    )


def plan(repo: Repository, api: OvhApi | None, selection: Selection = EVERYTHING) -> Plan:
    return driver.plan(repo, selection, Overrides(), RunOptions(), api=api)


def apply(
    repo: Repository,
    api: OvhApi,
    selection: Selection = EVERYTHING,
    *,
    check: Callable[[Target], bool] = lambda target: True,
    confirm: Callable[[Plan], bool] = lambda plan: True,
) -> ApplyReport:
    return driver.apply(
        repo,
        selection,
        Overrides(),
        RunOptions(),
        confirm,
        api=api,
        ovh_options=FAST,
        check_access=check,
    )


def target(plan_or_report: Plan | ApplyReport, key: str) -> Any:
    items = plan_or_report.targets if isinstance(plan_or_report, Plan) else plan_or_report.results
    return next(t for t in items if t.target.key == key)


def mutations(emu: OvhEmulator) -> list[LoggedRequest]:
    return [r for r in emu.requests if r.method != "GET"]


def edge(api: OvhApi, address: str = SHOP1_IP) -> tuple[bool | None, list[str]]:
    """(enabled, the rules as described, with their state unless ok), or (None, []) when
    not on the firewall."""
    block = f"{address}/32"
    firewall = get_firewall(api, block, address)
    if firewall is None:
        return None, []
    rules = firewall_rules(api, block, address)
    states = [f" [{r.state}]" if r.state != "ok" else "" for r in rules]
    return firewall.enabled, [r.rule.describe() + s for r, s in zip(rules, states, strict=True)]


def desired_rules(repo: Repository, name: str) -> list[str]:
    config, server = next((c, s) for c, s in repo.servers() if s.name == name)
    desired = server_desired(config.id, server, repo.settings.management_ranges)
    return [r.describe() for r in desired.edges[0].rules]


def refuse(plan: Plan) -> bool:
    raise AssertionError("confirm must not be asked when nothing changes")


def edit(root: Path, old: str, new: str) -> Repository:
    path = root / "clients/alpine-books/servers/shop1.yaml"
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    return load_repository(root)


# -- convergence ------------------------------------------------------------------------------


def test_a_fresh_account_converges_in_one_apply_and_the_second_apply_changes_nothing(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    account = account_fixture(repo)
    shop1 = next(s for s in account["servers"] if s["name"] == SHOP1)
    shop1["monitoring"] = False
    undeclared = {"ipBlock": SHOP1_BLOCK, "ftp": True, "nfs": True, "cifs": False}
    shop1["backupFTP"] = {"activated": True, "access": [undeclared]}
    with running(account) as emu:
        api = connect(emu, monkeypatch, fake)
        first = apply(repo, api)
        assert first.ok and not first.changed_nothing
        assert {r.target.key: r.status for r in first.results} == {
            "dag/ovh-account": HostStatus.UNCHANGED,
            **{f"{c.id}/{s.name}@ovh": HostStatus.APPLIED for c, s in repo.servers()},
        }
        for _, server in repo.servers():
            assert edge(api, str(server.ips[0])) == (True, desired_rules(repo, server.name))
        assert get_server(api, SHOP1).monitoring is True
        assert list_backup_access(api, SHOP1) == []
        reverse = get_reverse(api, SHOP1_BLOCK, SHOP1_IP)
        assert reverse is not None and reverse.name == "shop1.alpine-books.example."
        emu.clear_requests()
        second = apply(repo, api, confirm=refuse)
        assert second.changed_nothing and mutations(emu) == []
        assert not plan(repo, api).has_changes


def test_ovh_targets_render_beside_ssh_targets_in_text_markdown_and_json(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        ovh_plan = plan(repo, connect(emu, monkeypatch, fake), ALPINE)
    ssh_target = Target("alpine-books", "shop1", production=True)
    rewrite = Change("firewall", Action.UPDATE, "/etc/nftables.d/dagsync.nft", "rewrite")
    ssh_plan = Plan((TargetPlan(ssh_target, SHOP1_IP, changes=(rewrite,)),), "2026-12-01T00:00:00")
    merged = merge_plans(ssh_plan, ovh_plan)
    text = render_text(merged)
    assert "alpine-books/shop1 (203.0.113.10, production): 1 to change" in text
    assert f"alpine-books/shop1@ovh ({SHOP1}, production): 9 to add, 1 to change" in text
    assert "  + ovh-firewall: #19 deny ipv4 from any (final deny)" in text
    markdown = render_markdown(merged)
    assert f"| `alpine-books/shop1@ovh` (prod) | {SHOP1} | 9 | 1 | 0 | 0 | changes |" in markdown
    assert "+ ovh-firewall: #19 deny ipv4 from any (final deny)" in markdown
    data = json.loads(render_json(merged))
    assert [t["target"]["transport"] for t in data["targets"]] == ["ssh", "ovh"]
    assert Plan.loads(render_json(merged)).targets == merged.targets


def test_a_saved_plan_applies_while_the_account_matches_it_and_is_refused_once_it_drifts(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        saved = Plan.loads(plan(repo, api, ALPINE).dumps())
        set_monitoring(api, SHOP1, False)  # drift after the plan was saved
        with pytest.raises(DagsyncError, match=r"alpine-books/shop1@ovh: ovh-inventory changed"):
            driver.apply(repo, ALPINE, Overrides(), RunOptions(), refuse, api=api, saved=saved)
        assert get_firewall(api, SHOP1_BLOCK, SHOP1_IP) is None  # nothing applied
        set_monitoring(api, SHOP1, True)
        report = driver.apply(
            repo,
            ALPINE,
            Overrides(),
            RunOptions(),
            lambda p: True,
            api=api,
            ovh_options=FAST,
            check_access=lambda t: True,
            saved=saved,
        )
        assert report.ok and edge(api) == (True, desired_rules(repo, "shop1"))


# -- asynchronous states, faults, access rules ---------------------------------------------------


def test_a_rule_stuck_in_creation_pending_times_out_naming_it_and_a_rerun_converges(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        emu.set_delays(rule_creation=NEVER)
        stuck = target(apply(repo, api, ALPINE), "alpine-books/shop1@ovh")
        assert stuck.status is HostStatus.FAILED
        failed = [o.message for o in stuck.outcomes if o.status is Status.FAILED]
        assert failed[0].startswith(
            "timed out after 60 s waiting for edge firewall rule 0 of 203.0.113.10 to become "
            "ok; its last state was creationPending"
        )
        assert edge(api)[0] is False  # neither the final deny nor the enabling happened
        assert "#19 deny ipv4 from any" not in edge(api)[1]
        emu.set_delays(rule_creation=Delay(polls=1))
        rerun = apply(repo, api, ALPINE)
        assert rerun.ok and edge(api) == (True, desired_rules(repo, "shop1"))
        assert not plan(repo, api, ALPINE).has_changes


def test_bursts_of_429_and_503_are_survived(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        emu.inject(Fault.rate_limited(), count=3)
        emu.inject(Fault.unavailable(), count=3, method="POST")
        report = apply(repo, api)
        statuses = [r.status for r in emu.requests]
        assert report.ok and statuses.count(429) == 3 and statuses.count(503) == 3
        assert fake.sleeps  # backed off
        assert not plan(repo, api).has_changes


def test_a_too_narrow_consumer_key_names_the_missing_access_rule(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        no_rules = [
            (r.method, r.path) for r in ACCESS_RULES if str(r) != "POST /ip/*/firewall/*/rule"
        ]
        api = connect(emu, monkeypatch, fake, emu.add_credential(no_rules))
        shop1 = target(apply(repo, api, ALPINE), "alpine-books/shop1@ovh")
        assert shop1.status is HostStatus.FAILED
        refused = next(o.message for o in shop1.outcomes if o.status is Status.FAILED)
        assert "lacks the access rule POST /ip/*/firewall/*/rule" in refused
        assert "dagsync ovh credentials" in refused
        no_reads = [(r.method, r.path) for r in ACCESS_RULES if str(r) != "GET /ip/*"]
        blind = connect(emu, monkeypatch, fake, emu.add_credential(no_reads))
        unread = target(plan(repo, blind, ALPINE), "alpine-books/shop1@ovh")
        assert unread.changes == ()
        assert [kind for kind, _ in unread.unknown] == ["ovh-firewall", "ovh-reverse"]
        assert all("lacks the access rule GET /ip/*" in reason for _, reason in unread.unknown)


# -- inventory --------------------------------------------------------------------------------


def test_a_declared_server_missing_from_the_account_is_an_error_and_its_client_is_untouched(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    account = account_fixture(repo)
    account["servers"] = [s for s in account["servers"] if s["name"] != WEB2]
    with running(account) as emu:
        api = connect(emu, monkeypatch, fake)
        planned = plan(repo, api)
        assert target(planned, "velo-savoie/web2@ovh").error.startswith(
            f"{WEB2} is not in the OVH account vl19538-ovh"
        )
        for name in ("web1", "db1"):
            sibling = target(planned, f"velo-savoie/{name}@ovh")
            assert (
                sibling.changes == () and "velo-savoie/web2 has an inventory error" in sibling.error
            )
        report = apply(repo, api)
        statuses = {r.target.key: r.status for r in report.results}
        assert statuses["velo-savoie/web2@ovh"] is HostStatus.FAILED
        assert (
            statuses["velo-savoie/web1@ovh"]
            is statuses["velo-savoie/db1@ovh"]
            is HostStatus.SKIPPED
        )
        assert statuses["alpine-books/shop1@ovh"] is HostStatus.APPLIED
        assert [r for r in emu.requests if any(v in r.path for v in VELO)] == []


def test_a_server_in_another_datacenter_is_an_error_with_nothing_changed(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    account = account_fixture(repo)
    next(s for s in account["servers"] if s["name"] == SHOP1)["datacenter"] = "rbx8"
    with running(account) as emu:
        api = connect(emu, monkeypatch, fake)
        report = apply(repo, api, ALPINE)
        shop1 = target(report, "alpine-books/shop1@ovh")
        assert shop1.status is HostStatus.FAILED
        assert (
            shop1.message
            == f"{SHOP1} is in datacenter rbx8 in the OVH account, not gra3 as declared"
        )
        assert mutations(emu) == []


def test_an_account_server_that_no_client_declares_is_reported(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    account = account_fixture(repo)
    account["servers"].append({"name": "ns3999999.ip-192-0-2.eu", "ip": "192.0.2.200"})
    with running(account) as emu:
        planned = plan(repo, connect(emu, monkeypatch, fake))
    notes = [n.text for n in target(planned, "dag/ovh-account").notes]
    assert notes == ["ns3999999.ip-192-0-2.eu is in the OVH account but no client declares it"]


# -- changing the edge firewall ------------------------------------------------------------------


def _rule_path(sequence: int | None = None) -> str:
    base = f"/ip/{SHOP1_IP}%2F32/firewall/{SHOP1_IP}/rule"
    return base if sequence is None else f"{base}/{sequence}"


def test_removing_a_declared_port_deletes_its_rule_and_nothing_else(
    root: Path, repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        assert apply(repo, api, ALPINE).ok
        smaller = edit(root, PORT_80, "")
        planned = target(plan(smaller, api, ALPINE), "alpine-books/shop1@ovh")
        assert [(c.action, c.resource, c.summary) for c in planned.changes] == [
            (Action.DELETE, f"{SHOP1_IP} #3", "#3 permit tcp from any to port 80 (not declared)")
        ]
        emu.clear_requests()
        assert apply(smaller, api, ALPINE).ok
        assert [(r.method, r.path) for r in mutations(emu)] == [("DELETE", _rule_path(3))]
        assert edge(api)[1] == [r for r in desired_rules(repo, "shop1") if "port 80" not in r]


def test_a_changed_port_is_opened_first_then_the_old_one_closed_and_the_final_deny_stays(
    root: Path, repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        assert apply(repo, api, ALPINE).ok
        moved = edit(root, "      port: 80\n", "      port: 8080\n")
        emu.clear_requests()
        report = apply(moved, api, ALPINE)
        assert report.ok
        assert [(r.method, r.path) for r in mutations(emu)] == [
            ("POST", _rule_path()),
            ("DELETE", _rule_path(3)),
        ]
        calls = [(r.method, r.path) for r in emu.requests]
        created = calls.index(("GET", _rule_path(6)), calls.index(("POST", _rule_path())))
        assert created < calls.index(("DELETE", _rule_path(3)))  # waited for ok before deleting
        assert edge(api)[0] is True
        assert "#6 permit tcp from any to port 8080" in edge(api)[1]
        assert not any("port 80 " in r or r.endswith("port 80") for r in edge(api)[1])
        assert not plan(moved, api, ALPINE).has_changes


def test_lost_management_access_restores_the_previous_edge_rules(
    root: Path, repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        assert apply(repo, api, ALPINE).ok
        before = edge(api)
        moved = edit(root, "      port: 80\n", "      port: 8080\n")
        checked: list[str] = []

        def lost(server: Target) -> bool:
            checked.append(server.key)
            return False

        report = apply(moved, api, ALPINE, check=lost)
        shop1 = target(report, "alpine-books/shop1@ovh")
        assert checked == ["alpine-books/shop1"]
        assert shop1.status is HostStatus.ROLLED_BACK
        assert all(
            o.message.startswith("rolled back: DAG's management access") for o in shop1.outcomes
        )
        assert edge(api) == before


def test_a_roll_back_after_a_slow_removal_recreates_the_rule_being_removed(
    root: Path, repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        assert apply(repo, api, ALPINE).ok
        before = edge(api)
        emu.set_delays(rule_removal=Delay(polls=20))  # outlives the 13 polls of a 60 s wait
        moved = edit(root, "      port: 80\n", "      port: 8080\n")
        shop1 = target(apply(moved, api, ALPINE, check=lambda t: False), "alpine-books/shop1@ovh")
        assert shop1.status is HostStatus.ROLLED_BACK
        enabled, rules = edge(api)
        # #3 (port 80) re-created once its removal ended; the new #6 (port 8080) is on its way
        # out (removalPending): the restore waits only where a previous rule comes back
        assert (enabled, [r for r in rules if not r.endswith("[removalPending]")]) == before
        assert "#6 permit tcp from any to port 8080 [removalPending]" in rules


def test_lost_access_on_a_fresh_address_leaves_its_firewall_off_and_changes_nothing_else(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        shop1 = target(apply(repo, api, ALPINE, check=lambda t: False), "alpine-books/shop1@ovh")
        assert shop1.status is HostStatus.ROLLED_BACK
        assert edge(api) == (False, [])
        reverse = next(o for o in shop1.outcomes if o.change.kind == "ovh-reverse")
        assert (reverse.status, reverse.message) == (Status.SKIPPED, "not attempted")
        assert get_reverse(api, SHOP1_BLOCK, SHOP1_IP) is None


def test_a_reverse_name_that_does_not_resolve_is_a_clear_error(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    account = account_fixture(repo)
    account["dns"] = {}
    with running(account) as emu:
        api = connect(emu, monkeypatch, fake)
        shop1 = target(apply(repo, api, ALPINE), "alpine-books/shop1@ovh")
        failed = [o for o in shop1.outcomes if o.status is Status.FAILED]
        assert [o.change.kind for o in failed] == ["ovh-reverse"]
        assert failed[0].message.startswith(
            "OVH refused the reverse DNS shop1.alpine-books.example. for 203.0.113.10: "
            "shop1.alpine-books.example. does not resolve to 203.0.113.10. Publish the DNS "
            "record shop1.alpine-books.example. A 203.0.113.10 first"
        )
        assert edge(api) == (True, desired_rules(repo, "shop1"))


def test_the_sandbox_account_holds_every_declared_server_and_exactly_the_access_rules(
    repo: Repository, tmp_path: Path
) -> None:
    path = tmp_path / "account.json"  # what `python -m dagsync.testing.ovh_api --fixture` reads
    path.write_text(json.dumps(account_fixture(repo)))
    account = load_account(path)
    assert sorted(account.servers) == sorted(s.ovh.service_name for _, s in repo.servers())
    [credential] = account.credentials.values()
    assert [(r.method, r.path) for r in credential.rules] == [
        (r.method, r.path) for r in ACCESS_RULES
    ]
    assert account.dns == {
        "shop1.alpine-books.example": {"203.0.113.10"},
        "portail.cime-conseil.example": {"198.51.100.20"},
    }


# -- credentials and the default access check -----------------------------------------------------


def test_where_ovh_is_not_set_up_nothing_is_planned_and_the_account_target_says_so(
    repo: Repository,
) -> None:
    assert driver.set_up() is False and driver.configured() is False
    planned = plan(repo, None)
    assert [(t.target.key, t.unknown, t.error) for t in planned.targets] == [
        ("dag/ovh-account", (), None)
    ]
    assert "OVH is not set up here" in planned.targets[0].notes[0].text
    report = driver.apply(repo, EVERYTHING, Overrides(), RunOptions(), refuse)
    assert report.ok and report.changed_nothing


def test_incomplete_credentials_make_every_target_unknown_naming_what_is_missing(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_APPLICATION_KEY", "someKey")
    assert driver.set_up() is True and driver.configured() is False
    planned = plan(repo, None)
    assert len(planned.targets) == 7 and not planned.has_changes
    for planned_target in planned.targets:
        [(kind, reason)] = planned_target.unknown
        assert kind == "ovh-inventory" and "OVH credentials are incomplete" in reason
        assert "missing endpoint. Set OVH_ENDPOINT" in reason


def test_the_default_access_check_fails_when_ssh_cannot_be_reached(repo: Repository) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF+0NLAofU66ht9s98VkVf2f+nD56ggkTZhuefrMA3fO"
    hosts = {"alpine-books/shop1": Endpoint("127.0.0.1", port, key, "test")}
    options = RunOptions(timeouts=Timeouts(connect=2.0, command=2.0))
    check = driver.ssh_access_check(repo, Overrides(hosts=hosts), options)
    assert check(Target("alpine-books", "shop1")) is False
    assert check(Target("alpine-books", "no-such-server")) is False


# -- a failed create never leaves a declared service closed; 429s within the run's budget ------

PORT_80_ANY = (
    "      sources: [any]\n      public: true\n      justification: Public shop, redirects"
)
PORT_80_NET = "      sources: [198.51.100.0/24]\n      justification: Public shop, redirects"
CLIENT = ip_address("198.51.100.7")  # inside the declared source of port 80


def reachable(api: OvhApi, port: int, source: IPv4Address | IPv6Address = CLIENT) -> bool:
    """Whether the edge lets a new TCP connection from ``source`` to ``port`` in: first match
    over the rules OVH applies (ok, or still being removed); a disabled firewall filters none."""
    firewall = get_firewall(api, SHOP1_BLOCK, SHOP1_IP)
    if firewall is None or not firewall.enabled:
        return True
    active = [
        r.rule
        for r in firewall_rules(api, SHOP1_BLOCK, SHOP1_IP)
        if r.state in ("ok", "removalPending")
    ]
    for rule in sorted(active, key=lambda r: r.sequence):
        if rule.protocol not in ("tcp", "ipv4") or rule.tcp_option == "established":
            continue
        if rule.source is not None and source not in ip_network(rule.source):
            continue
        ports = rule.destination_port
        if ports is not None and not ports.first <= port <= ports.last:
            continue
        return rule.action == "permit"
    return True


def _fill_the_rule_budget(api: OvhApi) -> list[str]:
    """Undeclared permits in every free sequence below 19: 20 rules, no room to create first."""
    taken = {r.rule.sequence for r in firewall_rules(api, SHOP1_BLOCK, SHOP1_IP)}
    for sequence in sorted(set(range(19)) - taken):
        rule = EdgeRule(sequence, "permit", "udp", None, PortRange.single(5000 + sequence))
        create_rule(api, SHOP1_BLOCK, SHOP1_IP, rule)
        wait_rule_ok(api, SHOP1_BLOCK, SHOP1_IP, sequence, timeout=60, interval=5)
    rules = edge(api)[1]
    assert len(rules) == 20
    return rules


@pytest.mark.parametrize(
    "fault", [Fault.server_error(), Fault.bad_gateway_html()], ids=["500", "html-502"]
)
def test_a_failed_create_of_a_changed_rule_leaves_port_80_reachable(
    root: Path, repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime, fault: Fault
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        assert apply(repo, api, ALPINE).ok and reachable(api, 80)
        narrowed = edit(root, PORT_80_ANY, PORT_80_NET)
        emu.inject(fault, count=None, method="POST", path_prefix=_rule_path())
        shop1 = target(apply(narrowed, api, ALPINE), "alpine-books/shop1@ovh")
        assert reachable(api, 80)  # the old rule is still there: nothing was deleted
        assert shop1.status is HostStatus.FAILED
        first = shop1.outcomes[0]
        assert (first.change.summary, first.status) == (
            "#6 permit tcp from 198.51.100.0/24 to port 80 (http)",
            Status.FAILED,
        )
        assert "#3 permit tcp from any to port 80" in edge(api)[1]
        emu.clear_faults()
        assert apply(narrowed, api, ALPINE).ok
        assert reachable(api, 80) and not reachable(api, 80, ip_address("203.0.113.99"))
        assert not plan(narrowed, api, ALPINE).has_changes


@pytest.mark.parametrize(
    "fault", [Fault.server_error(), Fault.bad_gateway_html()], ids=["500", "html-502"]
)
def test_with_the_rule_budget_spent_a_failed_create_restores_the_previous_rules(
    root: Path, repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime, fault: Fault
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        assert apply(repo, api, ALPINE).ok
        before = _fill_the_rule_budget(api)
        narrowed = edit(root, PORT_80_ANY, PORT_80_NET)
        planned = target(plan(narrowed, api, ALPINE), "alpine-books/shop1@ovh")
        attempts = api.retry.attempts  # every attempt of the one create fails
        emu.inject(fault, count=attempts, method="POST", path_prefix=_rule_path())
        shop1 = target(apply(narrowed, api, ALPINE), "alpine-books/shop1@ovh")
        assert reachable(api, 80)  # the previous rules are back
        assert any("20-rule budget" in n.text for n in planned.notes)
        statuses = [o.status for o in shop1.outcomes]
        assert statuses.count(Status.FAILED) == 1 and Status.ROLLED_BACK in statuses
        rolled = next(o.message for o in shop1.outcomes if o.status is Status.ROLLED_BACK)
        assert rolled.startswith("rolled back: a create failed after rules of 203.0.113.10")
        assert "no declared service stays closed" in rolled
        assert edge(api) == (True, before) and reachable(api, 80)
        assert apply(narrowed, api, ALPINE).ok  # the fault is used up: a re-run converges
        assert reachable(api, 80) and not plan(narrowed, api, ALPINE).has_changes


def test_ten_429s_in_a_row_with_retry_after_are_waited_out_within_the_run_budget(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        emu.inject(Fault.rate_limited(retry_after=2), count=10)
        started = fake.now
        report = apply(repo, api, ALPINE)
        assert report.ok
        assert [r.status for r in emu.requests].count(429) == 10
        assert fake.sleeps[:10] == [2.0] * 10  # each wait is OVH's Retry-After, ten times
        assert fake.now - started >= 20  # well past the former abort after 9 s
        assert api.budget.left == api.retry.run_budget - 20.0


def test_429s_beyond_the_run_budget_fail_with_a_clear_message(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    with running(account_fixture(repo)) as emu:
        api = connect(emu, monkeypatch, fake)
        api.retry = RetryPolicy(run_budget=9.0)
        api.budget = RetryBudget(9.0)
        emu.inject(Fault.rate_limited(retry_after=2), count=None, path_prefix="/dedicated")
        with pytest.raises(OvhRateLimited) as raised:
            get_server(api, SHOP1)
        assert fake.sleeps == [2.0, 2.0, 2.0, 2.0]
        assert "the run's retry budget (9 s of waiting) has 1.0 s left, less than the 2.0 s" in (
            str(raised.value)
        )
        assert "gave up after 5 attempts" in str(raised.value)
