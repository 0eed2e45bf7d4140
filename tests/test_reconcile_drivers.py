"""The table of drivers: one plan of every kind, one confirmation, each driver checked.

The drivers here are stand-ins with the real drivers' protocol (plan; apply = read under
locks, plan again, `confirm(fresh)`, apply only if it accepts), so that combining,
splitting, confirming and refusing are tested without hosts; the sandbox test runs the real
ones end to end.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from dagsync.commands import reconcile as commands
from dagsync.errors import DagsyncError
from dagsync.reconcile import drivers
from dagsync.reconcile.combine import Combined, apply_single, part, plan_all
from dagsync.reconcile.compare import differences
from dagsync.reconcile.core import Action, Change, Detail, Note, Target
from dagsync.reconcile.driverspec import KINDS, Confirm, Context, Driver
from dagsync.reconcile.extras import Extras, environment, read_extras
from dagsync.reconcile.hosts.kinds import HOST_KINDS
from dagsync.reconcile.hosts.work import only_kinds
from dagsync.reconcile.plan import Plan, TargetPlan
from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
from dagsync.reconcile.resource import Outcome, Status
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV, Overrides
from dagsync.validate.repository import Repository, load_repository

PROJECT = Path(__file__).resolve().parents[1]


# --- stand-in drivers --------------------------------------------------------------------


def change(kind: str, summary: str, *details: str) -> Change:
    return Change(kind, Action.CREATE, summary, summary, tuple(Detail("+", d) for d in details))


def target(key: str, *changes: Change, error: str | None = None) -> TargetPlan:
    client, name = key.split("/")
    kinds = sorted({c.kind for c in changes})
    return TargetPlan(
        Target(client, name),
        "10.0.0.1",
        changes=changes,
        error=error,
        reads=tuple((k, f"read {k}") for k in kinds),
        fingerprints=dict.fromkeys(kinds, "f" * 64),
    )


def plan_of(*targets: TargetPlan, at: str = "2026-11-29T10:00:00+00:00") -> Plan:
    return Plan(tuple(targets), at)


@dataclass
class World:
    """What the stand-in drivers read: per driver, the plan their targets would give now."""

    plans: dict[str, Plan]
    calls: list[str] = field(default_factory=list)
    drift: Callable[[], None] | None = None  # runs when the user confirms


def fake(world: World, name: str, kinds: tuple[str, ...]) -> Driver:
    def plan(ctx: Context) -> Plan:
        world.calls.append(f"plan {name}")
        return replace(world.plans[name], created_at="2026-11-29T10:00:01+00:00")

    def apply(ctx: Context, confirm: Confirm, saved: Plan | None) -> ApplyReport:
        world.calls.append(f"apply {name}")
        fresh = replace(world.plans[name], created_at="2026-11-29T10:05:00+00:00")
        if fresh.has_changes and not confirm(fresh):
            raise DagsyncError("apply cancelled: nothing was changed")
        results = tuple(
            HostResult(
                t.target,
                HostStatus.APPLIED if t.changes else HostStatus.UNCHANGED,
                tuple(Outcome(c, Status.APPLIED) for c in t.changes),
            )
            for t in fresh.targets
        )
        return ApplyReport(fresh, results, "s", "f")

    return Driver(name, kinds, kinds, plan, apply)


@pytest.fixture(scope="module")
def repo() -> Repository:
    return load_repository(PROJECT, validate=False)


@pytest.fixture
def world() -> World:
    return World(
        {
            "hosts": plan_of(target("velo-savoie/web1", change("firewall", "open 8080"))),
            "mail": plan_of(target("dag/mx1", change("mail", "quotas", "quota 25 GB"))),
            "backup": plan_of(target("velo-savoie/web1"), target("dag/sbg-backup-1")),
        }
    )


@pytest.fixture
def table(world: World) -> tuple[Driver, ...]:
    return (
        fake(world, "hosts", ("firewall", "accounts")),
        fake(world, "backup", ("backup",)),
        fake(world, "mail", ("mail",)),
    )


def context(repo: Repository, **changes: object) -> Context:
    base = Context(repo, Selection(), Overrides(), RunOptions())
    return replace(base, **changes)  # type: ignore[arg-type]


def combined(ctx: Context, table: tuple[Driver, ...]) -> Combined:
    return plan_all(ctx, table)


# --- the table -----------------------------------------------------------------------------


def test_every_kind_of_the_only_option_belongs_to_exactly_one_driver() -> None:
    owners = [k for row in drivers.DRIVERS for k in row.kinds]
    assert sorted(owners) == sorted(KINDS)
    assert len(set(owners)) == len(owners)


def test_each_driver_owns_the_change_kinds_its_module_produces() -> None:
    from dagsync.reconcile.backup import resource as backup
    from dagsync.reconcile.backup.storage import STORAGE_KIND
    from dagsync.reconcile.hosts.registry import HOST_RESOURCES
    from dagsync.reconcile.mail import resource as mail

    assert tuple(r.KIND for r in HOST_RESOURCES) == HOST_KINDS  # the light list is the registry's
    produced = {"hosts": HOST_KINDS, "backup": (backup.KIND, STORAGE_KIND), "mail": (mail.KIND,)}
    if drivers.driver("ovh").available():
        firewall = importlib.import_module("dagsync.reconcile.ovh.firewall")
        diff = importlib.import_module("dagsync.reconcile.ovh.diff")
        produced["ovh"] = (
            firewall.KIND,
            diff.KIND_INVENTORY,
            diff.KIND_MONITORING,
            diff.KIND_REVERSE,
            diff.KIND_BACKUP,
        )
    for name, kinds in produced.items():
        for kind in kinds:
            owners = [row.name for row in drivers.DRIVERS if row.owns(kind)]
            assert owners == [name], (kind, owners)


def test_only_splits_commas_accepts_repeats_and_refuses_an_unknown_kind() -> None:
    assert drivers.parse_kinds(["firewall,accounts", "mail"]) == {"firewall", "accounts", "mail"}
    assert drivers.parse_kinds([]) == frozenset(KINDS)
    with pytest.raises(DagsyncError, match=r"unknown kind\(s\) dns: use firewall"):
        drivers.parse_kinds(["firewall,dns"])


def test_only_firewall_runs_the_host_driver_alone(repo: Repository) -> None:
    ctx = context(repo, kinds=frozenset({"firewall"}))
    assert [row.name for row in drivers.selected(ctx)] == ["hosts"]


def test_the_shared_mail_hosts_are_reached_by_a_client_using_them_not_by_a_server(
    repo: Repository,
) -> None:
    def names(selection: Selection) -> list[str]:
        return [r.name for r in drivers.selected(context(repo, selection=selection))]

    assert "mail" in names(Selection())
    assert "mail" in names(Selection(clients=("alpine-books",)))  # shared mail
    assert "mail" not in names(Selection(clients=("velo-savoie",)))  # dedicated mail
    assert "mail" not in names(Selection(servers=("web1",)))


def test_a_driver_not_installed_is_left_out_unless_its_kind_is_named(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = replace(drivers.driver("ovh"), available=lambda: False)
    table = tuple(missing if r.name == "ovh" else r for r in drivers.DRIVERS)
    monkeypatch.setattr(drivers, "DRIVERS", table)
    assert "ovh" not in [r.name for r in drivers.selected(context(repo))]
    only = context(repo, kinds=frozenset({"ovh"}))
    assert [r.name for r in drivers.selected(only, explicit=True)] == ["ovh"]


def test_an_unknown_client_or_server_is_refused_whatever_the_kinds(repo: Repository) -> None:
    with pytest.raises(DagsyncError, match="no client `nobody`"):
        drivers.check_selection(repo, Selection(clients=("nobody",)))
    with pytest.raises(DagsyncError, match="no server `web9`"):
        drivers.check_selection(repo, Selection(servers=("web9",)))
    drivers.check_selection(repo, Selection(("velo-savoie",), ("velo-savoie/web1",)))


def test_only_kinds_keeps_the_selected_host_resources_and_their_notes(repo: Repository) -> None:
    from dagsync.reconcile.hosts.desired import host_desired, server_inputs

    now = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
    inputs = server_inputs(repo, Selection(servers=("velo-savoie/web1",)), now)[0]
    desired = replace(
        host_desired(inputs),
        notes=(Note("accounts", "a"), Note("firewall", "f"), Note("backup", "b")),
    )
    kept = only_kinds(desired, frozenset({"firewall"}))
    assert [k for k, _ in kept.states] == ["firewall"]
    assert [k for k, _ in kept.reads()] == ["firewall"]
    assert [n.text for n in kept.notes] == ["f", "b"]  # notes of other drivers stay
    assert only_kinds(desired, None) is desired


# --- one plan ------------------------------------------------------------------------------


def test_the_combined_plan_joins_every_driver_and_splits_back_into_each_part(
    repo: Repository, table: tuple[Driver, ...]
) -> None:
    plan = combined(context(repo), table).plan
    assert [t.target.key for t in plan.targets] == [
        "dag/mx1",
        "dag/sbg-backup-1",
        "velo-savoie/web1",
    ]
    web1 = plan.targets[2]
    assert [c.kind for c in web1.changes] == ["firewall"] and web1.reads[0][0] == "firewall"
    saved = Combined.loads(combined(context(repo), table).dumps(), "plan.json", table)
    assert [n for n, _ in saved.parts] == ["hosts", "backup", "mail"]
    hosts, mail = saved.part("hosts"), saved.part("mail")
    assert [t.target.key for t in hosts.targets] == ["velo-savoie/web1"]
    assert [t.target.key for t in mail.targets] == ["dag/mx1"]
    assert differences(mail, table[2].plan(context(repo))) == []


def test_a_target_error_stays_with_the_kinds_that_could_not_be_read() -> None:
    web1 = replace(
        target("velo-savoie/web1", change("firewall", "open 8080")),
        error="backup storage sbg-backup-1 cannot be reached",
    )
    plan = plan_of(web1)
    assert part(plan, drivers.driver("hosts").owns).targets[0].error is None
    backup = replace(web1, changes=(), reads=(("backup", "read"),), fingerprints={})
    assert part(plan_of(backup), drivers.driver("backup").owns).targets[0].error


def test_a_saved_plan_keeps_its_kinds_drivers_and_selection(
    repo: Repository, table: tuple[Driver, ...]
) -> None:
    ctx = context(
        repo, kinds=frozenset({"firewall", "mail"}), selection=Selection(("alpine-books",))
    )
    text = plan_all(ctx, [table[0], table[2]]).dumps()
    data = json.loads(text)
    assert data["only"] == ["firewall", "mail"] and data["drivers"] == ["hosts", "mail"]
    saved = Combined.loads(text, "plan.json", table)
    assert saved.kinds == {"firewall", "mail"}
    assert saved.selection == (("alpine-books",), ())
    old = json.dumps({k: v for k, v in data.items() if k not in ("only", "drivers")})
    assert [n for n, _ in Combined.loads(old, "old.json", table).parts] == ["hosts"]


def test_a_driver_that_cannot_plan_becomes_one_target_in_error(
    repo: Repository, table: tuple[Driver, ...]
) -> None:
    def broken(ctx: Context) -> Plan:
        raise DagsyncError("OVH credentials are incomplete")

    plan = plan_all(context(repo), [table[0], replace(table[2], plan=broken)]).plan
    error = next(t for t in plan.targets if t.error)
    assert error.target.key == "dagsync/mail" and "credentials" in error.error


def test_validation_failing_while_the_drivers_read_discards_the_plan(
    repo: Repository, table: tuple[Driver, ...]
) -> None:
    def invalid() -> None:
        raise DagsyncError("the repository has 1 validation error(s)")

    with pytest.raises(DagsyncError, match="validation error"):
        plan_all(context(repo), table, alongside=invalid)


# --- confirming each driver ----------------------------------------------------------------


def test_the_same_changes_planned_later_are_not_a_difference() -> None:
    early = plan_of(target("velo-savoie/web1", change("firewall", "open 8080")))
    late = replace(early, created_at="2026-11-30T00:00:00+00:00")
    assert differences(early, late) == []


def test_differences_name_the_new_and_the_vanished_changes() -> None:
    confirmed = plan_of(target("dag/mx1", change("mail", "quotas", "quota 25 GB")))
    fresh = plan_of(
        target("dag/mx1", change("mail", "quotas", "quota 25 GB", "~ main.cf mynetworks")),
        target("dag/mx2", change("mail", "quotas")),
    )
    assert differences(confirmed, fresh) == [
        "dag/mx1: now also mail: quotas",
        "dag/mx1: no longer mail: quotas",
        "dag/mx2: now also mail: quotas",
    ]


def test_apply_confirms_the_combined_plan_once_then_runs_each_driver_in_turn(
    repo: Repository, world: World, table: tuple[Driver, ...]
) -> None:
    ctx = context(repo)
    plan = combined(ctx, table)
    shown: list[Plan] = []
    report = drivers.apply_all(ctx, plan, lambda p: shown.append(p) or True, table=table)
    assert shown == [plan.plan]
    assert world.calls[-2:] == ["apply hosts", "apply mail"]  # backup had nothing to do
    status = {r.target.key: r.status for r in report.results}
    assert status == {
        "dag/mx1": HostStatus.APPLIED,
        "dag/sbg-backup-1": HostStatus.UNCHANGED,
        "velo-savoie/web1": HostStatus.APPLIED,
    }
    assert report.ok


def test_a_driver_whose_state_moved_is_refused_and_the_others_apply(
    repo: Repository, world: World, table: tuple[Driver, ...]
) -> None:
    ctx = context(repo)
    plan = combined(ctx, table)

    def hand_edit_on_mx1(p: Plan) -> bool:
        edited = target("dag/mx1", change("mail", "quotas", "quota 25 GB", "~ main.cf edited"))
        world.plans["mail"] = plan_of(edited)
        return True

    report = drivers.apply_all(ctx, plan, hand_edit_on_mx1, table=table)
    by_key = {r.target.key: r for r in report.results}
    assert by_key["velo-savoie/web1"].status is HostStatus.APPLIED
    mx1 = by_key["dag/mx1"]
    assert mx1.status is HostStatus.FAILED
    assert "state moved since the plan was confirmed" in mx1.message
    assert "dag/mx1: now also mail: quotas" in mx1.message
    assert [o.status for o in mx1.outcomes] == [Status.SKIPPED]
    assert not report.ok


def test_a_declined_confirmation_runs_no_driver(
    repo: Repository, world: World, table: tuple[Driver, ...]
) -> None:
    ctx = context(repo)
    plan = combined(ctx, table)
    with pytest.raises(DagsyncError, match="apply cancelled"):
        drivers.apply_all(ctx, plan, lambda p: False, table=table)
    assert not [c for c in world.calls if c.startswith("apply")]


def test_nothing_to_change_runs_no_driver_and_an_unreadable_target_fails(
    repo: Repository, world: World, table: tuple[Driver, ...]
) -> None:
    world.plans = {
        "hosts": plan_of(target("velo-savoie/web1")),
        "backup": plan_of(target("dag/sbg-backup-1", error="no address and host_key")),
        "mail": plan_of(target("dag/mx1")),
    }
    ctx = context(repo)
    report = drivers.apply_all(ctx, combined(ctx, table), lambda p: False, table=table)
    assert not [c for c in world.calls if c.startswith("apply")]
    status = {r.target.key: (r.status, r.message) for r in report.results}
    assert status["velo-savoie/web1"] == (HostStatus.UNCHANGED, "")
    assert status["dag/sbg-backup-1"] == (HostStatus.FAILED, "no address and host_key")


def test_a_saved_part_is_applied_only_if_it_still_matches(
    repo: Repository, world: World, table: tuple[Driver, ...]
) -> None:
    ctx = context(repo)
    saved = Combined.loads(combined(ctx, table).dumps(), "plan.json", table)
    world.plans["mail"] = plan_of(target("dag/mx1", change("mail", "quotas", "quota 30 GB")))
    report = apply_single(table[2], ctx, lambda p: True, None)
    assert report.ok  # no saved plan: the fresh one is confirmed
    with pytest.raises(DagsyncError, match=r"state moved.*now also mail: quotas"):
        apply_single(table[2], ctx, lambda p: True, saved.part("mail"))


# --- the override file's environment -----------------------------------------------------


ESCROW, URL = "DAGSYNC_PASSPHRASE_ESCROW", "DAGSYNC_OVH_URL"


def test_the_override_environment_is_set_for_the_run_then_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hosts.json"
    path.write_text(
        json.dumps(
            {
                "hosts": {},
                "environment": {ESCROW: "/sandbox/escrow", URL: "http://127.0.0.1:8999/1.0"},
                "ovh": {"rate_per_minute": 6000, "poll_interval": 0.05},
            }
        )
    )
    monkeypatch.setenv(ESCROW, "mine")
    monkeypatch.delenv(URL, raising=False)
    extras = read_extras(path)
    assert (extras.ovh_rate_per_minute, extras.ovh_poll_interval) == (6000.0, 0.05)
    with environment(extras.environment):
        assert os.environ[ESCROW] == "/sandbox/escrow"
        assert os.environ[URL] == "http://127.0.0.1:8999/1.0"
    assert os.environ[ESCROW] == "mine" and URL not in os.environ
    assert read_extras(None) == Extras()
    path.write_text("[1, 2]")
    with pytest.raises(DagsyncError, match="not a hosts override file"):
        read_extras(path)


# --- through the command line ----------------------------------------------------------------


@pytest.fixture
def cli_world(
    repo_copy: Path, world: World, table: tuple[Driver, ...], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """`dagsync plan`/`apply` on a copy of the example repository, with stand-in drivers."""
    monkeypatch.setattr(drivers, "DRIVERS", table)
    monkeypatch.delenv(HOSTS_FILE_ENV, raising=False)
    return repo_copy


def test_plan_shows_every_driver_in_every_format_and_counts_all_changes(
    cli_world: Path,
) -> None:
    runner = CliRunner()
    outputs = {}
    for fmt in ("text", "markdown", "json"):
        args = ["--repo", str(cli_world), "--format", fmt, "--detailed-exitcode"]
        result = runner.invoke(commands.plan, args)
        assert result.exit_code == 2, result.output
        outputs[fmt] = result.output
    assert "+ mail: quotas" in outputs["text"] and "+ firewall: open 8080" in outputs["text"]
    assert "<b>dag/mx1</b>" in outputs["markdown"]
    assert "<b>velo-savoie/web1</b>" in outputs["markdown"]
    data = json.loads(outputs["json"])
    assert data["drivers"] == ["hosts", "backup", "mail"]
    assert [c["kind"] for t in data["targets"] for c in t["changes"]] == ["mail", "firewall"]
    only = runner.invoke(commands.plan, ["--repo", str(cli_world), "--only", "backup"])
    assert only.exit_code == 0 and "dag/mx1" not in only.output, only.output
    bad = runner.invoke(commands.plan, ["--repo", str(cli_world), "--only", "dns"])
    assert bad.exit_code == 1 and "unknown kind(s) dns" in bad.output


def test_apply_yes_shows_one_plan_and_applies_every_driver(cli_world: Path, world: World) -> None:
    args = ["--repo", str(cli_world), "--yes", "--no-record", "--any-commit"]  # not a clone
    result = CliRunner().invoke(commands.apply, args)
    assert result.exit_code == 0, result.output
    assert result.output.count("Plan: 2 to add") == 1
    assert world.calls.count("apply hosts") == 1 and world.calls.count("apply mail") == 1
    assert "Apply: 2 applied, 1 unchanged." in result.output


def test_a_saved_plan_refuses_other_kinds_or_clients_on_the_command_line(
    cli_world: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    runner = CliRunner()
    runner.invoke(commands.plan, ["--repo", str(cli_world), "--only", "mail", "--out", str(saved)])
    assert json.loads(saved.read_text())["only"] == ["mail"]
    base = ["--repo", str(cli_world), "--yes", "--no-record", "--any-commit", "--plan", str(saved)]
    other = runner.invoke(commands.apply, [*base, "--only", "firewall"])
    assert other.exit_code == 1 and "not computed with this --only" in other.output
    same = runner.invoke(commands.apply, [*base, "--only", "mail"])
    assert same.exit_code == 0, same.output
