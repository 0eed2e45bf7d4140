"""The security rules' whole findings (SEC001-SEC006, SEC008: rule, file, line, column, server,
message, as literals) on the later port of a later server: justifications at the length bound
and placeholders, public and non-public services open to the Internet, `public` declared or
not, a wide source that is not the first, port ranges at each bound of the SSH port, a later
protection off, the blocklist switches, a later reverse DNS. Written to kill the mutants that
survived in `bench/mutation.py rules/security`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

WEB2 = "clients/velo-savoie/servers/web2.yaml"
CLIENT = "clients/velo-savoie/client.yaml"
POLICY = "policies/cgv/2024-01.yaml"
HTTP = (
    "    - protocol: tcp\n      port: 80\n      service: http\n      sources: [any]\n"
    "      public: true\n      justification: Redirect to HTTPS and ACME challenges.\n"
)
ASK = (
    "add `request: REQ-...` to `network` citing the client's request recorded in "
    "clients/velo-savoie/requests.yaml"
)

Seen = tuple[str, str, int, int, str | None, str]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("security-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def sec(root: Path) -> list[Seen]:
    return findings(root, "velo-savoie", "SEC")


def second_port(
    root: Path,
    port: str = "80",
    service: str = "http",
    sources: str = "[any]",
    public: str | None = "true",
    justification: str = "Redirect to HTTPS and ACME challenges.",
    protocol: str = "tcp",
) -> None:
    """web2's second port (lines 34-39, `public` on line 38 when given)."""
    text = (
        f"    - protocol: {protocol}\n      port: {port}\n      service: {service}\n"
        f"      sources: {sources}\n"
        + (f"      public: {public}\n" if public is not None else "")
        + f"      justification: {justification}\n"
    )
    edit(root, WEB2, HTTP, text)


@pytest.mark.parametrize("text", ["Redirects.", "Needed!!!!!", "  see ticket  ", "Redirects"])
def test_a_justification_needs_ten_characters_and_no_placeholder(repo: Path, text: str) -> None:
    second_port(repo, justification=f'"{text}"')
    expected = (
        []
        if text == "Redirects."
        else [
            (
                "SEC001",
                WEB2,
                39,
                22,
                "web2",
                "port 80/tcp (http) needs a justification: say which external connection of the "
                "client it serves (who, from where, for what)",
            )
        ]
    )
    assert sec(repo) == expected


WHOLE = "is open to the whole Internet"


def test_a_service_that_is_not_public_open_to_everyone(repo: Path) -> None:
    second_port(repo, port="8080", service="stock", sources="[198.51.100.7/32, any]")
    assert sec(repo) == [
        (
            "SEC002",
            WEB2,
            37,
            34,
            "web2",
            f"stock (port 8080) {WHOLE} but is not a public service of policies/dag.yaml: "
            "restrict `sources` to the addresses that need it, or declare `public: true` and "
            "cite the client's request",
        )
    ]


def test_a_wide_network_is_the_whole_internet_and_says_its_bound(repo: Path) -> None:
    second_port(repo, port="8080", service="stock", sources="[198.51.100.7/32, 10.0.0.0/7]")
    assert [f[2:] for f in sec(repo)] == [
        (
            37,
            34,
            "web2",
            f"stock (port 8080) {WHOLE} (its IPv4 sources together cover more than a /8, "
            "public_sources of policies/dag.yaml) but is not a public service of "
            "policies/dag.yaml: restrict `sources` to the addresses that need it, or declare "
            "`public: true` and cite the client's request",
        )
    ]


def test_a_public_service_must_say_it_is_public(repo: Path) -> None:
    second_port(repo, public=None)
    assert sec(repo) == [
        (
            "SEC002",
            WEB2,
            37,
            17,
            "web2",
            f"http (port 80) {WHOLE}: declare `public: true` if it is meant to be public, or "
            "restrict `sources`",
        )
    ]


