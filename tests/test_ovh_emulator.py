"""The OVH API emulator, driven only through the real python-ovh client."""

from __future__ import annotations

import datetime
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import ovh
import ovh.client
import pytest
from ovh import exceptions as ovh_errors

from dagsync.testing.ovh_api.auth import RateLimit
from dagsync.testing.ovh_api.errors import EmulatorError, FixtureError
from dagsync.testing.ovh_api.faults import Fault
from dagsync.testing.ovh_api.fixture import load_account, seed_account
from dagsync.testing.ovh_api.progress import NEVER, Delay, Delays
from dagsync.testing.ovh_api.server import OvhEmulator
from dagsync.testing.ovh_api.signing import compute_signature

FIXTURE = Path(__file__).parent / "data" / "ovh_account.yaml"
SN1 = "ns3012345.ip-198-51-100.eu"
SN2 = "ns3023456.ip-203-0-113.eu"
SN_EXPIRED = "ns3034567.ip-192-0-2.eu"
MINIMAL_CK = "dagTestConsumerKeyMinimal0000002"
PENDING_CK = "dagTestConsumerKeyPending0000003"
EXPIRED_CK = "dagTestConsumerKeyExpired0000004"
IP1 = "198.51.100.25"
IP2 = "203.0.113.10"


def block(cidr: str) -> str:
    return quote(cidr, safe="")


FW1 = f"/ip/{block(IP1 + '/32')}/firewall/{IP1}"
FW2 = f"/ip/{block(IP2 + '/32')}/firewall"
BACKUP1 = f"/dedicated/server/{SN1}/features/backupFTP"
BACKUP2 = f"/dedicated/server/{SN2}/features/backupFTP"


@pytest.fixture
def emu() -> Iterator[OvhEmulator]:
    with OvhEmulator(FIXTURE) as emulator:
        yield emulator
        assert emulator.internal_errors == []


@pytest.fixture
def api(emu: OvhEmulator) -> Any:
    return emu.client(timeout=5)


def body_of(error: pytest.ExceptionInfo[ovh_errors.APIError]) -> Any:
    return error.value.response.json()


# -- signature -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://eu.api.ovh.com/1.0/call", "$1$7f2db49253edfc41891023fcd1a54cf61db05fbb"),
        ("https://eu.api.ovh.com/v1/call", "$1$e6e7906d385eb28adcbfbe6b66c1528a42d741ad"),
    ],
)
def test_signature_matches_the_go_ovh_test_vector(url: str, expected: str) -> None:
    secret, consumer = "9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk", "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY"
    assert compute_signature(secret, consumer, "GET", url, "", 1457018875) == expected
    assert compute_signature(secret, consumer, "get", url, b"", "1457018875") == expected


def test_tampered_application_secret_is_rejected_as_invalid_signature(emu: OvhEmulator) -> None:
    client = emu.client(application_secret=emu.application_secret + "x")
    with pytest.raises(ovh_errors.BadParametersError) as error:
        client.get("/dedicated/server")
    assert error.value.response.status_code == 400
    assert body_of(error)["errorCode"] == "INVALID_SIGNATURE"


def test_signature_covers_escaped_path_query_and_body(api: Any) -> None:
    assert api.get(f"/ip/{block(IP1 + '/32')}/firewall", enabled=True, state="ok") == [IP1]
    assert api.post(f"{FW1}/rule", sequence=5, action="permit", protocol="udp", sourcePort=53)


def test_unknown_application_key_is_invalid_key(emu: OvhEmulator) -> None:
    client = emu.client(application_key="unknownAppKey", application_secret="whatever")
    with pytest.raises(ovh_errors.InvalidKey):
        client.get("/dedicated/server")


@pytest.mark.parametrize(
    ("consumer_key", "exception"),
    [
        ("neverIssuedConsumerKey0000000000", ovh_errors.InvalidCredential),
        (EXPIRED_CK, ovh_errors.InvalidCredential),
        (PENDING_CK, ovh_errors.NotCredential),
    ],
)
def test_unusable_consumer_keys_are_refused(
    emu: OvhEmulator, consumer_key: str, exception: type[Exception]
) -> None:
    with pytest.raises(exception):
        emu.client(consumer_key=consumer_key).get("/dedicated/server")


def test_timestamp_outside_the_window_is_rejected(emu: OvhEmulator, api: Any) -> None:
    api.get("/dedicated/server")  # syncs the client's clock delta once
    emu.set_clock_skew(3600)
    with pytest.raises(ovh_errors.BadParametersError, match="Query out of time") as error:
        api.get("/dedicated/server")
    assert body_of(error)["errorCode"] == "QUERY_TIME_OUT"
    assert emu.client().get("/dedicated/server")  # a new client syncs with the skewed clock


def test_timestamp_window_is_configurable(emu: OvhEmulator, api: Any) -> None:
    api.get("/dedicated/server")
    emu.set_clock_skew(30)
    emu.set_timestamp_window(10)
    with pytest.raises(ovh_errors.BadParametersError):
        api.get("/dedicated/server")
    emu.set_timestamp_window(60)
    assert api.get("/dedicated/server")


