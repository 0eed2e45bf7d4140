"""dagsync's OVH boundary, against the OVH API emulator with the real python-ovh client."""

from __future__ import annotations

import ast
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import dagsync
from dagsync.commands.ovh import ovh as ovh_command
from dagsync.ovhapi.access import ACCESS_RULES, AccessRule, required_rule
from dagsync.ovhapi.backup import (
    activate_backup_storage,
    add_backup_access,
    delete_backup_access,
    get_backup_storage,
    list_backup_access,
    update_backup_access,
    wait_backup_access_applied,
    wait_backup_access_gone,
    wait_backup_storage,
)
from dagsync.ovhapi.client import OvhApi, connect, resolve_credentials
from dagsync.ovhapi.credentials import URL_ENV
from dagsync.ovhapi.errors import (
    OvhBadRequest,
    OvhCredentialsError,
    OvhError,
    OvhNotFound,
    OvhNotGranted,
    OvhRateLimited,
    OvhReverseNotResolved,
    OvhServerError,
    OvhTransportError,
    OvhUnexpectedResponse,
    OvhWaitTimeout,
)
from dagsync.ovhapi.firewall import (
    create_firewall,
    create_rule,
    delete_rule,
    firewall_rules,
    get_firewall,
    get_mitigation,
    get_rule,
    list_firewalls,
    list_mitigations,
    rule_numbers,
    set_firewall_enabled,
    wait_firewall_ok,
    wait_rule_gone,
    wait_rule_ok,
)
from dagsync.ovhapi.limits import RateLimiter, RetryPolicy, full_jitter
from dagsync.ovhapi.reverse import delete_reverse, get_reverse, list_reverses, set_reverse
from dagsync.ovhapi.servers import (
    get_server,
    list_servers,
    server_ips,
    server_tasks,
    service_info,
    set_monitoring,
    wait_task,
)
from dagsync.ovhapi.shapes import (
    BackupProtocols,
    EdgeRule,
    ObservedRule,
    PortRange,
    parse_rule,
    quote_block,
)
from dagsync.testing.ovh_api.auth import RateLimit
from dagsync.testing.ovh_api.faults import Fault
from dagsync.testing.ovh_api.progress import NEVER, Delay
from dagsync.testing.ovh_api.server import OvhEmulator

