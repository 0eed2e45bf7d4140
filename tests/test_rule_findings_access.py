"""The access rules' whole findings (ACC001-ACC008: rule, file, line, column, server, message,
as literals) on a second root-access window and on a later server's later account: window
bounds (a one-day window, an empty hour range), unknown and unreadable servers, the policy's
switch, the holders listed, reserved names and DAG's keys. Written to kill the mutants that
survived in `bench/mutation.py rules/access`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rule_findings import copy_repository, edit, findings, restored

CIME = "clients/cime-conseil/client.yaml"
DEV1 = "clients/cime-conseil/servers/dev1.yaml"
WEB2 = "clients/velo-savoie/servers/web2.yaml"
POLICY = "policies/cgv/2024-01.yaml"
FIRST_WINDOW_END = "      request: REQ-2026-021\nmail:\n"
DEPLOY = (
    "      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINqaeBOuTTnm8n5IwSI4NE9tGQuVK66n1dZGfi6Wjeds "
    "deploy@velo-savoie-ci\n"
)
DAG_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM0g9SRRwPiXiFMEBaKxPqy1M0XfCP4XvLkZmXjaFN7C"

Seen = tuple[str, str, int, int, str | None, str]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("access-rules"))


@pytest.fixture
def repo(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def acc(root: Path, client: str = "cime-conseil") -> list[Seen]:
    return findings(root, client, "ACC")


def second_window(
    root: Path,
    server: str = "prod1",
    granted_to: str = "Cime Conseil CI",
    start: str = "2026-10-01",
    end: str = "2026-10-01",
    hours: str = '["14:00", "14:01"]',
    suspended: str = "true",
) -> None:
    """A second window (lines 32-39 of client.yaml), valid unless told otherwise."""
    edit(
        root,
        CIME,
        FIRST_WINDOW_END,
        f"      request: REQ-2026-021\n    - server: {server}\n      granted_to: {granted_to}\n"
        f"      start: {start}\n      end: {end}\n      days: [mon]\n      hours: {hours}\n"
        f"      guarantees_suspended: {suspended}\n      request: REQ-2026-021\nmail:\n",
    )


def test_a_one_day_window_of_one_minute_is_valid(repo: Path) -> None:
    second_window(repo)
    assert acc(repo) == []


def test_a_second_window_ending_before_it_starts_with_empty_hours(repo: Path) -> None:
    second_window(repo, end="2026-09-30", hours='["14:00", "14:00"]')
    assert acc(repo) == [
        (
            "ACC001",
            CIME,
            35,
            12,
            None,
            "root access ends on 2026-09-30, before it starts on 2026-10-01",
        ),
        (
            "ACC001",
            CIME,
            37,
            14,
            None,
            "root access hours 14:00-14:00 are not a window: write `[from, to]` with `from` "
            "before `to`",
        ),
    ]


def test_a_second_window_on_an_unknown_server(repo: Path) -> None:
    second_window(repo, server="build9")
    assert acc(repo) == [
        (
            "ACC002",
            CIME,
            32,
            15,
            None,
            "root access is given on `build9`, which is not a server of cime-conseil (dev1, prod1)",
        )
    ]


def test_no_unknown_server_finding_for_a_server_whose_file_cannot_be_read(repo: Path) -> None:
    edit(repo, DEV1, "role: development\n", "role: [development\n")
    assert acc(repo) == []


def test_the_second_window_suspends_the_guarantees_unless_the_policy_says_otherwise(
    repo: Path,
) -> None:
    second_window(repo, suspended="false")
    assert acc(repo) == [
        (
            "ACC003",
            CIME,
            38,
            29,
            None,
            "root access on prod1 suspends the intervention guarantees: set "
            "`guarantees_suspended: true`",
        )
    ]
    edit(
        repo,
        POLICY,
        "root_access_suspends_guarantees:\n  value: true\n",
        "root_access_suspends_guarantees:\n  value: false\n",
    )
    assert acc(repo) == []


def test_a_window_for_someone_without_a_key_after_a_window_on_an_unknown_server(
    repo: Path,
) -> None:
    edit(repo, CIME, "    - server: dev1\n", "    - server: build9\n")
    second_window(repo, granted_to="Julien Favre")
    assert [f for f in acc(repo) if f[0] == "ACC006"] == [
        (
            "ACC006",
            CIME,
            33,
            19,
            None,
            "root access on prod1 is granted to Julien Favre, who holds no account with a key "
            "there (Cime Conseil CI): the window would give root to nobody",
        )
    ]


def test_reserved_names_and_dags_keys_on_a_later_account_of_a_later_server(repo: Path) -> None:
    edit(
        repo,
        "policies/dag.yaml",
        "    host: mx2.dagtechnologies.example\n",
        f"    host: mx2.dagtechnologies.example\n    host_key: {DAG_KEY}\n",
    )
    later = (
        "  - name: root\n    kind: ssh\n    owner: Vélo Savoie IT\n    keys:\n"
        f"      - {DAG_KEY.replace('AAAAIM0g', 'AAAAIM0h')} ops@velo-savoie\n"
        "  - name: ubuntu\n    kind: ssh\n    owner: Vélo Savoie IT\n    keys:\n"
        f"      - {DEPLOY.split()[1]} {DEPLOY.split()[2]} first\n"
        f"      - {DAG_KEY} sneaky@velo-savoie\n"
    )
    edit(repo, WEB2, DEPLOY, DEPLOY + later)
    assert acc(repo, "velo-savoie") == [
        (
            "ACC005",
            WEB2,
            24,
            11,
            "web2",
            "root is reserved to DAG (CGV Art. 6): name the account after its holder, and record "
            "root access as a `contract.root_access` window in client.yaml",
        ),
        (
            "ACC007",
            WEB2,
            29,
            11,
            "web2",
            "the account name ubuntu is reserved (a cloud image's administrator or DAG's own "
            "account; root is reserved to DAG, CGV Art. 6): name the account after its holder",
        ),
        (
            "ACC008",
            WEB2,
            34,
            9,
            "web2",
            "this key of ubuntu is DAG's key declared in policies/dag.yaml "
            "(mail_hosts[1].host_key): a client account never holds one of DAG's keys; declare "
            "the client's own key",
        ),
    ]


def test_the_catalogues_secret_check_finds_what_the_pipeline_finds(repo: Path) -> None:
    """ACC004's registered check (the pipeline scans raw text itself, before YAML; `dagsync
    rules` and any caller of `Rule.check` get this one): every file of the client, in order,
    each secret at its position, the server named for a server file."""
    from dagsync.rules.registry import BY_ID
    from rule_findings import context

    edit(
        repo,
        "clients/velo-savoie/client.yaml",
        "  hosting: dedicated\n",
        "  hosting: dedicated  # admin password: Tr0ub4dor-3x\n",
    )  # dagsync: allow-secret
    edit(
        repo,
        "clients/velo-savoie/requests.yaml",
        "    channel: ticket\n",
        "    channel: ticket  # db_password=Mv7rQ2xL9pZ4\n",
    )  # dagsync: allow-secret
    edit(
        repo, WEB2, "  port: 22\n", "  port: 22  # token: Xk9vQ2mT7pLwZ3\n"
    )  # dagsync: allow-secret
    pipeline = [f[1:5] for f in acc(repo, "velo-savoie")]
    checked = [
        (v.doc.rel, *v.doc.locate([]), v.server)
        for v in BY_ID["ACC004"].check(context(repo, "velo-savoie"))
    ]
    assert (
        checked
        == pipeline
        == [
            ("clients/velo-savoie/client.yaml", 33, 31, None),
            ("clients/velo-savoie/requests.yaml", 10, 24, None),
            (WEB2, 11, 15, "web2"),
        ]
    )
    messages = [v.message for v in BY_ID["ACC004"].check(context(repo, "velo-savoie"))]
    assert messages == [
        "`password` holds a secret value: remove it from the repository (rotate it if it was "
        "real) and reference it from the vault or the environment instead",
        "`db_password` holds a secret value: remove it from the repository (rotate it if it "
        "was real) and reference it from the vault or the environment instead",
        "`token` holds a secret value: remove it from the repository (rotate it if it was "
        "real) and reference it from the vault or the environment instead",
    ]


def test_the_holders_of_a_key_are_listed_in_order_or_said_to_be_none(repo: Path) -> None:
    prod1 = "clients/cime-conseil/servers/prod1.yaml"
    alice = (
        "  - name: alice\n    kind: ssh\n    owner: Alice Martin\n    keys:\n      - "
        + DEPLOY.split()[1]
        + " "
        + DEPLOY.split()[2]
        + " alice@cime\n"
    )
    edit(repo, prod1, "firewall:\n", alice + "firewall:\n")
    second_window(repo, granted_to="Julien Favre")
    nobody = "the window would give root to nobody"
    assert [f[5] for f in acc(repo) if f[0] == "ACC006"] == [
        "root access on prod1 is granted to Julien Favre, who holds no account with a key there "
        f"(Alice Martin, Cime Conseil CI): {nobody}"
    ]
    dev1 = (repo / DEV1).read_text()
    start, end = dev1.index("accounts:\n"), dev1.index("firewall:\n")
    (repo / DEV1).write_text(dev1[:start] + dev1[end:])
    assert [f[5] for f in acc(repo) if f[0] == "ACC006"] == [
        "root access on dev1 is granted to Julien Favre, who holds no account with a key there "
        f"(no account has keys): {nobody}",
        "root access on prod1 is granted to Julien Favre, who holds no account with a key there "
        f"(Alice Martin, Cime Conseil CI): {nobody}",
    ]


def test_a_window_on_a_client_without_servers(repo: Path) -> None:
    for path in (repo / "clients/cime-conseil/servers").glob("*.yaml"):
        path.unlink()
    assert [f for f in acc(repo) if f[0] == "ACC002"] == [
        (
            "ACC002",
            CIME,
            24,
            15,
            None,
            "root access is given on `dev1`, which is not a server of cime-conseil (no servers)",
        )
    ]


@pytest.mark.parametrize("observer", [True, False])
def test_dags_key_without_a_comment_is_found_too(repo: Path, observer: bool) -> None:
    edit(
        repo,
        "policies/dag.yaml",
        "    host: mx2.dagtechnologies.example\n",
        f"    host: mx2.dagtechnologies.example\n    host_key: {DAG_KEY}\n",
    )
    if not observer:  # policies/dag.yaml may declare no observer
        dag = (repo / "policies/dag.yaml").read_text()
        start = dag.index("observer:\n")
        end = dag.index("\n", dag.index("  key: ", start)) + 1
        (repo / "policies/dag.yaml").write_text(dag[:start] + dag[end:])
    edit(repo, WEB2, DEPLOY, DEPLOY + f"      - {DAG_KEY}\n")
    assert acc(repo, "velo-savoie") == [
        (
            "ACC008",
            WEB2,
            24,
            9,
            "web2",
            "this key of deploy is DAG's key declared in policies/dag.yaml "
            "(mail_hosts[1].host_key): a client account never holds one of DAG's keys; declare "
            "the client's own key",
        )
    ]
