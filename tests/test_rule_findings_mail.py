"""The shared-mail rules' whole findings (MAIL001-MAIL007: rule, file, line, column, server,
message, as literals): a later domain not hosted, a vhost below the mail domain,
quotas at and past each bound with the slices billed, the policy's switches, internal and
external forwards with and without a request. Written to kill the mutants that survived in
`bench/mutation.py rules/mail`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

CLIENT = "clients/alpine-books/client.yaml"
SHOP1 = "clients/alpine-books/servers/shop1.yaml"
POLICY = "policies/cgv/2024-01.yaml"
DOMAINS = "  domains: [alpine-books.example]\n"
QUOTA = "  quota_gb: 25\n"
LAST = "  smtp_from_sites: false\n"
DISCOURAGED = (
    "is discouraged (spam forwarded from the shared servers hurts their reputation): if the "
    "client insists, add `request: REQ-...` to this forward citing the request"
)

Seen = tuple[str, str, int, int, str | None, str]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("mail-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def mail(root: Path, client: str = "alpine-books") -> list[Seen]:
    return findings(root, client, "MAIL")


def test_a_later_mail_domain_not_hosted(repo: Path) -> None:
    edit(
        repo,
        CLIENT,
        DOMAINS,
        "  domains: [alpine-books.example, www.alpine-books.example, shop.alpine-books.example]\n",
    )
    assert mail(repo) == [
        (
            "MAIL001",
            CLIENT,
            23,
            61,
            None,
            "shop.alpine-books.example is not hosted on any server of alpine-books: shared mail "
            "serves only domains of the client's vhosts (domain or alias)",
        )
    ]


def test_a_vhost_below_the_mail_domain_hosts_it(repo: Path) -> None:
    edit(repo, SHOP1, "    aliases: [alpine-books.example]\n", "    aliases: []\n")
    assert mail(repo) == []  # www.alpine-books.example is below alpine-books.example


def test_no_hosting_finding_while_a_server_file_cannot_be_read(repo: Path) -> None:
    edit(repo, CLIENT, DOMAINS, "  domains: [elsewhere.example]\n")
    edit(repo, SHOP1, "role: production\n", "role: [production\n")
    assert mail(repo) == []


def test_dedicated_mail_is_not_checked_by_the_shared_mail_rules(repo: Path) -> None:
    edit(
        repo,
        "clients/velo-savoie/client.yaml",
        "  domains: [velo-savoie.example]\n",
        "  domains: [elsewhere.example]\n  quota_gb: 90\n  cc_limit: 50\n  mass_mailing: true\n"
        "  smtp_from_sites: true\n  external_forwards:\n"
        "    - {source: a@elsewhere.example, target: b@mail.example}\n",
    )
    assert mail(repo, "velo-savoie") == []


def overage(quota: int, slices: int, amount: str) -> Seen:
    return (
        "MAIL002",
        CLIENT,
        24,
        13,
        None,
        f"a quota of {quota} GB is {quota - 25} GB over the 25 GB included: {slices} slice(s) "
        f"of 5 GB, {amount} EUR HT per month",
    )


@pytest.mark.parametrize(
    ("quota", "expected"),
    [
        (25, []),
        (26, [overage(26, 1, "10.00")]),
        (30, [overage(30, 1, "10.00")]),
        (31, [overage(31, 2, "20.00")]),
        (35, [overage(35, 2, "20.00")]),
        (
            36,
            [
                (
                    "MAIL003",
                    CLIENT,
                    24,
                    13,
                    None,
                    "a quota of 36 GB exceeds the 35 GB maximum of shared mail: lower it, or move "
                    "the client to a dedicated mail server",
                )
            ],
        ),
    ],
)
def test_quota_over_the_included_is_billed_by_slices_up_to_the_maximum(
    repo: Path, quota: int, expected: list[Seen]
) -> None:
    edit(repo, CLIENT, QUOTA, f"  quota_gb: {quota}\n")
    assert mail(repo) == expected


def test_a_cited_request_makes_the_overage_agreed(repo: Path) -> None:
    edit(repo, CLIENT, QUOTA, "  quota_gb: 30\n  request: REQ-2025-001\n")
    assert mail(repo) == []


@pytest.mark.parametrize(
    ("cc", "expected"),
    [
        (9, []),
        (
            10,
            [
                (
                    "MAIL005",
                    CLIENT,
                    25,
                    13,
                    None,
                    "10 recipients in copy; shared mail allows 9: set `cc_limit: 9` or less",
                )
            ],
        ),
    ],
)
def test_recipients_in_copy_up_to_the_limit(repo: Path, cc: int, expected: list[Seen]) -> None:
    edit(repo, CLIENT, "  cc_limit: 9\n", f"  cc_limit: {cc}\n")
    assert mail(repo) == expected


def test_mass_mailing_and_smtp_from_sites_where_the_policy_allows_them(repo: Path) -> None:
    edit(repo, CLIENT, "  mass_mailing: false\n", "  mass_mailing: true\n")
    edit(repo, CLIENT, LAST, "  smtp_from_sites: true\n")
    assert mail(repo) == [
        (
            "MAIL004",
            CLIENT,
            26,
            17,
            None,
            "mass mailing is forbidden on DAG's shared mail servers: set `mass_mailing: false`",
        ),
        (
            "MAIL006",
            CLIENT,
            27,
            20,
            None,
            "sites and scripts may not send through DAG's shared SMTP servers: set "
            "`smtp_from_sites: false`",
        ),
    ]
    edit(
        repo,
        POLICY,
        "mail_mass_mailing_allowed:\n  value: false\n",
        "mail_mass_mailing_allowed:\n  value: true\n",
    )
    assert [f[0] for f in mail(repo)] == ["MAIL006"]
    edit(
        repo,
        POLICY,
        "mail_smtp_from_sites_allowed:\n  value: false\n",
        "mail_smtp_from_sites_allowed:\n  value: true\n",
    )
    assert mail(repo) == []


FORWARDS = (
    LAST + "  external_forwards:\n"
    "    - {source: a@alpine-books.example, target: b@alpine-books.example}\n"
    "    - {source: c@alpine-books.example, target: d@mail.example, request: REQ-2025-001}\n"
    "    - {source: e@alpine-books.example, target: f@mail.example}\n"
)


def test_only_an_external_forward_without_a_request_is_discouraged(repo: Path) -> None:
    edit(repo, CLIENT, LAST, FORWARDS)
    assert mail(repo) == [
        (
            "MAIL007",
            CLIENT,
            31,
            48,
            None,
            f"forwarding e@alpine-books.example to the external f@mail.example {DISCOURAGED}",
        )
    ]


def test_a_request_on_the_mail_section_covers_every_forward(repo: Path) -> None:
    edit(repo, CLIENT, LAST, FORWARDS)
    edit(repo, CLIENT, QUOTA, QUOTA + "  request: REQ-2025-001\n")
    assert mail(repo) == []


def test_forwards_are_not_discouraged_where_the_policy_advises_them(repo: Path) -> None:
    edit(repo, CLIENT, LAST, FORWARDS)
    edit(
        repo,
        POLICY,
        "mail_external_forward_advised:\n  value: false\n",
        "mail_external_forward_advised:\n  value: true\n",
    )
    assert mail(repo) == []


@pytest.mark.parametrize(
    ("alias", "domain"),
    [("Alpine-Livres.Example.", "alpine-livres.example"), ("Alpine-Livres.EX", "alpine-livres.ex")],
)
def test_vhost_names_are_compared_without_case_or_final_dot(
    repo: Path, alias: str, domain: str
) -> None:
    edit(repo, SHOP1, "    aliases: [alpine-books.example]\n", f"    aliases: [{alias}]\n")
    edit(repo, CLIENT, DOMAINS, f"  domains: [{domain}]\n")  # hosted by the alias only
    assert mail(repo) == []


def test_the_overage_uses_the_numbers_of_the_clients_cgv(repo: Path) -> None:
    for term, old, new in [
        ("mail_quota_included_gb", "25", "20"),
        ("mail_hard_limit_gb", "35", "40"),
        ("mail_overage_slice_gb", "5", "4"),
        ("mail_overage_slice_price_eur", '"10.00"', '"12.50"'),
    ]:
        edit(repo, POLICY, f"{term}:\n  value: {old}\n", f"{term}:\n  value: {new}\n")
    edit(repo, CLIENT, QUOTA, "  quota_gb: 40\n")
    assert mail(repo) == [
        (
            "MAIL002",
            CLIENT,
            24,
            13,
            None,
            "a quota of 40 GB is 20 GB over the 20 GB included: 5 slice(s) of 4 GB, 62.50 EUR HT "
            "per month",
        )
    ]