# -- server, credentials, access rules --------------------------------------------------------


def test_emulator_serves_on_an_ephemeral_loopback_port() -> None:
    emulator = OvhEmulator(FIXTURE)
    with pytest.raises(EmulatorError):
        _ = emulator.url
    emulator.start()
    try:
        assert emulator.port > 0
        assert emulator.url == f"http://127.0.0.1:{emulator.port}/1.0"
        client = emulator.client(timeout=2)
        assert ovh.client.ENDPOINTS[emulator.endpoint_name] == emulator.url
        assert SN1 in client.get("/dedicated/server")
    finally:
        emulator.stop()
    assert emulator.endpoint_name not in ovh.client.ENDPOINTS
    with pytest.raises(ovh_errors.HTTPError):
        client.get("/dedicated/server")


def test_two_emulators_use_distinct_endpoints() -> None:
    with OvhEmulator(FIXTURE) as first, OvhEmulator(seed_account({})) as second:
        assert first.endpoint_name != second.endpoint_name
        assert first.client().get("/dedicated/server") != []
        assert second.client().get("/dedicated/server") == []


def test_auth_time_is_a_bare_integer_without_authentication(emu: OvhEmulator) -> None:
    client = emu.client(consumer_key="")
    response = client.raw_call("GET", "/auth/time", need_auth=False)
    assert re.fullmatch(rb"\d+", response.content)
    assert abs(client.get("/auth/time", _need_auth=False) - time.time()) < 5


def test_every_response_is_json_with_a_query_id(emu: OvhEmulator, api: Any) -> None:
    void = api.raw_call("PUT", f"/dedicated/server/{SN1}", {"monitoring": False})
    missing = api.raw_call("GET", "/dedicated/server/nope.ip-192-0-2.eu")
    for response in (void, missing):
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["X-Ovh-QueryID"]
    assert void.status_code == 200
    assert void.content == b"null"
    assert missing.json() == {
        "class": "Client::NotFound",
        "message": "The requested object (serviceName = nope.ip-192-0-2.eu) does not exist",
    }
    with pytest.raises(ovh_errors.ResourceNotFoundError) as error:
        api.get("/dedicated/server/nope.ip-192-0-2.eu")
    assert error.value.query_id
    assert "OVH-Query-ID" in str(error.value)


def test_consumer_key_request_and_validation_url(emu: OvhEmulator) -> None:
    client = emu.client(consumer_key="")
    rules = [{"method": "GET", "path": "/dedicated/server"}]
    answer = client.request_consumerkey(rules)
    assert answer["state"] == "pendingValidation"
    assert answer["validationUrl"].startswith(f"{emu.root_url}/auth/?credentialToken=")
    with pytest.raises(ovh_errors.NotCredential):
        client.get("/dedicated/server")
    with urllib.request.urlopen(answer["validationUrl"], timeout=5) as page:
        assert json.load(page)["state"] == "validated"
    assert SN1 in client.get("/dedicated/server")
    current = client.get("/auth/currentCredential")
    assert current["status"] == "validated"
    assert current["rules"] == rules


def test_consumer_key_validated_from_python(emu: OvhEmulator) -> None:
    client = emu.client(consumer_key="")
    key = client.request_consumerkey([{"method": "GET", "path": "/*"}], None, ["127.0.0.1/32"])
    emu.validate_credential(key["consumerKey"])
    assert client.get("/auth/currentCredential")["allowedIPs"] == ["127.0.0.1/32"]


def test_credential_restricted_to_other_ips_is_forbidden(emu: OvhEmulator) -> None:
    key = emu.add_credential([("GET", "/*")], allowed_ips=["192.0.2.0/24"])
    with pytest.raises(ovh_errors.Forbidden):
        emu.client(consumer_key=key).get("/dedicated/server")


def test_call_outside_the_rules_is_not_granted(emu: OvhEmulator) -> None:
    minimal = emu.client(consumer_key=MINIMAL_CK)
    assert minimal.get("/dedicated/server")
    minimal.put(f"/dedicated/server/{SN1}", monitoring=False)
    with pytest.raises(ovh_errors.NotGrantedCall, match="This call has not been granted") as error:
        minimal.post(f"/dedicated/server/{SN1}/serviceInfos")
    assert body_of(error)["errorCode"] == "NOT_GRANTED_CALL"


def test_root_path_and_wildcard_are_separate_rules(emu: OvhEmulator) -> None:
    client = emu.client(consumer_key=emu.add_credential([("GET", "/dedicated/server/*")]))
    assert client.get(f"/dedicated/server/{SN1}/ips")
    with pytest.raises(ovh_errors.NotGrantedCall):
        client.get("/dedicated/server")


def test_class_style_forbidden_reaches_python_ovh_as_plain_api_error(emu: OvhEmulator) -> None:
    emu.set_forbidden_style("class")
    client = emu.client(consumer_key=emu.add_credential([("GET", "/ip/*")]))
    with pytest.raises(ovh_errors.APIError) as error:
        client.get("/dedicated/server")
    assert type(error.value) is ovh_errors.APIError
    assert body_of(error) == {
        "class": "Client::Forbidden",
        "message": "This call has not been granted",
    }


