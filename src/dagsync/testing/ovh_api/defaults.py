"""Default values and enums of a seeded account: what a fixture may leave out."""

from __future__ import annotations

import re
import zlib
from typing import Any

__all__ = [
    "DEFAULT_APPLICATION_KEY",
    "DEFAULT_APPLICATION_SECRET",
    "DEFAULT_CONSUMER_KEY",
    "ENUMS",
    "FULL_ACCESS",
    "default_server",
    "default_service_infos",
]

DEFAULT_APPLICATION_KEY = "emuAppKey0000001"
DEFAULT_APPLICATION_SECRET = "emuAppSecret00000000000000000001"
DEFAULT_CONSUMER_KEY = "emuConsumerKey000000000000000001"
FULL_ACCESS = tuple({"method": m, "path": "/*"} for m in ("GET", "POST", "PUT", "DELETE"))

DATACENTERS = frozenset(
    [f"rbx{i}" for i in range(1, 11)]
    + [f"gra{i}" for i in range(1, 4)]
    + [f"sbg{i}" for i in range(1, 6)]
    + [f"bhs{i}" for i in range(1, 9)]
    + ["waw1", "lim1", "lim2", "lim3", "eri1", "eri2", "vin1", "hil1", "sgp1", "syd1", "syd2"]
)
ENUMS: dict[str, frozenset[str]] = {
    "datacenter": DATACENTERS,
    "state": frozenset({"error", "hacked", "hackedBlocked", "ok"}),
    "supportLevel": frozenset({"critical", "fastpath", "gs", "pro"}),
    "powerState": frozenset({"poweroff", "poweron"}),
    "status": frozenset(
        {"autorenewInProgress", "expired", "inCreation", "ok", "pendingDebt", "unPaid"}
    ),
    "renewalType": frozenset(
        {
            "automaticForcedProduct",
            "automaticV2012",
            "automaticV2014",
            "automaticV2016",
            "automaticV2024",
            "manual",
            "oneShot",
            "option",
        }
    ),
}


def default_server(name: str, ip: str, fallback_id: int) -> dict[str, Any]:
    digits = re.match(r"\D*(\d+)", name)
    server_id = int(digits.group(1)) if digits else fallback_id
    return {
        "name": name,
        "serverId": server_id,
        "ip": ip,
        "reverse": f"{name}.",
        "datacenter": "rbx8",
        "region": "eu-west-rbx",
        "availabilityZone": "eu-west-rbx-a",
        "rack": "G111A01",
        "commercialRange": "advance-1",
        "os": "debian12_64",
        "state": "ok",
        "powerState": "poweron",
        "monitoring": True,
        "noIntervention": False,
        "professionalUse": False,
        "supportLevel": "pro",
        "linkSpeed": 1000,
        "bootId": 1,
        "bootScript": None,
        "efiBootloaderPath": None,
        "rootDevice": None,
        "rescueMail": None,
        "rescueSshKey": None,
        "newUpgradeSystem": True,
        "iam": {
            "id": f"00000000-0000-4000-8000-{server_id:012d}",
            "urn": f"urn:v1:eu:resource:dedicatedServer:{name}",
            "tags": {},
            "state": "OK",
        },
    }


def default_service_infos(name: str) -> dict[str, Any]:
    infos: dict[str, Any] = {
        "serviceId": zlib.crc32(name.encode()) % 10**8,
        "domain": name,
        "creation": "2023-01-15",
        "expiration": "2026-01-15",
        "engagedUpTo": None,
        "status": "ok",
        "renewalType": "automaticV2016",
        "renew": {
            "automatic": True,
            "deleteAtExpiration": False,
            "forced": False,
            "manualPayment": False,
            "period": 1,
        },
        "possibleRenewPeriod": [1, 3, 6, 12],
        "contactAdmin": "dag12345-ovh",
        "contactBilling": "dag12345-ovh",
        "contactTech": "dag12345-ovh",
        "canDeleteAtExpiration": True,
    }
    return infos
