"""The supervision rules' whole findings (MON001-MON003: rule, file, line, column, server,
message, as literals) on servers that are not the first of their client, one metric missing
(`it`) or several (`them`), one minute over each limit, and the derogation by request.
Written to kill the mutants that survived in `bench/mutation.py rules/supervision`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

WEB1 = "clients/velo-savoie/servers/web1.yaml"
WEB2 = "clients/velo-savoie/servers/web2.yaml"
ASK = (
    "add `request: REQ-...` to `supervision` citing the client's request recorded in "
    "clients/velo-savoie/requests.yaml"
)
METRICS = "  metrics: [cpu, ram, disk, bandwidth, load, app_connections, db_connections]\n"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("supervision-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def mon(root: Path) -> list[tuple[str, str, int, int, str | None, str]]:
    return findings(root, "velo-savoie", "MON")


def test_the_example_client_is_clean_at_the_limits(repo: Path) -> None:
    # 5 minutes between alerts and 1 between uptime checks: exactly the CGV's limits
    assert mon(repo) == []


def test_each_supervision_rule_names_the_server_the_key_and_the_fix(repo: Path) -> None:
    edit(repo, WEB2, METRICS, "  metrics: [cpu, ram, disk, bandwidth, load, app_connections]\n")
    edit(repo, WEB2, "  alert_interval_minutes: 5\n", "  alert_interval_minutes: 6\n")
    edit(repo, WEB2, "  uptime_interval_minutes: 1\n", "  uptime_interval_minutes: 2\n")
    assert mon(repo) == [
        (
            "MON001",
            WEB2,
            46,
            12,
            "web2",
            f"the CGV watches `db_connections` too: add it, or {ASK}",
        ),
        (
            "MON002",
            WEB2,
            47,
            27,
            "web2",
            "incident alerts every 6 minutes; the CGV checks at least every 5: set "
            f"`alert_interval_minutes: 5` or less, or {ASK}",
        ),
        (
            "MON003",
            WEB2,
            48,
            28,
            "web2",
            "uptime checked every 2 minutes; the CGV checks at least every 1: set "
            f"`uptime_interval_minutes: 1`, or {ASK}",
        ),
    ]


def test_several_missing_metrics_on_two_servers_are_them_on_each(repo: Path) -> None:
    edit(repo, WEB1, METRICS, "  metrics: [cpu, disk, load]\n")
    edit(repo, WEB2, METRICS, "  metrics: [ram, bandwidth, app_connections, db_connections]\n")
    assert mon(repo) == [
        (
            "MON001",
            WEB1,
            46,
            12,
            "web1",
            "the CGV watches `ram`, `bandwidth`, `app_connections`, `db_connections` too: add "
            f"them, or {ASK}",
        ),
        (
            "MON001",
            WEB2,
            46,
            12,
            "web2",
            f"the CGV watches `cpu`, `disk`, `load` too: add them, or {ASK}",
        ),
    ]


def test_a_cited_request_allows_each_derogation(repo: Path) -> None:
    edit(repo, WEB2, METRICS, "  metrics: [cpu]\n  request: REQ-2023-010\n")
    edit(repo, WEB2, "  alert_interval_minutes: 5\n", "  alert_interval_minutes: 30\n")
    edit(repo, WEB2, "  uptime_interval_minutes: 1\n", "  uptime_interval_minutes: 15\n")
    assert mon(repo) == []


def test_an_interval_shorter_than_the_monitoring_can_keep_is_a_finding_at_the_field(
    repo: Path,
) -> None:
    # 1 minute between alerts is within the CGV's 5, but CpuSaturated's worst case is
    # 30 + 15 + 120 + 120 (rate window) + 10 = 295 s with policies/dag.yaml's timings.
    edit(repo, WEB2, "  alert_interval_minutes: 5\n", "  alert_interval_minutes: 1\n")
    assert mon(repo) == [
        (
            "MON004",
            WEB2,
            47,
            27,
            "web2",
            "DAG's monitoring can send cpu_saturated only 295 s after a fault (scrape 30 + "
            "evaluation 15 + for 120 + group_wait 10 + rate window 120), over the declared 1 "
            "min: set `alert_interval_minutes: 5` or more, or change the timings of "
            "`monitoring:` in policies/dag.yaml",
        )
    ]


def test_an_uptime_alert_held_longer_than_the_probe_interval_is_a_finding_per_server(
    repo: Path,
) -> None:
    edit(
        repo,
        "policies/dag.yaml",
        "    uptime_failing:\n      for_seconds: 0\n",
        "    uptime_failing:\n      for_seconds: 30\n",
    )
    found = mon(repo)
    assert [(f[0], f[1], f[2], f[3], f[4]) for f in found] == [
        ("MON004", WEB1, 48, 28, "web1"),
        ("MON004", WEB2, 48, 28, "web2"),
    ]
    assert found[0][5] == (
        "DAG's monitoring can send uptime_failing only 90 s after a fault (the probe every "
        "60 s + for 30), over the declared 1 min: set `uptime_interval_minutes: 2` or more, or "
        "change the timings of `monitoring:` in policies/dag.yaml"
    )


def test_a_repository_without_monitoring_has_no_timing_finding(repo: Path) -> None:
    text = (repo / "policies/dag.yaml").read_text()
    head, _, _ = text.partition("monitoring:\n")
    (repo / "policies/dag.yaml").write_text(head)
    edit(repo, WEB2, "  alert_interval_minutes: 5\n", "  alert_interval_minutes: 1\n")
    assert mon(repo) == []


def test_uptime_urls_may_watch_any_vhost_of_the_client_and_nothing_else(repo: Path) -> None:
    # db1 serves no site, but may watch the shop its sibling web servers serve.
    edit(
        repo,
        "clients/velo-savoie/servers/db1.yaml",
        "  uptime_interval_minutes: 1\nbackup:",
        '  uptime_interval_minutes: 1\n  uptime_urls: ["https://shop.velo-savoie.example/db"]\n'
        "backup:",
    )
    edit(
        repo,
        WEB2,
        '  uptime_urls: ["https://shop.velo-savoie.example/"]\n',
        '  uptime_urls: ["https://shop.velo-savoie.example:8443/x", "http://u@evil.example/"]\n',
    )
    assert mon(repo) == [
        (
            "MON005",
            WEB2,
            49,
            60,
            "web2",
            "`evil.example` is not one of the client's vhost names (`shop.velo-savoie.example`): "
            "probe one of them, or declare the vhost first",
        )
    ]
