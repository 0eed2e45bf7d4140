"""EDG001's whole findings (rule, file, line, column, server, message, as literals): the port
that does not fit on a server that is not the first of its client and is not its first port,
exactly 20 rules (fits), a server without IPv4, and management ranges that alone overflow
(the finding on `ips`). Written to kill the mutants that survived in
`bench/mutation.py rules/edge`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

DB1 = "clients/velo-savoie/servers/db1.yaml"
WEB1 = "clients/velo-savoie/servers/web1.yaml"
WEB2 = "clients/velo-savoie/servers/web2.yaml"
HTTP = (
    "      sources: [any]\n      public: true\n      justification: Redirect to HTTPS and "
    "ACME challenges.\n"
)
FIX = "merge sources into wider blocks, group ports into a range, or remove openings the client "


def sources(count: int) -> str:
    """`count` single addresses that no merge can join (every other /32)."""
    return ", ".join(f"198.51.100.{2 * n + 1}/32" for n in range(count))


def http_from(count: int) -> str:
    return HTTP.replace("[any]", f"[{sources(count)}]").replace("      public: true\n", "")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("edge-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def edg(root: Path) -> list[tuple[str, str, int, int, str | None, str]]:
    return findings(root, "velo-savoie", "EDG")


def test_twenty_rules_fit(repo: Path) -> None:
    # 1 established + 2 management + (443 from any, 80 from 14 sources) + ICMP + deny = 20
    edit(repo, WEB2, HTTP, http_from(14))
    assert edg(repo) == []


def test_the_second_port_of_a_later_server_does_not_fit(repo: Path) -> None:
    edit(repo, WEB2, HTTP, http_from(15))
    assert edg(repo) == [
        (
            "EDG001",
            WEB2,
            37,
            16,
            "web2",
            "OVH's edge firewall holds at most 20 rules per address and 203.0.113.42 needs 21 "
            "(1 established, 2 management, 16 declared permit(s), 1 ICMP, 1 final deny); port "
            f"80/tcp (http) does not fit: {FIX}no longer needs",
        )
    ]


def test_without_icmp_the_count_says_so(repo: Path) -> None:
    edit(repo, WEB2, HTTP, http_from(16))
    edit(repo, WEB2, "  icmp: true\n", "  icmp: false\n")
    assert edg(repo) == [
        (
            "EDG001",
            WEB2,
            37,
            16,
            "web2",
            "OVH's edge firewall holds at most 20 rules per address and 203.0.113.42 needs 21 "
            "(1 established, 2 management, 17 declared permit(s), 1 final deny); port "
            f"80/tcp (http) does not fit: {FIX}no longer needs",
        )
    ]


def test_a_server_without_ipv4_has_no_edge_firewall(repo: Path) -> None:
    edit(repo, WEB2, HTTP, http_from(30))
    edit(repo, WEB2, "ips: [203.0.113.42]\n", "ips: ['2001:db8::42']\n")
    assert edg(repo) == []


def test_management_ranges_alone_overflow_on_a_server_without_ports_and_on_each_after(
    repo: Path,
) -> None:
    ranges = "".join(f"  - 192.0.2.{8 * n}/30\n" for n in range(18))  # 18 unmergeable ranges
    edit(repo, "policies/dag.yaml", "  - 192.0.2.0/28\n  - 192.0.2.64/29\n", ranges)
    db1 = (repo / DB1).read_text()
    start, end = db1.index("  open_ports:\n"), db1.index("security:\n")
    (repo / DB1).write_text(db1[:start] + "  open_ports: []\n" + db1[end:])
    too_many = "OVH's edge firewall holds at most 20 rules per address and "
    assert edg(repo) == [
        (
            "EDG001",
            DB1,
            9,
            6,
            "db1",
            f"{too_many}203.0.113.43 needs 21 (1 established, 18 management, 0 declared "
            "permit(s), 1 ICMP, 1 final deny): declare fewer management ranges",
        ),
        (
            "EDG001",
            WEB1,
            30,
            16,
            "web1",
            f"{too_many}203.0.113.41 needs 23 (1 established, 18 management, 2 declared "
            f"permit(s), 1 ICMP, 1 final deny); port 443/tcp (https) does not fit: {FIX}"
            "no longer needs",
        ),
        (
            "EDG001",
            WEB2,
            30,
            16,
            "web2",
            f"{too_many}203.0.113.42 needs 23 (1 established, 18 management, 2 declared "
            f"permit(s), 1 ICMP, 1 final deny); port 443/tcp (https) does not fit: {FIX}"
            "no longer needs",
        ),
    ]