def test_current_credential_is_readable_without_a_rule(emu: OvhEmulator) -> None:
    client = emu.client(consumer_key=MINIMAL_CK)
    current = client.get("/auth/currentCredential")
    assert {"method": "GET", "path": "/dedicated/server"} in current["rules"]
    assert current["status"] == "validated"


# -- status mapping and faults ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "exception"),
    [
        (400, {"class": "Client::BadRequest", "message": "x"}, ovh_errors.BadParametersError),
        (403, {"errorCode": "NOT_GRANTED_CALL", "message": "x"}, ovh_errors.NotGrantedCall),
        (403, {"errorCode": "NOT_CREDENTIAL", "message": "x"}, ovh_errors.NotCredential),
        (403, {"errorCode": "INVALID_KEY", "message": "x"}, ovh_errors.InvalidKey),
        (403, {"errorCode": "INVALID_CREDENTIAL", "message": "x"}, ovh_errors.InvalidCredential),
        (403, {"errorCode": "FORBIDDEN", "message": "x"}, ovh_errors.Forbidden),
        (404, {"class": "Client::NotFound", "message": "x"}, ovh_errors.ResourceNotFoundError),
        (409, {"class": "Client::Conflict", "message": "x"}, ovh_errors.ResourceConflictError),
    ],
)
def test_injected_json_errors_map_to_python_ovh_exceptions(
    emu: OvhEmulator,
    api: Any,
    status: int,
    body: dict[str, str],
    exception: type[ovh_errors.APIError],
) -> None:
    emu.inject(Fault.json(status, body))
    with pytest.raises(exception):
        api.get("/dedicated/server")
    assert api.get("/dedicated/server")


@pytest.mark.parametrize(
    ("fault", "status", "exception"),
    [
        (Fault.rate_limited(), 429, ovh_errors.APIError),
        (Fault.server_error(), 500, ovh_errors.APIError),
        (Fault.unavailable(), 503, ovh_errors.APIError),
        (Fault.service_expired(), 460, ovh_errors.ResourceExpiredError),
    ],
)
def test_injected_faults_fire_count_times(
    emu: OvhEmulator, api: Any, fault: Fault, status: int, exception: type[ovh_errors.APIError]
) -> None:
    emu.inject(fault, count=2)
    for _ in range(2):
        with pytest.raises(exception) as error:
            api.get("/dedicated/server")
        assert error.value.response.status_code == status
        assert error.value.response.json()["message"]
    assert api.get("/dedicated/server")


def test_html_bad_gateway_is_an_invalid_response(emu: OvhEmulator, api: Any) -> None:
    emu.inject(Fault.bad_gateway_html())
    with pytest.raises(ovh_errors.InvalidResponse):
        api.get("/dedicated/server")
    assert emu.requests[-1] == ("GET", "/dedicated/server", 502)


def test_fault_only_hits_matching_path_and_method(emu: OvhEmulator, api: Any) -> None:
    emu.inject(Fault.server_error(), count=None, path_prefix="/ip/", method="POST")
    assert api.get(f"/ip/{block(IP1 + '/32')}/firewall") == [IP1]
    assert api.get("/dedicated/server")
    with pytest.raises(ovh_errors.APIError):
        api.post(f"/ip/{block(IP2 + '/32')}/firewall", ipOnFirewall=IP2)
    with pytest.raises(ovh_errors.APIError):
        api.post(f"/ip/{block(IP2 + '/32')}/firewall", ipOnFirewall=IP2)
    emu.clear_faults()
    assert api.post(f"/ip/{block(IP2 + '/32')}/firewall", ipOnFirewall=IP2)


def test_hung_connection_times_out_on_the_client(emu: OvhEmulator) -> None:
    client = emu.client(timeout=0.5)
    client.get("/dedicated/server")
    emu.inject(Fault.hung())
    started = time.monotonic()
    with pytest.raises(ovh_errors.HTTPError):
        client.get("/dedicated/server")
    assert time.monotonic() - started < 3
    assert emu.requests[-1] == ("GET", "/dedicated/server", 0)
    assert client.get("/dedicated/server")


def test_stop_releases_hung_connections() -> None:
    emulator = OvhEmulator(FIXTURE).start()
    client = emulator.client(timeout=30)
    client.get("/dedicated/server")
    emulator.inject(Fault.hung(), count=None)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.get("/dedicated/server")
        except BaseException as error:
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    emulator.stop()
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert time.monotonic() - started < 3
    assert outcome and isinstance(outcome[0], ovh_errors.HTTPError)


def test_rate_limit_answers_429_per_consumer_key(emu: OvhEmulator, api: Any) -> None:
    api.get("/dedicated/server")
    emu.set_rate_limit(RateLimit(per_minute=90, burst=3))
    for _ in range(3):
        api.get("/dedicated/server")
    with pytest.raises(ovh_errors.APIError) as error:
        api.get("/dedicated/server")
    assert error.value.response.status_code == 429
    assert body_of(error)["class"] == "Client::TooManyRequests"
    assert emu.client(consumer_key=MINIMAL_CK).get("/dedicated/server")  # its own bucket
    time.sleep(0.7)  # 90/min refills one token in 0.67 s
    assert api.get("/dedicated/server")
    emu.set_rate_limit(None)
    for _ in range(5):
        api.get("/dedicated/server")


