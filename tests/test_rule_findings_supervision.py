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