def test_a_public_service_declared_not_public_is_found_on_public(repo: Path) -> None:
    second_port(repo, public="false", sources="[0.0.0.0/0]")
    assert sec(repo) == [
        (
            "SEC002",
            WEB2,
            38,
            15,
            "web2",
            f"http (port 80) {WHOLE}: declare `public: true` if it is meant to be public, or "
            "restrict `sources`",
        )
    ]


def test_a_service_that_is_not_public_with_a_request_and_public_true_is_allowed(
    repo: Path,
) -> None:
    second_port(repo, service="stock", justification="Stock pushes.\n      request: REQ-2023-010")
    assert sec(repo) == []


@pytest.mark.parametrize(
    ("port", "service", "protocol", "found"),
    [
        ('"10-22"', "ftp", "tcp", True),
        ('"22-30"', "ftp", "tcp", True),
        ('"23-30"', "ftp", "tcp", False),
        ('"10-21"', "ftp", "tcp", False),
        ('"20-30"', "sftp", "tcp", False),
        ('"20-30"', "ssh", "tcp", False),
        ('"20-30"', "ftp", "udp", False),
    ],
)
def test_a_port_range_covering_the_ssh_port(
    repo: Path, port: str, service: str, protocol: str, found: bool
) -> None:
    second_port(
        repo,
        port=port,
        service=service,
        protocol=protocol,
        sources="[192.0.2.200/32]",
        public=None,
        justification="The office uploads files.",
    )
    shown = port.strip('"')
    assert sec(repo) == (
        [
            (
                "SEC004",
                WEB2,
                35,
                13,
                "web2",
                f"port {shown}/tcp for {service} covers the SSH port 22, which stays reserved to "
                "SSH for DAG's management ranges: use another port",
            )
        ]
        if found
        else []
    )


def test_a_later_protection_off(repo: Path) -> None:
    edit(repo, WEB2, "  ip_reputation_monitoring: true\n", "  ip_reputation_monitoring: false\n")
    assert sec(repo) == [
        (
            "SEC005",
            WEB2,
            44,
            29,
            "web2",
            "`ip_reputation_monitoring` must be on (CGV 2024-01): set "
            "`ip_reputation_monitoring: true`",
        )
    ]


def test_the_blocklist_switches_need_a_request_while_the_policy_propagates(repo: Path) -> None:
    edit(
        repo,
        CLIENT,
        "  share_blocklist_network_wide: true\n",
        "  share_blocklist_network_wide: false\n",
    )
    assert sec(repo) == [
        (
            "SEC006",
            CLIENT,
            37,
            33,
            None,
            f"`share_blocklist_network_wide` is off, which only the client can ask for: {ASK}",
        )
    ]
    edit(
        repo,
        CLIENT,
        "  blocklist_propagation: true\n",
        "  blocklist_propagation: true\n  request: REQ-2023-010\n",
    )
    assert sec(repo) == []


def test_the_blocklist_switches_are_free_when_the_policy_does_not_propagate(repo: Path) -> None:
    edit(repo, CLIENT, "  blocklist_propagation: true\n", "  blocklist_propagation: false\n")
    edit(
        repo,
        POLICY,
        "blocklist_propagation:\n  value: true\n",
        "blocklist_propagation:\n  value: false\n",
    )
    assert sec(repo) == []


def test_a_later_reverse_dns_on_another_address(repo: Path) -> None:
    edit(
        repo,
        WEB2,
        "security:\n",
        "reverse_dns:\n  - {ip: 203.0.113.42, name: web2.velo-savoie.example.}\n"
        "  - {ip: 203.0.113.41, name: web1.velo-savoie.example.}\nsecurity:\n",
    )
    assert sec(repo) == [
        (
            "SEC008",
            WEB2,
            42,
            10,
            "web2",
            "reverse DNS for 203.0.113.41, which is not an address of web2 (ips: 203.0.113.42): "
            "name only the server's own addresses",
        )
    ]


WIDE = (
    ": the blocklist lands on every server of the client (and, shared network-wide, of every "
    "client); block the attacking addresses themselves"
)