# -- routing and the {ip} parameter ----------------------------------------------------------


def test_unknown_path_is_404_and_rules_have_no_put(emu: OvhEmulator, api: Any) -> None:
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get("/dedicated/nothing")
    with pytest.raises(ovh_errors.APIError) as error:
        api.put(f"{FW1}/rule/1", action="deny")
    assert error.value.response.status_code == 405


@pytest.mark.parametrize(
    "ip",
    [
        "198.51.100.25/32",  # unescaped: the path has one segment too many
        "198.51.100.25",  # a bare address is not a block
        block("192.0.2.99/32"),  # not in the account
        block("198.51.100.24/29"),  # overlaps an own block but is not one
    ],
)
def test_ip_parameter_must_be_an_escaped_block_of_the_account(api: Any, ip: str) -> None:
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(f"/ip/{ip}/firewall")


def test_additional_block_of_another_server_is_reachable(api: Any) -> None:
    assert api.get(f"/ip/{block('203.0.113.64/28')}/mitigation") == ["203.0.113.70"]


# -- dedicated servers -----------------------------------------------------------------------


def test_server_list_returns_names_only(api: Any) -> None:
    assert api.get("/dedicated/server") == sorted([SN1, SN2, SN_EXPIRED])


def test_server_object_has_the_full_field_set(api: Any) -> None:
    server = api.get(f"/dedicated/server/{SN2}")
    expected = {
        "name", "serverId", "ip", "reverse", "datacenter", "region", "availabilityZone", "rack",
        "commercialRange", "os", "state", "powerState", "monitoring", "noIntervention",
        "professionalUse", "supportLevel", "linkSpeed", "bootId", "bootScript",
        "efiBootloaderPath", "rootDevice", "rescueMail", "rescueSshKey", "newUpgradeSystem", "iam",
    }  # fmt: skip
    assert set(server) == expected
    assert server["name"] == SN2
    assert server["ip"] == IP2
    assert (server["datacenter"], server["state"], server["supportLevel"]) == (
        "gra3",
        "ok",
        "critical",
    )
    assert server["powerState"] in {"poweron", "poweroff"}
    assert server["monitoring"] is False
    assert set(server["iam"]) == {"id", "urn", "displayName", "tags", "state"}


def test_server_put_persists_and_returns_null(api: Any) -> None:
    assert api.put(f"/dedicated/server/{SN1}", monitoring=False, noIntervention=True) is None
    server = api.get(f"/dedicated/server/{SN1}")
    assert (server["monitoring"], server["noIntervention"]) == (False, True)


@pytest.mark.parametrize(
    "change",
    [{"colour": "blue"}, {"datacenter": "gra1"}, {"monitoring": "no"}, {"state": "broken"}],
)
def test_server_put_rejects_unknown_read_only_or_ill_typed_fields(
    api: Any, change: dict[str, Any]
) -> None:
    with pytest.raises(ovh_errors.BadParametersError):
        api.put(f"/dedicated/server/{SN1}", **change)
    assert api.get(f"/dedicated/server/{SN1}")["monitoring"] is True


def test_server_ips_are_cidr_blocks(api: Any) -> None:
    assert api.get(f"/dedicated/server/{SN2}/ips") == [
        "203.0.113.10/32",
        "203.0.113.64/28",
        "2001:db8:113:10::/64",
    ]


def test_unknown_server_is_not_found(api: Any) -> None:
    for path in ("", "/ips", "/serviceInfos", "/task"):
        with pytest.raises(ovh_errors.ResourceNotFoundError):
            api.get(f"/dedicated/server/ns1.ip-192-0-2.eu{path}")


def test_service_infos_nest_renew_and_date_expiration(api: Any) -> None:
    infos = api.get(f"/dedicated/server/{SN1}/serviceInfos")
    assert infos["expiration"] == "2026-03-01"
    datetime.date.fromisoformat(infos["expiration"])
    assert infos["renew"]["period"] == 12
    assert infos["status"] == "ok"
    assert api.put(f"/dedicated/server/{SN1}/serviceInfos", renew={"automatic": False}) is None
    renew = api.get(f"/dedicated/server/{SN1}/serviceInfos")["renew"]
    assert (renew["automatic"], renew["period"]) == (False, 12)


@pytest.mark.parametrize(
    "body",
    [{"renew": '{"automatic": false}'}, {}, {"renew": {"automatic": "no"}}, {"status": "ok"}],
)
def test_service_infos_put_needs_a_renew_object(api: Any, body: dict[str, Any]) -> None:
    with pytest.raises(ovh_errors.BadParametersError):
        api.put(f"/dedicated/server/{SN1}/serviceInfos", **body)


