"""The request rules' whole findings (REQ001-REQ004: rule, file, line, column, server,
message, as literals): a citation in a later server and in client.yaml, a request expiring
today or the day before, cited in three or four places, a later request nobody cites, a third
request repeating the second's id. Written to kill the mutants that survived in
`bench/mutation.py rules/repository`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

REQUESTS = "clients/velo-savoie/requests.yaml"
CLIENT = "clients/velo-savoie/client.yaml"
DB1 = "clients/velo-savoie/servers/db1.yaml"
WEB1 = "clients/velo-savoie/servers/web1.yaml"
WEB2 = "clients/velo-savoie/servers/web2.yaml"
FIRST = "    summary: Two load-balanced web servers and one database server for the B2B shop.\n"
SECOND = "    summary: Give the ERP in the Chambéry office access to the shop database.\n"
CITED = "      request: REQ-2023-010\n"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("request-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def req(root: Path) -> list[tuple[str, str, int, int, str | None, str]]:
    return findings(root, "velo-savoie", "REQ")


def test_an_unknown_request_in_a_later_server_and_in_client_yaml(repo: Path) -> None:
    edit(repo, WEB2, CITED, "      request: REQ-2023-099\n")
    edit(
        repo,
        CLIENT,
        "  domains: [velo-savoie.example]\n",
        "  domains: [velo-savoie.example]\n  request: REQ-2026-001\n",
    )
    record = "record it in clients/velo-savoie/requests.yaml or cite an existing one"
    assert req(repo) == [
        ("REQ001", CLIENT, 35, 12, None, f"REQ-2026-001 is not a request of velo-savoie: {record}"),
        ("REQ001", WEB2, 33, 16, "web2", f"REQ-2023-099 is not a request of velo-savoie: {record}"),
    ]


@pytest.mark.parametrize(
    ("expires", "expected"),
    [
        ("2026-12-01", []),  # the day of the validation: still current
        (
            "2026-11-30",
            [
                (
                    "REQ002",
                    REQUESTS,
                    13,
                    14,
                    None,
                    "REQ-2025-007 expired on 2026-11-30 but is still cited by "
                    "clients/velo-savoie/servers/db1.yaml (firewall.open_ports.1.request): restore the "
                    "CGV default there, or record the client's renewed request",
                )
            ],
        ),
    ],
)
def test_a_later_request_expires_after_its_last_day(
    repo: Path, expires: str, expected: list[tuple[str, str, int, int, str | None, str]]
) -> None:
    edit(repo, REQUESTS, SECOND, SECOND + f"    expires: {expires}\n")
    assert req(repo) == expected


def test_an_expired_request_lists_three_places_then_an_ellipsis(repo: Path) -> None:
    edit(repo, REQUESTS, FIRST, FIRST + "    expires: 2026-01-31\n")
    places = (
        "clients/velo-savoie/servers/web1.yaml (firewall.open_ports.0.request), "
        "clients/velo-savoie/servers/web2.yaml (firewall.open_ports.0.request)"
    )
    assert [f[5] for f in req(repo)] == [
        f"REQ-2023-010 expired on 2026-01-31 but is still cited by {places}: restore the CGV "
        "default there, or record the client's renewed request",
    ]
    edit(repo, DB1, "      request: REQ-2025-007\n", CITED)
    third = "clients/velo-savoie/servers/db1.yaml (firewall.open_ports.1.request), "
    assert [f[5] for f in req(repo) if f[0] == "REQ002"] == [
        f"REQ-2023-010 expired on 2026-01-31 but is still cited by {third}{places}: restore "
        "the CGV default there, or record the client's renewed request",
    ]
    edit(
        repo,
        CLIENT,
        "  domains: [velo-savoie.example]\n",
        "  domains: [velo-savoie.example]\n  request: REQ-2023-010\n",
    )
    assert [f[5] for f in req(repo) if f[0] == "REQ002"] == [
        "REQ-2023-010 expired on 2026-01-31 but is still cited by "
        "clients/velo-savoie/client.yaml (mail.request), "
        f"{third}{places.split(', ')[0]} ...: restore the CGV default there, or record the "
        "client's renewed request",
    ]


def test_an_expired_request_nobody_cites_is_only_uncited(repo: Path) -> None:
    edit(repo, REQUESTS, SECOND, SECOND + "    expires: 2026-01-31\n")
    edit(repo, DB1, "      request: REQ-2025-007\n", CITED)
    assert req(repo) == [
        (
            "REQ003",
            REQUESTS,
            8,
            9,
            None,
            "REQ-2025-007 is cited by no `request:` field of "
            "velo-savoie: cite it where it was carried out, or remove it",
        ),
    ]


def test_no_uncited_request_while_a_server_file_cannot_be_read(repo: Path) -> None:
    edit(repo, DB1, "      request: REQ-2025-007\n", CITED)
    edit(repo, WEB1, "role: production\n", "role: [production\n")
    assert req(repo) == []


def test_a_third_request_repeating_the_seconds_id(repo: Path) -> None:
    edit(
        repo,
        REQUESTS,
        SECOND,
        SECOND
        + SECOND.replace(
            "    summary",
            "  - id: REQ-2025-007\n"
            "    date: 2025-05-01\n    channel: email\n    author: Marc Perrier\n    summary",
        ),
    )
    assert req(repo) == [
        (
            "REQ004",
            REQUESTS,
            13,
            9,
            None,
            "REQ-2025-007 is already the id of request #2: give this one the next free id",
        ),
    ]


def test_a_repeated_id_nobody_cites_is_uncited_once(repo: Path) -> None:
    edit(repo, DB1, "      request: REQ-2025-007\n", CITED)
    repeated = "  - id: REQ-2025-007\n    date: 2025-05-01\n    channel: email\n"
    edit(repo, REQUESTS, SECOND, SECOND + repeated + "    author: Marc Perrier\n" + SECOND)
    assert req(repo) == [
        (
            "REQ003",
            REQUESTS,
            8,
            9,
            None,
            "REQ-2025-007 is cited by no `request:` field of velo-savoie: cite it where it was "
            "carried out, or remove it",
        ),
        (
            "REQ004",
            REQUESTS,
            13,
            9,
            None,
            "REQ-2025-007 is already the id of request #2: give this one the next free id",
        ),
    ]


def test_without_requests_yaml_every_citation_is_unknown_and_nothing_else(repo: Path) -> None:
    (repo / REQUESTS).unlink()
    record = "record it in clients/velo-savoie/requests.yaml or cite an existing one"
    assert findings(repo, "velo-savoie", "") == [
        ("REP004", REQUESTS, 1, 1, None, "clients/velo-savoie/ has no requests.yaml: create it"),
        ("REQ001", DB1, 40, 16, "db1", f"REQ-2025-007 is not a request of velo-savoie: {record}"),
        ("REQ001", WEB1, 33, 16, "web1", f"REQ-2023-010 is not a request of velo-savoie: {record}"),
        ("REQ001", WEB2, 33, 16, "web2", f"REQ-2023-010 is not a request of velo-savoie: {record}"),
    ]


def test_an_invalid_requests_yaml_stops_the_request_rules_with_one_note(repo: Path) -> None:
    edit(repo, REQUESTS, "    channel: ticket\n", "    channel: pigeon\n")
    assert findings(repo, "velo-savoie", "") == [
        (
            "RUN001",
            CLIENT,
            1,
            1,
            None,
            "3 CGV rule(s) not run where their input is invalid: REQ001, REQ002, REQ003 read "
            "requests.yaml `requests`; fix the findings above and validate again",
        ),
        (
            "SCH002",
            REQUESTS,
            10,
            14,
            None,
            "`requests.1.channel`: input should be 'email', 'registered_letter', 'ticket' or "
            "'phone' (got 'pigeon')",
        ),
    ]


def test_a_repeated_id_is_found_in_a_requests_yaml_that_does_not_validate(repo: Path) -> None:
    # REQ004 reads the raw list: entries that are not mappings, or whose id is not text, are
    # the schema's findings and are skipped, never the end of the check.
    text = (repo / REQUESTS).read_text()
    (repo / REQUESTS).write_text(
        text.replace("requests:\n", "requests:\n  - oops\n  - {id: 5}\n", 1)
        + "  - id: REQ-2025-007\n"
    )
    assert req(repo) == [
        (
            "REQ004",
            REQUESTS,
            15,
            9,
            None,
            "REQ-2025-007 is already the id of request #4: give this one the next free id",
        )
    ]