SN = "ns3012345.ip-203-0-113.eu"
SN2 = "ns3023456.ip-198-51-100.eu"
IP = "203.0.113.10"
BLOCK = f"{IP}/32"
FIXTURE: dict[str, Any] = {
    "servers": [
        {"name": SN, "ip": IP, "datacenter": "gra3"},
        {"name": SN2, "ip": "198.51.100.25"},
    ],
    "dns": {"host.example.com": IP},
}
SSH = EdgeRule(1, "permit", "tcp", source="192.0.2.0/24", destination_port=PortRange.single(22))
ESTABLISHED = EdgeRule(0, "permit", "tcp", tcp_option="established")
DENY = EdgeRule(19, "deny", "ipv4")


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No OVH variable from the outside; HOME and the current directory are empty folders."""
    for name in ("OVH_ENDPOINT", "OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OVH_CONSUMER_KEY", "OVH_CLIENT_ID", "OVH_CLIENT_SECRET", URL_ENV):
        monkeypatch.delenv(name, raising=False)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return tmp_path


@pytest.fixture
def emu() -> Iterator[OvhEmulator]:
    with OvhEmulator(FIXTURE) as emulator:
        yield emulator
        assert emulator.internal_errors == []
        signed = [r for r in emulator.requests if not r.path.startswith("/auth/")]
        uncovered = [r for r in signed if not any(a.covers(r.method, r.path) for a in ACCESS_RULES)]
        assert uncovered == [], "every call dagsync makes must be in ovhapi.ACCESS_RULES"


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def use_emulator(
    emu: OvhEmulator, monkeypatch: pytest.MonkeyPatch, consumer_key: str | None = None
) -> None:
    monkeypatch.setenv(URL_ENV, emu.url)
    monkeypatch.setenv("OVH_APPLICATION_KEY", emu.application_key)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", emu.application_secret)
    monkeypatch.setenv("OVH_CONSUMER_KEY", consumer_key or emu.consumer_key)


def fast_api(fake: FakeTime, **options: Any) -> OvhApi:
    """An API on fake time, with no client-side rate limit and un-jittered backoff."""
    defaults: dict[str, Any] = {
        "max_rate_per_minute": 60_000,
        "burst": 1_000,
        "clock": fake.clock,
        "sleep": fake.sleep,
        "jitter": lambda ceiling: ceiling,
        "timeout": 5,
    }
    return connect(**{**defaults, **options})


@pytest.fixture
def api(emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch) -> OvhApi:
    use_emulator(emu, monkeypatch)
    return fast_api(fake)


def calls(emu: OvhEmulator, method: str, prefix: str) -> list[int]:
    """The statuses of the served ``method`` calls whose raw path starts with ``prefix``."""
    return [r.status for r in emu.requests if r.method == method and r.path.startswith(prefix)]


# -- credentials ------------------------------------------------------------------------------


def test_credentials_from_the_environment_reach_the_custom_url(
    emu: OvhEmulator, api: OvhApi
) -> None:
    assert list_servers(api) == sorted([SN, SN2])
    assert api.url == emu.url


def test_credentials_from_ovh_conf_current_directory_wins_over_home(
    emu: OvhEmulator, fake: FakeTime, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def conf(consumer_key: str) -> str:
        return (
            "[default]\nendpoint=ovh-eu\n[ovh-eu]\n"
            f"application_key={emu.application_key}\n"
            f"application_secret={emu.application_secret}\nconsumer_key={consumer_key}\n"
        )

    (isolated / "home" / ".ovh.conf").write_text(conf("notTheRightKey"))
    (isolated / "work" / "ovh.conf").write_text(conf(emu.consumer_key))
    monkeypatch.setenv(URL_ENV, emu.url)
    api = fast_api(fake)
    assert get_server(api, SN).datacenter == "gra3"


def test_environment_wins_over_ovh_conf_and_config_file_is_read(
    emu: OvhEmulator, fake: FakeTime, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = isolated / "dagsync-ovh.conf"
    extra.write_text(
        f"[dagsync]\napplication_key={emu.application_key}\n"
        f"application_secret={emu.application_secret}\nconsumer_key=wrongKey\n"
    )
    monkeypatch.setenv("OVH_CONSUMER_KEY", emu.consumer_key)
    api = fast_api(fake, url=emu.url, config_file=extra)
    assert server_ips(api, SN) == [BLOCK]


def test_missing_credentials_name_the_variables_files_and_request_command() -> None:
    with pytest.raises(OvhCredentialsError) as error:
        connect("ovh-eu")
    message = str(error.value)
    for hint in ("OVH_APPLICATION_KEY", "OVH_CONSUMER_KEY", "~/.ovh.conf", "[ovh-eu]"):
        assert hint in message
    assert "dagsync ovh credentials --request" in message


def test_missing_endpoint_is_a_credentials_error() -> None:
    with pytest.raises(OvhCredentialsError, match="OVH_ENDPOINT"):
        connect()


def test_unknown_endpoint_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVH_ENDPOINT", "ovh-mars")
    with pytest.raises(OvhCredentialsError, match=r"unknown OVH endpoint 'ovh-mars'.*ovh-eu"):
        connect()


def test_ovh_conf_inside_a_git_work_tree_is_refused(isolated: Path) -> None:
    (isolated / "work" / ".git").mkdir()
    (isolated / "work" / "ovh.conf").write_text("[default]\nendpoint=ovh-eu\n")
    with pytest.raises(OvhCredentialsError, match="git work tree"):
        connect()


def test_unvalidated_consumer_key_is_a_credentials_error(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = emu.add_credential(ovhapi_rules(), state="pendingValidation")
    use_emulator(emu, monkeypatch, pending)
    with pytest.raises(OvhCredentialsError, match="dagsync ovh credentials"):
        list_servers(fast_api(fake))
    assert calls(emu, "GET", "/dedicated/server") == [403]


# -- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.rate_limited(), 429), (Fault.unavailable(), 503), (Fault.server_error(), 500)],
)
def test_bursts_of_429_and_5xx_are_survived_with_growing_backoff(
    emu: OvhEmulator, api: OvhApi, fake: FakeTime, fault: Fault, status: int
) -> None:
    emu.inject(fault, count=3)
    assert get_server(api, SN).name == SN
    assert calls(emu, "GET", f"/dedicated/server/{SN}") == [status, status, status, 200]
    assert fake.sleeps == [1.0, 2.0, 4.0]


def test_full_jitter_sleeps_at_most_the_ceiling(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(emu, monkeypatch)
    api = fast_api(fake, jitter=full_jitter)
    emu.inject(Fault.rate_limited(), count=4)
    list_servers(api)
    assert len(fake.sleeps) == 4
    assert all(0 <= s <= c for s, c in zip(fake.sleeps, (1, 2, 4, 8), strict=True))


def test_html_502_from_a_proxy_is_retried(emu: OvhEmulator, api: OvhApi, fake: FakeTime) -> None:
    emu.inject(Fault.bad_gateway_html(), count=2)
    assert server_ips(api, SN) == [BLOCK]
    assert calls(emu, "GET", f"/dedicated/server/{SN}/ips") == [502, 502, 200]


def test_404_is_raised_at_once(emu: OvhEmulator, api: OvhApi, fake: FakeTime) -> None:
    with pytest.raises(OvhNotFound, match=re.escape("ns999.ip-192-0-2.eu")) as error:
        get_server(api, "ns999.ip-192-0-2.eu")
    assert error.value.status == 404
    assert error.value.query_id
    assert error.value.query_id in str(error.value)
    assert calls(emu, "GET", "/dedicated/server/ns999") == [404]
    assert fake.sleeps == []


def test_400_is_raised_at_once(emu: OvhEmulator, api: OvhApi, fake: FakeTime) -> None:
    create_firewall(api, BLOCK, IP)
    with pytest.raises(OvhBadRequest):
        api.post(f"/ip/{quote_block(BLOCK)}/firewall/{IP}/rule", {"sequence": 25})
    assert calls(emu, "POST", f"/ip/{quote_block(BLOCK)}/firewall/{IP}/rule") == [400]
    assert fake.sleeps == []


def test_retries_stop_after_the_attempt_limit(
    emu: OvhEmulator, api: OvhApi, fake: FakeTime
) -> None:
    emu.inject(Fault.unavailable(), count=None)
    with pytest.raises(OvhServerError, match="gave up after 5 attempts") as error:
        list_servers(api)
    assert error.value.attempts == 5
    assert calls(emu, "GET", "/dedicated/server") == [503] * 5


def test_retries_stop_within_the_total_time(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(emu, monkeypatch)
    api = fast_api(fake, retry=RetryPolicy(attempts=10, base_delay=1, total=10))
    emu.inject(Fault.unavailable(), count=None)
    with pytest.raises(OvhServerError):
        list_servers(api)
    assert fake.sleeps == [1.0, 2.0, 4.0]  # the next one (8 s) would pass 10 s in total


def test_429s_are_bounded_by_the_runs_budget_not_by_attempts_nor_the_calls_total(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(emu, monkeypatch)
    policy = RetryPolicy(attempts=2, base_delay=1, total=10, run_budget=40)
    api = fast_api(fake, retry=policy)
    emu.inject(Fault.rate_limited(), count=None)
    with pytest.raises(OvhRateLimited, match="retry budget"):
        list_servers(api)
    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]  # 31 s; the next 30 s would pass 40
    assert api.budget.left == 9.0


def test_hung_connection_times_out_then_the_retry_succeeds(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(emu, monkeypatch)
    api = fast_api(fake, timeout=0.3)
    emu.inject(Fault.hung(), count=1)
    started = time.monotonic()
    assert list_servers(api) == sorted([SN, SN2])
    assert time.monotonic() - started < 3
    assert calls(emu, "GET", "/dedicated/server") == [0, 200]
    assert fake.sleeps == [1.0]


def test_connection_that_always_hangs_fails_within_bounds(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(emu, monkeypatch)
    api = fast_api(fake, timeout=0.2, retry=RetryPolicy(attempts=3))
    emu.inject(Fault.hung(), count=None)
    started = time.monotonic()
    with pytest.raises(OvhTransportError, match="gave up after 3 attempts"):
        list_servers(api)
    assert time.monotonic() - started < 3


def test_refused_connection_is_a_transport_error(
    fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OvhEmulator(FIXTURE) as emulator:
        use_emulator(emulator, monkeypatch)
        api = fast_api(fake, retry=RetryPolicy(attempts=2))
    with pytest.raises(OvhTransportError) as error:
        list_servers(api)
    assert error.value.retry == "safe"  # never reached OVH: even a POST may be repeated
    assert fake.sleeps == [1.0]


def test_post_answer_lost_is_not_repeated_without_a_reread(
    emu: OvhEmulator, api: OvhApi, fake: FakeTime
) -> None:
    emu.inject(Fault.unavailable(), count=1, method="POST")
    path = f"/ip/{quote_block(BLOCK)}/firewall"
    with pytest.raises(OvhServerError, match="may have applied") as error:
        api.post(path, {"ipOnFirewall": IP})
    assert error.value.maybe_applied
    assert calls(emu, "POST", path) == [503]


def test_post_answer_lost_is_not_repeated_when_the_reread_finds_it_applied(
    emu: OvhEmulator, api: OvhApi
) -> None:
    emu.inject(Fault.unavailable(), count=1, method="POST")
    path = f"/ip/{quote_block(BLOCK)}/firewall"
    assert api.post(path, {"ipOnFirewall": IP}, reread=lambda: True) is None
    assert calls(emu, "POST", path) == [503]


def test_create_after_a_lost_answer_rereads_then_posts_again(emu: OvhEmulator, api: OvhApi) -> None:
    create_firewall(api, BLOCK, IP)
    emu.inject(Fault.bad_gateway_html(), count=1, method="POST")
    observed = create_rule(api, BLOCK, IP, SSH)
    assert observed.rule == SSH
    rules = f"/ip/{quote_block(BLOCK)}/firewall/{IP}/rule"
    assert calls(emu, "POST", rules) == [502, 200]
    assert calls(emu, "GET", f"{rules}/1") == [404]  # the reread, before the second POST


def test_delete_retried_after_an_uncertain_failure_accepts_404(
    emu: OvhEmulator, api: OvhApi
) -> None:
    create_firewall(api, BLOCK, IP)
    create_rule(api, BLOCK, IP, SSH)
    delete_rule(api, BLOCK, IP, 1)
    wait_rule_gone(api, BLOCK, IP, 1, timeout=10)
    emu.inject(Fault.unavailable(), count=1, method="DELETE")
    delete_rule(api, BLOCK, IP, 1)  # as if the first answer had been lost
    with pytest.raises(OvhNotFound):
        delete_rule(api, BLOCK, IP, 1)  # a plain 404 is still an error


# -- rate limit -------------------------------------------------------------------------------


def test_rate_limiter_spaces_calls_after_the_burst(fake: FakeTime) -> None:
    limiter = RateLimiter(60, burst=2, clock=fake.clock, sleep=fake.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 1, 1, 1])
    fake.now += 10  # idle time refills up to the burst only
    assert [limiter.acquire() for _ in range(3)] == pytest.approx([0, 0, 1])


def test_default_rate_limit_stays_under_60_calls_a_minute(fake: FakeTime) -> None:
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    start = fake.now
    count = 0
    while True:
        limiter.acquire()
        if fake.now - start >= 60:
            break
        count += 1
    assert count < 60


def test_rate_limiter_is_shared_safely_between_threads() -> None:
    limiter = RateLimiter(per_minute=1200, burst=1)  # one call every 50 ms
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 16
    assert stamps[-1] - stamps[0] >= 15 * 0.05 * 0.9


def test_client_rate_limit_keeps_the_api_limit_from_answering_429(
    emu: OvhEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_rate_limit(RateLimit(per_minute=600, burst=4))  # 10 a second; the client: 5, burst 2
    # (a loaded machine can stall one request in flight while the client's bucket refills, so
    # that three arrive together: the API's burst of 4 leaves room for that jitter, not more)
    use_emulator(emu, monkeypatch)
    api = connect(max_rate_per_minute=300, burst=2, retry=RetryPolicy(attempts=1))
    for _ in range(8):
        list_servers(api)
    assert calls(emu, "GET", "/dedicated/server") == [200] * 8


# -- access rules -----------------------------------------------------------------------------


def ovhapi_rules() -> list[tuple[str, str]]:
    return [(rule.method, rule.path) for rule in ACCESS_RULES]


def test_too_narrow_consumer_key_names_the_missing_access_rule(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    narrow = emu.add_credential([("GET", "/dedicated/server")])
    use_emulator(emu, monkeypatch, narrow)
    api = fast_api(fake)
    assert list_servers(api)
    with pytest.raises(OvhNotGranted) as error:
        get_server(api, SN)
    assert error.value.rule == AccessRule("GET", "/dedicated/server/*")
    message = str(error.value)
    assert f"GET /dedicated/server/{SN}" in message
    assert "lacks the access rule GET /dedicated/server/*" in message
    assert "dagsync ovh credentials" in message
    assert fake.sleeps == []


def test_newer_forbidden_body_is_also_not_granted(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.set_forbidden_style("class")
    use_emulator(emu, monkeypatch, emu.add_credential([("GET", "/dedicated/server")]))
    with pytest.raises(OvhNotGranted, match=r"lacks the access rule PUT /dedicated/server/\*"):
        set_monitoring(fast_api(fake), SN, False)


def test_a_call_outside_the_access_rule_table_is_a_dagsync_bug(api: OvhApi) -> None:
    with pytest.raises(ValueError, match="ACCESS_RULES"):
        api.get("/me")


def test_the_access_rule_table_is_enough_for_every_call(
    emu: OvhEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(emu, monkeypatch, emu.add_credential(ovhapi_rules()))
    exercise_every_call(fast_api(fake))
    signed = [r for r in emu.requests if r.path != "/auth/time"]
    assert {r.status for r in signed} <= {200, 404}  # 404: reads of what is not there yet
    assert all(any(rule.covers(r.method, r.path) for rule in ACCESS_RULES) for r in signed)
    used = {required_rule(r.method, r.path) for r in signed}
    assert used == set(ACCESS_RULES)  # and no rule of the table is unused


def exercise_every_call(api: OvhApi) -> None:
    """Every typed call, in a plausible apply order."""
    assert list_servers(api)
    server = get_server(api, SN)
    set_monitoring(api, SN, not server.monitoring)
    assert server_ips(api, SN) == [BLOCK]
    assert service_info(api, SN).status == "ok"
    assert list_firewalls(api, BLOCK) == []
    assert get_firewall(api, BLOCK, IP) is None
    create_firewall(api, BLOCK, IP)
    set_firewall_enabled(api, BLOCK, IP, True)
    assert wait_firewall_ok(api, BLOCK, IP, timeout=10).enabled
    for rule in (ESTABLISHED, SSH, DENY):
        create_rule(api, BLOCK, IP, rule)
        wait_rule_ok(api, BLOCK, IP, rule.sequence, timeout=10)
    assert [o.rule for o in firewall_rules(api, BLOCK, IP)] == [ESTABLISHED, SSH, DENY]
    delete_rule(api, BLOCK, IP, SSH.sequence)
    wait_rule_gone(api, BLOCK, IP, SSH.sequence, timeout=10)
    assert rule_numbers(api, BLOCK, IP, state="ok") == [0, 19]
    assert list_mitigations(api, BLOCK) == []
    assert get_mitigation(api, BLOCK, IP) is None
    assert set_reverse(api, BLOCK, IP, "Host.Example.com").name == "host.example.com."
    assert list_reverses(api, BLOCK) == [IP]
    delete_reverse(api, BLOCK, IP)
    assert get_reverse(api, BLOCK, IP) is None
    exercise_backup(api)


def exercise_backup(api: OvhApi) -> None:
    assert get_backup_storage(api, SN) is None
    task = activate_backup_storage(api, SN)
    assert task is not None and task.function == "createBackupFTP"
    assert wait_task(api, SN, task.task_id, timeout=10).status == "done"
    assert wait_backup_storage(api, SN, timeout=10).quota_gb == 500
    assert server_tasks(api, SN, function="createBackupFTP") == [task.task_id]
    nfs = BackupProtocols(nfs=True)
    add_backup_access(api, SN, BLOCK, nfs)
    assert wait_backup_access_applied(api, SN, BLOCK, timeout=10).protocols == nfs
    update_backup_access(api, SN, BLOCK, BackupProtocols(ftp=True, nfs=True))
    applied = wait_backup_access_applied(api, SN, BLOCK, timeout=10)
    assert applied.protocols == BackupProtocols(ftp=True, nfs=True)
    assert list_backup_access(api, SN) == [BLOCK]
    delete_backup_access(api, SN, BLOCK)
    wait_backup_access_gone(api, SN, BLOCK, timeout=10)
    assert list_backup_access(api, SN) == []


# -- asynchronous states ----------------------------------------------------------------------


def test_rule_stuck_in_creation_pending_times_out_with_a_clear_error(
    emu: OvhEmulator, api: OvhApi, fake: FakeTime
) -> None:
    emu.set_delays(rule_creation=NEVER)
    create_firewall(api, BLOCK, IP)
    assert create_rule(api, BLOCK, IP, SSH).state == "creationPending"
    with pytest.raises(OvhWaitTimeout) as error:
        wait_rule_ok(api, BLOCK, IP, 1, timeout=30, interval=5)
    message = str(error.value)
    assert f"edge firewall rule 1 of {IP}" in message
    assert "to become ok" in message
    assert "last state was creationPending" in message
    assert error.value.last_state == "creationPending"
    assert sum(fake.sleeps) == pytest.approx(30)
    emu.set_delays(rule_creation=0)
    assert wait_rule_ok(api, BLOCK, IP, 1, timeout=30).state == "ok"


def test_rule_deletion_waits_for_removal_pending_to_end(
    emu: OvhEmulator, api: OvhApi, fake: FakeTime
) -> None:
    emu.set_delays(rule_creation=0, rule_removal=Delay(polls=3))
    create_firewall(api, BLOCK, IP)
    create_rule(api, BLOCK, IP, SSH)
    delete_rule(api, BLOCK, IP, 1)
    assert get_rule(api, BLOCK, IP, 1) is not None
    wait_rule_gone(api, BLOCK, IP, 1, timeout=60, interval=1)
    assert get_rule(api, BLOCK, IP, 1) is None
    assert fake.sleeps


def test_firewall_wait_timeout_names_the_address_and_state(emu: OvhEmulator, api: OvhApi) -> None:
    emu.set_delays(firewall_state=NEVER)
    create_firewall(api, BLOCK, IP)
    set_firewall_enabled(api, BLOCK, IP, True)
    with pytest.raises(OvhWaitTimeout, match=f"edge firewall of {IP}.*enableFirewallPending"):
        wait_firewall_ok(api, BLOCK, IP, timeout=5)


def test_reverse_whose_name_does_not_resolve_is_refused(api: OvhApi) -> None:
    with pytest.raises(OvhReverseNotResolved, match=re.escape("nowhere.example.com")):
        set_reverse(api, BLOCK, IP, "nowhere.example.com")


# -- shapes -----------------------------------------------------------------------------------


def test_quote_block_escapes_the_slash() -> None:
    assert quote_block("203.0.113.10/32") == "203.0.113.10%2F32"
    assert quote_block("2001:db8::/64") == "2001%3Adb8%3A%3A%2F64"


def test_rule_request_uses_ints_and_a_tcp_option_object() -> None:
    rule = EdgeRule(
        2,
        "permit",
        "tcp",
        source="198.51.100.7",
        destination_port=PortRange(8000, 8080),
        source_port=PortRange.single(1234),
        tcp_option="syn",
        fragments=True,
    )
    assert rule.request() == {
        "sequence": 2,
        "action": "permit",
        "protocol": "tcp",
        "source": "198.51.100.7/32",
        "destinationPortRange": {"from": 8000, "to": 8080},
        "sourcePort": 1234,
        "tcpOption": {"option": "syn", "fragments": True},
    }
    assert (
        "tcpOption"
        not in EdgeRule(3, "permit", "udp", destination_port=PortRange.single(53)).request()
    )


def test_rule_response_shape_normalises_to_the_desired_rule() -> None:
    response = {
        "sequence": 1,
        "action": "permit",
        "protocol": "tcp",
        "source": "192.0.2.0/24",
        "destination": f"{IP}/32",
        "destinationPort": "eq 22",
        "sourcePort": None,
        "tcpOption": None,
        "fragments": None,
        "l3PacketLength": None,
        "rule": "permit tcp 192.0.2.0/24 203.0.113.10/32 eq 22",
        "state": "ok",
        "creationDate": "2024-01-01T00:00:00+00:00",
    }
    assert parse_rule(response) == ObservedRule(SSH, "ok")
    established = {
        **response,
        "sequence": 0,
        "source": "any",
        "destinationPort": None,
        "tcpOption": "established",
        "fragments": False,
    }
    assert parse_rule(established).rule == ESTABLISHED
    fragments = {**established, "tcpOption": "syn", "fragments": True}
    assert parse_rule(fragments).rule == EdgeRule(
        0, "permit", "tcp", tcp_option="syn", fragments=True
    )


def test_unexpected_rule_response_is_an_error_not_a_missing_rule() -> None:
    with pytest.raises(OvhUnexpectedResponse):
        parse_rule(
            {
                "sequence": 1,
                "action": "permit",
                "protocol": "tcp",
                "destinationPort": "gt 1024",
                "state": "ok",
            }
        )


@pytest.mark.parametrize(
    "rule",
    [
        SSH,
        ESTABLISHED,
        DENY,
        EdgeRule(4, "permit", "udp", source="198.51.100.0/24", source_port=PortRange.single(53)),
        EdgeRule(5, "permit", "tcp", destination_port=PortRange(6000, 6010), fragments=True),
        EdgeRule(6, "deny", "icmp", source="192.0.2.1"),
        EdgeRule(7, "permit", "tcp", tcp_option="syn", packet_length=PortRange(40, 1500)),
    ],
    ids=lambda rule: rule.describe(),
)
def test_rules_read_back_from_the_api_equal_the_rules_created(api: OvhApi, rule: EdgeRule) -> None:
    create_firewall(api, BLOCK, IP)
    create_rule(api, BLOCK, IP, rule)
    assert wait_rule_ok(api, BLOCK, IP, rule.sequence, timeout=10).rule == rule


def test_invalid_rules_are_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="ports need tcp or udp"):
        EdgeRule(1, "permit", "icmp", destination_port=PortRange.single(22))
    with pytest.raises(ValueError, match="tcp options need tcp"):
        EdgeRule(1, "permit", "udp", tcp_option="established")
    with pytest.raises(ValueError, match="sequence 20"):
        EdgeRule(20, "deny", "ipv4")


# -- dagsync ovh credentials ------------------------------------------------------------------


def test_credentials_command_prints_every_rule_of_the_table() -> None:
    result = CliRunner().invoke(ovh_command, ["credentials"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()[1:]
    assert [tuple(line.split()[:2]) for line in lines] == ovhapi_rules()


def test_credentials_request_returns_a_validation_url_for_exactly_the_table(
    emu: OvhEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, emu.url)
    monkeypatch.setenv("OVH_APPLICATION_KEY", emu.application_key)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", emu.application_secret)
    before = {c.consumer_key for c in emu.credentials()}
    result = CliRunner().invoke(ovh_command, ["credentials", "--request"])
    assert result.exit_code == 0, result.output
    [new] = [c for c in emu.credentials() if c.consumer_key not in before]
    assert new.state == "pendingValidation"
    assert [(r.method, r.path) for r in new.rules] == ovhapi_rules()
    assert f"export OVH_CONSUMER_KEY={new.consumer_key}" in result.output
    assert emu.application_secret not in result.output
    [url] = [w for w in result.output.split() if "credentialToken=" in w]
    assert url.startswith(emu.root_url + "/auth/")
    with urllib.request.urlopen(url, timeout=5) as page:  # the user validates the key
        assert page.status == 200
    monkeypatch.setenv("OVH_CONSUMER_KEY", new.consumer_key)
    assert list_servers(connect())


def test_credentials_request_without_application_key_is_actionable() -> None:
    result = CliRunner().invoke(ovh_command, ["credentials", "--request", "--endpoint", "ovh-eu"])
    assert isinstance(result.exception, OvhCredentialsError)
    assert "OVH_APPLICATION_KEY" in str(result.exception)
    assert "OVH_CONSUMER_KEY" not in str(result.exception)


# -- secrets ----------------------------------------------------------------------------------


def test_no_secret_in_errors_reprs_or_logs(
    emu: OvhEmulator,
    fake: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    use_emulator(emu, monkeypatch)
    api = fast_api(fake, retry=RetryPolicy(attempts=2))
    secrets = (emu.application_key, emu.application_secret, emu.consumer_key)
    texts = [repr(api), repr(resolve_credentials())]

    def failure(call: Any, fault: Fault | None = None) -> None:
        if fault is not None:
            emu.inject(fault, count=None)
        with pytest.raises(OvhError) as error:
            call()
        emu.clear_faults()
        texts.extend([str(error.value), repr(error.value)])

    failure(lambda: get_server(api, "ns999.ip-192-0-2.eu"))
    failure(lambda: set_reverse(api, BLOCK, IP, "nowhere.example.com"))
    failure(lambda: list_servers(api), Fault.unavailable())
    failure(lambda: list_servers(api), Fault.bad_gateway_html())
    monkeypatch.setenv("OVH_CONSUMER_KEY", emu.add_credential([("GET", "/ip/*")]))
    with pytest.raises(OvhNotGranted) as denied:
        list_servers(fast_api(fake))
    texts += [str(denied.value), caplog.text]
    assert "retry 1" in caplog.text
    for text in texts:
        for secret in secrets:
            assert secret not in text


# -- the ovh boundary -------------------------------------------------------------------------


def imports_ovh(source: Path) -> bool:
    """Whether a Python file imports the ``ovh`` package (relative imports do not count)."""
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "ovh" or name.startswith("ovh.") for name in names):
            return True
    return False


def test_only_the_client_module_imports_ovh() -> None:
    package = Path(dagsync.__file__).parent
    emulator = package / "testing" / "ovh_api"
    importers = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if emulator not in path.parents and imports_ovh(path)
    }
    assert importers == {"ovhapi/client.py"}