def test_expired_service_answers_460_except_service_infos(api: Any) -> None:
    with pytest.raises(ovh_errors.ResourceExpiredError):
        api.get(f"/dedicated/server/{SN_EXPIRED}")
    assert api.get(f"/dedicated/server/{SN_EXPIRED}/serviceInfos")["status"] == "expired"


# -- edge firewall ---------------------------------------------------------------------------


def test_firewall_is_created_disabled_and_rejects_enabled(api: Any) -> None:
    with pytest.raises(ovh_errors.BadParametersError):
        api.post(FW2, ipOnFirewall=IP2, enabled=True)
    assert api.post(FW2, ipOnFirewall=IP2) == {"ipOnFirewall": IP2, "enabled": False, "state": "ok"}
    with pytest.raises(ovh_errors.ResourceConflictError):
        api.post(FW2, ipOnFirewall=IP2)
    with pytest.raises(ovh_errors.BadParametersError):
        api.post(FW2, ipOnFirewall="203.0.113.11")


def test_firewall_enable_flips_only_when_state_returns_to_ok(api: Any) -> None:
    api.post(FW2, ipOnFirewall=IP2)
    assert api.put(f"{FW2}/{IP2}", enabled=True) is None
    with pytest.raises(ovh_errors.ResourceConflictError):
        api.put(f"{FW2}/{IP2}", enabled=False)
    assert api.get(FW2, state="enableFirewallPending") == [IP2]
    pending = api.get(f"{FW2}/{IP2}")
    assert (pending["state"], pending["enabled"]) == ("enableFirewallPending", False)
    done = api.get(f"{FW2}/{IP2}")
    assert (done["state"], done["enabled"]) == ("ok", True)
    assert api.get(FW2, enabled=True) == [IP2]
    assert api.get(FW2, enabled=False) == []


def test_firewall_state_delay_in_seconds(emu: OvhEmulator, api: Any) -> None:
    emu.set_delays(firewall_state=0.2)
    api.put(FW1, enabled=False)
    assert api.get(FW1)["state"] == "disableFirewallPending"
    assert api.get(FW1)["state"] == "disableFirewallPending"
    time.sleep(0.25)
    assert api.get(FW1) == {"ipOnFirewall": IP1, "enabled": False, "state": "ok"}


def test_rule_creation_is_visible_at_once_then_becomes_ok(api: Any) -> None:
    created = api.post(
        f"{FW1}/rule", sequence=2, action="permit", protocol="tcp", destinationPort=443
    )
    assert created["state"] == "creationPending"
    assert api.get(f"{FW1}/rule", state="creationPending") == [2]
    assert api.get(f"{FW1}/rule/2")["state"] == "creationPending"
    assert api.get(f"{FW1}/rule/2")["state"] == "ok"
    assert api.get(f"{FW1}/rule") == [0, 1, 2, 19]
    assert api.get(f"{FW1}/rule", state="ok") == [0, 1, 2, 19]


def test_rule_response_uses_the_response_shapes(api: Any) -> None:
    rule = api.post(
        f"{FW1}/rule",
        sequence=3,
        action="permit",
        protocol="tcp",
        source="192.0.2.0/24",
        destinationPort=22,
        tcpOption={"option": "syn", "fragments": True},
    )
    assert rule["destinationPort"] == "eq 22"
    assert rule["sourcePort"] is None
    assert rule["tcpOption"] == "syn"
    assert rule["fragments"] is True
    assert rule["destination"] == f"{IP1}/32"
    assert rule["source"] == "192.0.2.0/24"
    assert rule["rule"] == f"permit tcp 192.0.2.0/24 {IP1}/32 eq 22 syn fragments"
    datetime.datetime.fromisoformat(rule["creationDate"])
    ranged = api.post(
        f"{FW1}/rule",
        sequence=4,
        action="deny",
        protocol="udp",
        sourcePortRange={"from": 1, "to": 9},
    )
    assert (ranged["sourcePort"], ranged["source"]) == ("range 1 9", "any")
    seeded = api.get(f"{FW1}/rule/0")
    assert (seeded["tcpOption"], seeded["state"]) == ("established", "ok")


def test_rule_deletion_goes_through_removal_pending_then_404(api: Any) -> None:
    assert api.delete(f"{FW1}/rule/1")["state"] == "removalPending"
    assert api.get(f"{FW1}/rule", state="removalPending") == [1]
    with pytest.raises(ovh_errors.ResourceConflictError):
        api.post(f"{FW1}/rule", sequence=1, action="deny", protocol="icmp")
    assert api.get(f"{FW1}/rule/1")["state"] == "removalPending"
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(f"{FW1}/rule/1")
    assert api.get(f"{FW1}/rule") == [0, 19]
    assert (
        api.post(f"{FW1}/rule", sequence=1, action="deny", protocol="icmp")["state"]
        == "creationPending"
    )


def test_rule_stuck_in_creation_pending_until_released(emu: OvhEmulator, api: Any) -> None:
    emu.set_delays(rule_creation=NEVER)
    api.post(f"{FW1}/rule", sequence=7, action="deny", protocol="gre")
    for _ in range(5):
        assert api.get(f"{FW1}/rule/7")["state"] == "creationPending"
    emu.set_delays(rule_creation=0)
    assert api.get(f"{FW1}/rule/7")["state"] == "ok"


