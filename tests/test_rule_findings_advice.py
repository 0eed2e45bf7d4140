"""The advice rules' whole findings (ADV001-ADV004: rule, file, line, column, server, message,
as literals): development sites by each form of name on a later production server and a later
virtual host, the dev spaces counted from the declared location first or `external`, a location
that does not host the space, sizes at and under the need, advice switched off by the policy,
a disabled dev space. Written to kill the mutants that survived in
`bench/mutation.py rules/advice`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

CIME = "clients/cime-conseil/client.yaml"
DEV1 = "clients/cime-conseil/servers/dev1.yaml"
PROD1 = "clients/cime-conseil/servers/prod1.yaml"
WEB2 = "clients/velo-savoie/servers/web2.yaml"
APART = "the CGV advises keeping development off production servers"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("advice-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def adv(
    root: Path, client: str = "cime-conseil"
) -> list[tuple[str, str, int, int, str | None, str]]:
    return findings(root, client, "ADV")


def host_dev_space_on_prod1(root: Path) -> None:
    edit(root, PROD1, "role: production\n", "role: development\n")
    edit(root, PROD1, "reverse_dns:\n", "hosts_dev_space: true\nreverse_dns:\n")


def test_the_example_clients_are_clean(repo: Path) -> None:
    assert adv(repo) == [] and adv(repo, "velo-savoie") == []


def test_development_sites_on_a_later_production_server_each_form_of_name(repo: Path) -> None:
    vhost = "  - domain: shop.velo-savoie.example\n    tls: {issuer: sectigo}\n"
    edit(
        repo,
        WEB2,
        vhost,
        vhost
        + "  - domain: contest.velo-savoie.example\n"  # `test` inside a word: not a label
        + "  - domain: Recette-shop.velo-savoie.example\n"  # first part of the first label
        + "  - domain: shop-beta.velo-savoie.example\n"  # last part of the first label
        + "  - domain: uat.velo-savoie.example\n"  # the whole first label
        + "  - domain: www.dev.velo-savoie.example\n",  # a later label: not the site's name
    )
    edit(repo, WEB2, "security:\n", "hosts_dev_space: true\nsecurity:\n")
    assert adv(repo, "velo-savoie") == [
        (
            "ADV001",
            WEB2,
            19,
            13,
            "web2",
            f"Recette-shop.velo-savoie.example looks like a "
            f"development site on production server web2: {APART}",
        ),
        (
            "ADV001",
            WEB2,
            20,
            13,
            "web2",
            f"shop-beta.velo-savoie.example looks like a "
            f"development site on production server web2: {APART}",
        ),
        (
            "ADV001",
            WEB2,
            21,
            13,
            "web2",
            f"uat.velo-savoie.example looks like a "
            f"development site on production server web2: {APART}",
        ),
        (
            "ADV001",
            WEB2,
            45,
            18,
            "web2",
            f"production server web2 also hosts the dev space: {APART}",
        ),
    ]


def test_no_advice_on_production_when_the_policy_does_not_give_it(repo: Path) -> None:
    edit(
        repo,
        "policies/cgv/2024-01.yaml",
        "separate_production_and_development:\n  value: true\n",
        "separate_production_and_development:\n  value: false\n",
    )
    edit(repo, WEB2, "security:\n", "hosts_dev_space: true\nsecurity:\n")
    assert adv(repo, "velo-savoie") == []


def test_a_second_dev_space_is_the_one_not_at_the_declared_location(repo: Path) -> None:
    host_dev_space_on_prod1(repo)
    assert adv(repo) == [
        (
            "ADV002",
            PROD1,
            58,
            18,
            "prod1",
            "prod1 hosts another dev space (besides dev1); the contract includes 1",
        ),
    ]
    edit(repo, CIME, "  location: dev1\n", "  location: prod1\n")
    assert adv(repo) == [
        (
            "ADV002",
            DEV1,
            29,
            18,
            "dev1",
            "dev1 hosts another dev space (besides prod1); the contract includes 1",
        ),
    ]


def test_an_external_dev_space_counts_against_the_contract(repo: Path) -> None:
    host_dev_space_on_prod1(repo)
    edit(repo, CIME, "  location: dev1\n", "  location: external\n")
    assert adv(repo) == [
        (
            "ADV002",
            DEV1,
            29,
            18,
            "dev1",
            "dev1 hosts another dev space (besides external, prod1); the contract includes 1",
        ),
        (
            "ADV002",
            PROD1,
            58,
            18,
            "prod1",
            "prod1 hosts another dev space (besides external, dev1); the contract includes 1",
        ),
    ]


def test_the_location_must_be_a_server_that_hosts_the_dev_space(repo: Path) -> None:
    edit(repo, CIME, "  location: dev1\n", "  location: prod1\n")
    assert adv(repo) == [
        (
            "ADV003",
            CIME,
            43,
            13,
            None,
            "the dev space is on `prod1`, which does not declare "
            "`hosts_dev_space: true`: name the server hosting it, or `external`",
        ),
    ]


def test_no_location_finding_for_a_server_whose_file_cannot_be_read(repo: Path) -> None:
    edit(repo, DEV1, "role: development\n", "role: [development\n")
    assert adv(repo) == []


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (80, []),
        (
            79,
            [
                (
                    "ADV004",
                    CIME,
                    44,
                    12,
                    None,
                    "the dev space has 79 GB; production (50 GB) plus its archive (30 GB) need 80 GB",
                ),
            ],
        ),
    ],
)
def test_the_dev_space_holds_production_and_its_archive(
    repo: Path, size: int, expected: list[tuple[str, str, int, int, str | None, str]]
) -> None:
    edit(repo, CIME, "  size_gb: 80\n", f"  size_gb: {size}\n")
    assert adv(repo) == expected


def test_a_disabled_dev_space_is_not_checked(repo: Path) -> None:
    edit(
        repo,
        CIME,
        "  enabled: true\n  location: dev1\n  size_gb: 80\n",
        "  enabled: false\n  location: nowhere\n  size_gb: 1\n",
    )
    assert adv(repo) == []