@pytest.mark.parametrize(
    ("address", "found"),
    [
        ("10.0.0.0/15", "blocking 10.0.0.0/15 is wider than a /16 (blocklist_widest of "
         "policies/dag.yaml)"),
        ("10.0.0.0/16", None),
        ("2001:db8::/31", "blocking 2001:db8::/31 is wider than a /32 (blocklist_widest of "
         "policies/dag.yaml)"),
        ("2001:db8::/32", None),
    ],
)  # fmt: skip
def test_a_later_blocklist_entry_wider_than_the_bound(
    repo: Path, address: str, found: str | None
) -> None:
    edit(repo, CLIENT, "203.0.113.200/29", address)
    assert sec(repo) == ([("SEC007", CLIENT, 42, 16, None, found + WIDE)] if found else [])


def test_a_later_blocklist_entry_covering_a_dag_storage_host(repo: Path) -> None:
    edit(
        repo,
        "policies/dag.yaml",
        "    host: backup1.rbx.dagtechnologies.example\n",
        "    host: backup1.rbx.dagtechnologies.example\n    address: 198.51.100.99\n",
    )
    edit(repo, CLIENT, "203.0.113.200/29", "198.51.100.96/29")
    assert sec(repo) == [
        (
            "SEC007",
            CLIENT,
            42,
            16,
            None,
            "blocking 198.51.100.96/29 covers DAG's storage host rbx-backup-1" + WIDE,
        )
    ]


def test_a_blocklist_entry_covering_a_management_range_is_sec003s_alone(repo: Path) -> None:
    edit(repo, CLIENT, "198.51.100.66/32", "192.0.2.0/24")
    assert sec(repo) == [
        (
            "SEC003",
            CLIENT,
            39,
            16,
            None,
            "blocking 192.0.2.0/24 would cut DAG's management range 192.0.2.0/28 "
            "(policies/dag.yaml) off SSH on every server: block a narrower range",
        )
    ]


def test_a_reverse_dns_elsewhere_lists_every_address_of_the_server(repo: Path) -> None:
    edit(repo, WEB2, "ips: [203.0.113.42]\n", "ips: [203.0.113.42, 203.0.113.43]\n")
    edit(
        repo,
        WEB2,
        "security:\n",
        "reverse_dns:\n  - {ip: 203.0.113.43, name: web2.velo-savoie.example.}\n"
        "  - {ip: 203.0.113.41, name: web1.velo-savoie.example.}\nsecurity:\n",
    )
    assert sec(repo) == [
        (
            "SEC008",
            WEB2,
            42,
            10,
            "web2",
            "reverse DNS for 203.0.113.41, which is not an address of web2 "
            "(ips: 203.0.113.42, 203.0.113.43): name only the server's own addresses",
        )
    ]


def test_a_wide_port_after_a_narrow_one_is_found(repo: Path) -> None:
    edit(
        repo,
        WEB2,
        "      port: 443\n      service: https\n      sources: [any]\n",
        "      port: 443\n      service: https\n      sources: [198.51.100.0/24]\n",
    )
    second_port(repo, port="8080", service="stock", sources="[any]", public=None)
    assert sec(repo) == [
        (
            "SEC002",
            WEB2,
            37,
            17,
            "web2",
            f"stock (port 8080) {WHOLE} but is not a public service of policies/dag.yaml: "
            "restrict `sources` to the addresses that need it, or declare `public: true` and "
            "cite the client's request",
        )
    ]


def test_a_protection_the_server_model_does_not_know_yet_is_found_on_every_server(
    repo: Path,
) -> None:
    """A CGV version that lists a protection the `security` section has no field for (yet):
    each server is told it is not on, at its `security` key, instead of the check failing."""
    edit(
        repo,
        POLICY,
        "  value: [anti_ddos, intrusion_detection, antivirus, ip_reputation_monitoring]\n",
        "  value: [anti_ddos, intrusion_detection, antivirus, ip_reputation_monitoring, waf]\n",
    )
    assert sec(repo) == [
        (
            "SEC005",
            f"clients/velo-savoie/servers/{name}.yaml",
            line,
            3,
            name,
            "`waf` must be on (CGV 2024-01): set `waf: true`",
        )
        for name, line in (("db1", 42), ("web1", 41), ("web2", 41))
    ]