def test_rule_delay_can_count_polls_and_seconds(emu: OvhEmulator, api: Any) -> None:
    emu.set_delays(rule_removal=Delay(seconds=0.1, polls=2))
    api.delete(f"{FW1}/rule/19")
    assert api.get(f"{FW1}/rule/19")["state"] == "removalPending"
    assert api.get(f"{FW1}/rule/19")["state"] == "removalPending"
    time.sleep(0.12)
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(f"{FW1}/rule/19")


@pytest.mark.parametrize(
    "body",
    [
        {"sequence": 20, "action": "deny", "protocol": "ipv4"},
        {"sequence": -1, "action": "deny", "protocol": "ipv4"},
        {"sequence": "5", "action": "deny", "protocol": "ipv4"},
        {"sequence": 5, "protocol": "ipv4"},
        {"sequence": 5, "action": "accept", "protocol": "ipv4"},
        {"sequence": 5, "action": "deny", "protocol": "sctp"},
        {"sequence": 5, "action": "deny", "protocol": "icmp", "destinationPort": 22},
        {"sequence": 5, "action": "deny", "protocol": "udp", "tcpOption": {"fragments": True}},
        {"sequence": 5, "action": "deny", "protocol": "tcp", "tcpOption": {"option": "fin"}},
        {"sequence": 5, "action": "deny", "protocol": "tcp", "tcpOption": "established"},
        {"sequence": 5, "action": "deny", "protocol": "tcp", "fragments": True},
        {
            "sequence": 5,
            "action": "deny",
            "protocol": "tcp",
            "destinationPort": 22,
            "destinationPortRange": {"from": 20, "to": 30},
        },
        {
            "sequence": 5,
            "action": "deny",
            "protocol": "tcp",
            "sourcePortRange": {"from": 9, "to": 1},
        },
        {"sequence": 5, "action": "deny", "protocol": "tcp", "destinationPort": 70000},
        {"sequence": 5, "action": "deny", "protocol": "ipv4", "source": "198.51.100.1/24"},
        {"sequence": 5, "action": "deny", "protocol": "ipv4", "source": "2001:db8::/64"},
        {"sequence": 5, "action": "deny", "protocol": "ipv4", "source": "any"},
        {"sequence": 5, "action": "deny", "protocol": "ipv4", "enabled": True},
    ],
)
def test_invalid_rules_are_rejected_and_not_created(api: Any, body: dict[str, Any]) -> None:
    with pytest.raises(ovh_errors.BadParametersError):
        api.post(f"{FW1}/rule", **body)
    assert api.get(f"{FW1}/rule") == [0, 1, 19]


def test_twenty_rules_fill_every_sequence(api: Any) -> None:
    api.post(FW2, ipOnFirewall=IP2)
    for sequence in range(20):
        api.post(f"{FW2}/{IP2}/rule", sequence=sequence, action="permit", protocol="icmp")
    assert api.get(f"{FW2}/{IP2}/rule") == list(range(20))
    with pytest.raises(ovh_errors.BadParametersError):
        api.post(f"{FW2}/{IP2}/rule", sequence=20, action="permit", protocol="icmp")


def test_rules_need_the_address_on_the_firewall(api: Any) -> None:
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.post(f"{FW2}/{IP2}/rule", sequence=0, action="deny", protocol="ipv4")
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(f"/ip/{block(IP1 + '/32')}/firewall/{IP2}/rule")


def test_firewall_delete_removes_its_rules(api: Any) -> None:
    assert api.delete(FW1) == IP1
    assert api.get(f"/ip/{block(IP1 + '/32')}/firewall") == []
    api.post(f"/ip/{block(IP1 + '/32')}/firewall", ipOnFirewall=IP1)
    assert api.get(f"{FW1}/rule") == []


# -- mitigation ------------------------------------------------------------------------------


def test_mitigation_cycle_and_filters(api: Any) -> None:
    path = f"/ip/{block('203.0.113.64/28')}/mitigation"
    created = api.post(path, ipOnMitigation="203.0.113.65", permanent=True)
    assert created == {
        "ipOnMitigation": "203.0.113.65",
        "auto": False,
        "permanent": False,
        "state": "creationPending",
    }
    with pytest.raises(ovh_errors.ResourceConflictError):
        api.post(path, ipOnMitigation="203.0.113.65")
    assert api.get(path, state="creationPending") == ["203.0.113.65"]
    assert api.get(f"{path}/203.0.113.65")["state"] == "creationPending"
    assert api.get(f"{path}/203.0.113.65")["state"] == "ok"
    assert api.get(path, auto=True) == ["203.0.113.70"]
    assert api.get(path, auto=False) == ["203.0.113.65"]
    assert api.delete(f"{path}/203.0.113.65")["state"] == "removalPending"
    assert api.get(f"{path}/203.0.113.65")["state"] == "removalPending"
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(f"{path}/203.0.113.65")
    assert api.get(path) == ["203.0.113.70"]
    with pytest.raises(ovh_errors.BadParametersError):
        api.post(path, ipOnMitigation="203.0.113.10")  # outside this block


