"""CrowdSec from the model, without hosts: scopes, secrets, rendered files, plan diffs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from ipaddress import ip_network
from pathlib import Path

import pytest

from dagsync.reconcile.security import aide, antivirus, crowdsec, install, reputation
from dagsync.reconcile.security.credentials import MissingSecret, Secrets, from_environment
from dagsync.reconcile.security.desired import desired
from dagsync.reconcile.security.scope import NETWORK, scope_of, scopes, scopes_of_client
from dagsync.reconcile.shell import UnsafeValue
from dagsync.validate.repository import ClientConfig, Repository, load_repository

MAIN = Path(__file__).resolve().parents[1]
SECRETS = Secrets(b"k" * 32)


@pytest.fixture(scope="module")
def repo() -> Repository:
    return load_repository(MAIN)


def _with(config: ClientConfig, **network: bool) -> ClientConfig:
    net = config.client.network.model_copy(update=network)
    return replace(config, client=config.client.model_copy(update={"network": net}))


def _keys(repo: Repository, **changes: dict[str, bool]) -> dict[str, list[str]]:
    clients = [_with(c, **changes.get(c.id, {})) for c in repo.clients]
    return {s.key: [f"{m.client}/{m.server}" for m in s.members] for s in scopes(clients, 8080)}


def test_sharing_clients_form_one_network_scope(repo: Repository) -> None:
    assert _keys(repo) == {
        NETWORK: [
            "alpine-books/shop1",
            "cime-conseil/dev1",
            "cime-conseil/prod1",
            "velo-savoie/db1",
            "velo-savoie/web1",
            "velo-savoie/web2",
        ]
    }


def test_an_opted_out_client_has_one_scope_per_server(repo: Repository) -> None:
    keys = _keys(repo, **{"velo-savoie": {"blocklist_propagation": False}})
    assert keys["server.velo-savoie.db1"] == ["velo-savoie/db1"]
    assert keys["server.velo-savoie.web1"] == ["velo-savoie/web1"]
    assert "velo-savoie/web1" not in keys[NETWORK]


def test_opting_out_of_propagation_wins_over_network_wide_sharing(repo: Repository) -> None:
    keys = _keys(
        repo,
        **{"velo-savoie": {"blocklist_propagation": False, "share_blocklist_network_wide": True}},
    )
    assert "client.velo-savoie" not in keys and "server.velo-savoie.web1" in keys


def test_a_client_that_does_not_share_has_a_scope_of_its_own(repo: Repository) -> None:
    keys = _keys(repo, **{"cime-conseil": {"share_blocklist_network_wide": False}})
    assert keys["client.cime-conseil"] == ["cime-conseil/dev1", "cime-conseil/prod1"]
    assert keys[NETWORK] == [
        "alpine-books/shop1",
        "velo-savoie/db1",
        "velo-savoie/web1",
        "velo-savoie/web2",
    ]


def test_scopes_partition_the_servers_and_take_consecutive_ports(repo: Repository) -> None:
    clients = [
        _with(c, blocklist_propagation=c.id != "velo-savoie", share_blocklist_network_wide=False)
        for c in repo.clients
    ]
    found = scopes(clients, 9000)
    assert [s.port for s in found] == list(range(9000, 9000 + len(found)))
    members = [(m.client, m.server) for s in found for m in s.members]
    assert sorted(members) == sorted((c.id, s.name) for c in repo.clients for s in c.servers)
    assert scope_of(found, "velo-savoie", "web1").key == "server.velo-savoie.web1"
    assert [s.key for s in scopes_of_client(found, "velo-savoie")] == [
        "server.velo-savoie.db1",
        "server.velo-savoie.web1",
        "server.velo-savoie.web2",
    ]


def test_secrets_are_stable_distinct_and_never_printed() -> None:
    assert SECRETS.bouncer_key("network", "a.b") == Secrets(b"k" * 32).bouncer_key("network", "a.b")
    values = {
        SECRETS.bouncer_key("network", "a.b"),
        SECRETS.bouncer_key("client.a", "a.b"),
        SECRETS.machine_password("network", "a.b"),
        Secrets(b"j" * 32).bouncer_key("network", "a.b"),
    }
    assert len(values) == 4
    assert "k" * 32 not in repr(SECRETS)


def test_a_short_or_missing_master_secret_is_refused() -> None:
    with pytest.raises(MissingSecret):
        Secrets(b"short")
    with pytest.raises(MissingSecret):
        from_environment({})


def test_the_profile_never_bans_protected_networks() -> None:
    text = crowdsec.profiles([ip_network("192.0.2.0/28"), ip_network("192.0.2.16/28")], "h")
    (condition,) = json.loads(text.split("\n", 1)[1])["filters"]
    assert 'IpInRange(Alert.GetValue(), "192.0.2.0/27")' in condition  # collapsed
    assert condition.startswith('Alert.Remediation == true && Alert.GetScope() == "Ip"')


@pytest.mark.parametrize("value", ["${HOME}", "line\nbreak", "a\x00b"])
def test_a_value_crowdsec_would_expand_or_split_is_refused(value: str) -> None:
    with pytest.raises(UnsafeValue):
        crowdsec.acquisition([crowdsec.LogSource("sshd", (value,))], "header")


def test_the_bouncer_has_its_own_tables_beside_dagsyncs() -> None:
    text = crowdsec.bouncer_config("http://sec1:8080/", "key", "header")
    tables = json.loads(text.split("\n", 1)[1])["nftables"]
    assert {tables["ipv4"]["table"], tables["ipv6"]["table"]} == {"crowdsec", "crowdsec6"}


def test_every_server_gets_a_bouncer_and_an_agent_unless_detection_is_off(
    repo: Repository,
) -> None:
    model = desired(repo, SECRETS)
    assert sorted(model.servers) == [f"{c.id}/{s.name}" for c, s in repo.servers()]
    daemons = {t: [d.name for d in s.daemons] for t, s in model.servers.items()}
    assert daemons["velo-savoie/web1"] == ["crowdsec-agent", "crowdsec-bouncer"]
    off = {f"{c.id}/{s.name}" for c, s in repo.servers() if not s.security.intrusion_detection}
    for target in off:
        assert daemons[target] == ["crowdsec-bouncer"]
    assert [d.name for d in model.security.daemons] == [f"lapi-{s.key}" for s in model.scopes]


def test_an_agent_whitelists_its_own_client_but_not_the_others(repo: Repository) -> None:
    model = desired(repo, SECRETS)
    files = {f.path: f.content for f in model.servers["velo-savoie/web1"].files}
    cidrs = json.loads(files[crowdsec.WHITELIST].split("\n", 1)[1])["whitelist"]["cidr"]
    own = {
        str(ip) for c in repo.clients if c.id == "velo-savoie" for s in c.servers for ip in s.ips
    }
    other = {
        str(ip) for c in repo.clients if c.id != "velo-savoie" for s in c.servers for ip in s.ips
    }
    assert all(any(ip_network(ip).subnet_of(ip_network(c)) for c in cidrs) for ip in own)  # type: ignore[arg-type]
    assert not any(ip in c for ip in other for c in cidrs)


def test_secrets_reach_no_command_line_and_no_world_readable_file(repo: Repository) -> None:
    model = desired(repo, SECRETS)
    for setup in [model.security, *model.servers.values()]:
        for step in install.steps(setup):
            if step.stdin is not None:  # the script is a command line, the content is not
                assert SECRETS.bouncer_key("network", "velo-savoie.web1") not in step.script
        for f in setup.files:
            if "password" in f.content or "api_key" in f.content:
                assert f.mode == "0600", f.path


# --- plan: observed state -> changes ----------------------------------------------------------


def _setup() -> install.Setup:
    return install.Setup(
        "c/s",
        (install.File("/etc/a.yaml", "a: 1\n"), install.File("/etc/b.yaml", "b: 2\n")),
        daemons=(install.Daemon("agent", ("crowdsec",)),),
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_host_that_matches_has_no_change_and_no_step() -> None:
    a, b = _digest("a: 1\n"), _digest("b: 2\n")
    output = f"{a}  /etc/a.yaml\n{b}  /etc/b.yaml\nagent running\n"
    pending = install.changes(_setup(), install.parse_read(output))
    assert pending == [] and install.apply_steps(_setup(), pending) == []


def test_absent_edited_and_unreadable_files_and_a_stopped_daemon_are_changes() -> None:
    output = f"- /etc/a.yaml\n{_digest('edited')}  /etc/b.yaml\nagent stopped\n"
    assert install.changes(_setup(), install.parse_read(output)) == [
        "create /etc/a.yaml",
        "update /etc/b.yaml",
        "start agent (stopped)",
    ]
    assert install.changes(_setup(), install.parse_read("garbage\n")) == [
        "unknown /etc/a.yaml",
        "unknown /etc/b.yaml",
        "unknown state of agent",
    ]


def test_a_stopped_daemon_alone_is_started_without_rewriting_files() -> None:
    steps = install.apply_steps(_setup(), ["start agent (stopped)"])
    assert [s.what for s in steps] == ["start agent"]
    assert "kill" not in steps[0].script.split("||")[1]  # started, not restarted


# --- AIDE ---------------------------------------------------------------------------------------


def test_aide_paths_are_escaped_regular_expressions() -> None:
    text = aide.config(
        "h", watched=("/etc", "/usr/lib/x86_64-linux-gnu"), excluded=("/etc/ld.so.cache",)
    )
    assert "!/etc/ld\\.so\\.cache$" in text.splitlines()
    assert "/usr/lib/x86_64-linux-gnu Watch" in text.splitlines()
    assert text.index("report_format=json") < text.index("report_url=stdout")


@pytest.mark.parametrize(
    "path", ["/etc/a b", "/etc/(.*)", "etc", "/etc/../root", "/etc\n/x", "/etc\n"]
)
def test_an_aide_path_that_would_change_the_rule_is_refused(path: str) -> None:
    with pytest.raises(UnsafeValue):
        aide.config("h", watched=(path,))


def test_an_unreadable_aide_report_is_unknown_never_clean() -> None:
    for text in ("", "not json", "[]", '{"x": 1}'):
        found = aide.parse_report(text)
        assert not found.clean and found.error is not None
        assert found.lines("c/s")[0].startswith("c/s: integrity unknown")


def test_an_aide_report_lists_each_difference() -> None:
    report = '{"outline": "x", "added": {"/etc/b": "f++"}, "changed": {"/etc/a": "f >"}}'
    assert aide.parse_report(report) == aide.Integrity(("/etc/b",), (), ("/etc/a",))


# --- ClamAV -------------------------------------------------------------------------------------


def test_a_scan_report_without_its_exit_line_or_with_clamav_failing_is_an_error() -> None:
    assert antivirus.parse_scan("").error == "no scan report"
    assert antivirus.parse_scan("/srv/x: Eicar FOUND\n").error == "no scan report"
    assert antivirus.parse_scan("LibClamAV Error: bad db\nexit 2\n").error == "clamscan exit 2"


def test_a_scan_report_lists_each_infected_file() -> None:
    report = "/srv/a b/x.pdf: Sig.One FOUND\n/srv/y: Sig.Two FOUND\nexit 1\n"
    assert antivirus.parse_scan(report).found == (
        ("/srv/a b/x.pdf", "Sig.One"),
        ("/srv/y", "Sig.Two"),
    )


@pytest.mark.parametrize("path", ["/srv/$(id)", "/srv/a b", "srv", "/srv/../etc"])
def test_a_scan_path_that_would_change_the_command_is_refused(path: str) -> None:
    with pytest.raises(UnsafeValue):
        antivirus.scan_command([path])


def test_the_scheduled_scan_escapes_crons_percent() -> None:
    assert "%" not in antivirus.cron(["/srv"], "h").replace("\\%", "")


# --- IP reputation ------------------------------------------------------------------------------


def test_a_dns_blocklist_name_reverses_the_address() -> None:
    assert reputation.query_name(ip_network("203.0.113.5").network_address, "zen.example.") == (
        "5.113.0.203.zen.example"
    )
    name = reputation.query_name(ip_network("2001:db8::1").network_address, "bl.example")
    assert name.startswith("1.0.0.0.") and name.endswith(".8.b.d.0.1.0.0.2.bl.example")
    assert len(name.split(".")) == 32 + 2
