"""The supply rules' whole findings (SUP001-SUP003: rule, file, line, column, server, message,
as literals) on a server that is not the first of its client and a virtual host that is not
the first of its server; derogation by request, a virtual host without TLS, a datacenter code
of a known site. Written to kill the mutants that survived in `bench/mutation.py rules/supply`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

WEB2 = "clients/velo-savoie/servers/web2.yaml"
VHOST = "    tls: {issuer: sectigo}\n"
ASK = (
    "add `request: REQ-...` to `ovh` citing the client's request recorded in "
    "clients/velo-savoie/requests.yaml"
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("supply-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def sup(root: Path) -> list[tuple[str, str, int, int, str | None, str]]:
    return findings(root, "velo-savoie", "SUP")


def test_each_supply_rule_names_the_server_the_key_and_the_fix(repo: Path) -> None:
    edit(repo, WEB2, "  datacenter: gra3\n", "  datacenter: fra1\n")
    edit(repo, WEB2, "  type: bare_metal\n", "  type: vps\n")
    edit(
        repo,
        WEB2,
        VHOST,
        VHOST + "  - domain: www.velo-savoie.example\n    tls: {issuer: cheap-certs}\n",
    )
    assert sup(repo) == [
        (
            "SUP003",
            WEB2,
            6,
            15,
            "web2",
            "datacenter `fra1` is not an OVH site of policies/dag.yaml (bhs, eri, gra, lim, par, "
            "rbx, sbg, waw): OVH is DAG's exclusive supplier; fix the code or add the site there",
        ),
        (
            "SUP001",
            WEB2,
            7,
            9,
            "web2",
            f"server type `vps` differs from the CGV's `bare_metal`: {ASK}",
        ),
        (
            "SUP002",
            WEB2,
            19,
            19,
            "web2",
            "TLS issuer `cheap-certs` of www.velo-savoie.example is not accepted: use one of "
            "`ovh`, `letsencrypt`, `sectigo`, `globalsign` (policies/dag.yaml `tls_issuers`)",
        ),
    ]


def test_a_cited_request_allows_another_server_type(repo: Path) -> None:
    edit(repo, WEB2, "  type: bare_metal\n", "  type: vps\n  request: REQ-2023-010\n")
    assert sup(repo) == []


def test_a_virtual_host_without_tls_has_no_issuer_to_check(repo: Path) -> None:
    edit(repo, WEB2, VHOST, VHOST + "  - domain: www.velo-savoie.example\n")
    assert sup(repo) == []


@pytest.mark.parametrize("code", ["sbg1", "waw1", "bhs5"])
def test_any_datacenter_of_a_known_site_is_accepted(repo: Path, code: str) -> None:
    edit(repo, WEB2, "  datacenter: gra3\n", f"  datacenter: {code}\n")
    assert [f for f in sup(repo) if f[0] == "SUP003"] == []