# -- reverse DNS -----------------------------------------------------------------------------


def test_reverse_needs_forward_resolution_and_overwrites(api: Any) -> None:
    path = f"/ip/{block(IP1 + '/32')}/reverse"
    with pytest.raises(ovh_errors.BadParametersError) as error:
        api.post(path, ipReverse=IP1, reverse="nowhere.client-a.example.")
    assert (
        body_of(error)["message"] == f"Cannot check if nowhere.client-a.example. resolves to {IP1}"
    )
    assert api.post(path, ipReverse=IP1, reverse="web1.client-a.example") == {
        "ipReverse": IP1,
        "reverse": "web1.client-a.example.",
    }
    api.post(path, ipReverse=IP1, reverse="mail.client-a.example.")
    assert api.get(path) == [IP1]
    assert api.get(f"{path}/{IP1}")["reverse"] == "mail.client-a.example."
    assert api.get(f"/dedicated/server/{SN1}")["reverse"] == "mail.client-a.example."
    assert api.delete(f"{path}/{IP1}") is None
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(f"{path}/{IP1}")


def test_reverse_uses_the_pluggable_resolver() -> None:
    asked: list[str] = []

    def resolver(name: str) -> set[str]:
        asked.append(name)
        return {"203.0.113.10"} if name == "api.client-b.example" else set()

    with OvhEmulator(FIXTURE, resolver=resolver) as emulator:
        path = f"/ip/{block(IP2 + '/32')}/reverse"
        client = emulator.client()
        assert client.get(path) == [IP2]
        assert client.post(path, ipReverse=IP2, reverse="api.client-b.example.")
        with pytest.raises(ovh_errors.BadParametersError):
            client.post(
                path, ipReverse=IP2, reverse="shop.client-b.example."
            )  # only in the fixture
    assert asked == ["api.client-b.example", "shop.client-b.example"]


# -- backup storage --------------------------------------------------------------------------


def test_backup_activation_is_a_task_todo_doing_done(api: Any) -> None:
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(BACKUP2)
    task = api.post(BACKUP2)
    assert (task["function"], task["status"]) == ("createBackupFTP", "todo")
    with pytest.raises(ovh_errors.ResourceConflictError):
        api.post(BACKUP2)
    task_path = f"/dedicated/server/{SN2}/task/{task['taskId']}"
    assert [api.get(task_path)["status"] for _ in range(3)] == ["todo", "doing", "done"]
    assert api.get(f"/dedicated/server/{SN2}/task") == [task["taskId"]]
    assert api.get(f"/dedicated/server/{SN2}/task", status="done") == [task["taskId"]]
    backup = api.get(BACKUP2)
    assert backup["quota"] == {"unit": "GB", "value": 500}
    assert backup["usage"]["value"] == 0
    assert backup["ftpBackupName"].startswith("ftpback-gra3-")


def test_backup_task_delay_in_seconds(emu: OvhEmulator, api: Any) -> None:
    emu.set_delays(task=Delay(seconds=0.1))
    api.post(BACKUP2)
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(BACKUP2)
    time.sleep(0.25)
    assert api.get(BACKUP2)["type"] == "included"


def test_backup_acl_is_applied_when_its_task_is_done(api: Any) -> None:
    assert api.get(f"{BACKUP1}/authorizableBlocks") == ["198.51.100.25/32"]
    assert api.get(f"{BACKUP1}/access") == ["198.51.100.25/32"]
    acl_path = f"{BACKUP1}/access/{block('198.51.100.25/32')}"
    assert api.get(acl_path)["isApplied"] is True
    api.delete(acl_path)
    api.get(acl_path)
    api.get(acl_path)
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(acl_path)
    task = api.post(f"{BACKUP1}/access", ipBlock="198.51.100.25/32", nfs=True, cifs=False)
    assert task["function"] == "applyBackupFtpAcls"
    acl = api.get(acl_path)
    assert (acl["ftp"], acl["nfs"], acl["cifs"], acl["isApplied"]) == (False, True, False, False)
    task_path = f"/dedicated/server/{SN1}/task/{task['taskId']}"
    while api.get(task_path)["status"] != "done":
        pass
    assert api.get(acl_path)["isApplied"] is True
    assert api.put(acl_path, cifs=True) is None
    assert api.get(acl_path)["cifs"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"ipBlock": "203.0.113.10/32", "nfs": True, "cifs": False},  # another server's block
        {"ipBlock": "192.0.2.0/24", "nfs": True, "cifs": False},  # not an OVH block of ours
        {"ipBlock": "198.51.100.25/32", "nfs": True},  # cifs is required
        {"ipBlock": "198.51.100.25/32", "nfs": "yes", "cifs": False},
    ],
)
def test_backup_acl_rejects_bad_requests(emu: OvhEmulator, api: Any, body: dict[str, Any]) -> None:
    emu.set_delays(task=0)
    api.delete(f"{BACKUP1}/access/{block('198.51.100.25/32')}")
    assert api.get(f"{BACKUP1}/access") == []
    with pytest.raises(ovh_errors.BadParametersError):
        api.post(f"{BACKUP1}/access", **body)


def test_backup_routes_are_404_before_activation(api: Any) -> None:
    for suffix in ("/access", "/authorizableBlocks"):
        with pytest.raises(ovh_errors.ResourceNotFoundError):
            api.get(BACKUP2 + suffix)


def test_backup_deletion_is_a_task_that_deactivates(emu: OvhEmulator, api: Any) -> None:
    emu.set_delays(task=0)
    task = api.delete(BACKUP1)
    assert task["function"] == "removeBackupFTP"
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(BACKUP1)


# -- log, concurrency, fixtures, command line -----------------------------------------------


def test_request_log_records_method_raw_path_and_status(emu: OvhEmulator, api: Any) -> None:
    api.get("/dedicated/server")
    emu.clear_requests()
    api.get(f"{FW1}/rule/0")
    with pytest.raises(ovh_errors.ResourceNotFoundError):
        api.get(f"{FW1}/rule/9")
    api.put(f"/dedicated/server/{SN1}", monitoring=False)
    assert emu.requests == [
        ("GET", f"{FW1}/rule/0", 200),
        ("GET", f"{FW1}/rule/9", 404),
        ("PUT", f"/dedicated/server/{SN1}", 200),
    ]


def test_concurrent_clients_are_served_consistently(emu: OvhEmulator) -> None:
    failures: list[BaseException] = []

    def work(sequence: int) -> None:
        client = emu.client()
        try:
            client.post(f"{FW1}/rule", sequence=sequence, action="deny", protocol="icmp")
            for _ in range(5):
                client.get(f"{FW1}/rule/{sequence}")
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=work, args=(s,)) for s in range(2, 10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert emu.client().get(f"{FW1}/rule", state="ok") == [0, 1, *range(2, 10), 19]
    assert sum(1 for r in emu.requests if r.method == "POST") == 8


def test_accounts_can_be_seeded_from_a_dict() -> None:
    account = seed_account({"servers": [{"name": "ns1.ip-192-0-2.eu", "ip": "192.0.2.1"}]})
    with OvhEmulator(account) as emulator:
        client = emulator.client()
        server = client.get("/dedicated/server/ns1.ip-192-0-2.eu")
        assert (server["ip"], server["datacenter"], server["monitoring"]) == (
            "192.0.2.1",
            "rbx8",
            True,
        )
        assert client.get("/dedicated/server/ns1.ip-192-0-2.eu/ips") == ["192.0.2.1/32"]


@pytest.mark.parametrize(
    "data",
    [
        {"servers": [{"name": "ns1.ip-192-0-2.eu", "ip": "192.0.2.1", "datacenter": "par99"}]},
        {"servers": [{"name": "ns1.ip-192-0-2.eu", "ip": "192.0.2.1", "colour": "blue"}]},
        {"servers": [{"name": "ns1.ip-192-0-2.eu"}]},
        {
            "servers": [
                {"name": "ns1.ip-192-0-2.eu", "ip": "192.0.2.1", "ips": ["192.0.2.0/28"]},
                {"name": "ns2.ip-192-0-2.eu", "ip": "192.0.2.2"},
            ]
        },
        {"credentials": [{"state": "happy"}]},
        {
            "servers": [
                {
                    "name": "ns1.ip-192-0-2.eu",
                    "ip": "192.0.2.1",
                    "firewall": [{"ipOnFirewall": "192.0.2.1", "rules": [{"sequence": 30}]}],
                }
            ]
        },
    ],
)
def test_invalid_fixtures_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(FixtureError):
        seed_account(data)


def test_fixture_file_loads(tmp_path: Path) -> None:
    account = load_account(FIXTURE)
    assert set(account.servers) == {SN1, SN2, SN_EXPIRED}
    broken = tmp_path / "broken.yaml"
    broken.write_text("servers: [\n", encoding="utf-8")
    with pytest.raises(FixtureError):
        load_account(broken)


def test_delays_reject_unknown_kinds(emu: OvhEmulator) -> None:
    with pytest.raises(ValueError, match="unknown delay kind"):
        emu.set_delays(rule_creaton=1)
    assert Delays.uniform(0.5).task == Delay(seconds=0.5)


def test_command_line_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "dagsync.testing.ovh_api", "--fixture", str(FIXTURE)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/1\.0", first)
        assert url, first
        credentials = [process.stdout.readline() for _ in range(3)][-1]
        assert "dagTestAppKey001 dagTestAppSecret0000000000000001" in credentials
        ovh.client.ENDPOINTS["dagsync-emulator-cli-test"] = url.group(0)
        client = ovh.Client(
            endpoint="dagsync-emulator-cli-test",
            application_key="dagTestAppKey001",
            application_secret="dagTestAppSecret0000000000000001",
            consumer_key="dagTestConsumerKeyFullAccess0001",
            timeout=5,
        )
        assert SN1 in client.get("/dedicated/server")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        ovh.client.ENDPOINTS.pop("dagsync-emulator-cli-test", None)
        if process.poll() is None:
            process.kill()
            process.wait()
