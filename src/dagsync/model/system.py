"""A server's `os`: the distribution and major version it runs, an announced major upgrade, and
the application prerequisites (Debian packages, optionally pinned) installed and held.

Package names and versions reach `apt-get` and `apt-mark` command lines: their syntax is
Debian's, stricter where apt would read more into them.  A name ending in `-` asks apt-get
install to *remove* the package, a leading `-` is an option, `?`/`~` start an apt pattern, `*`
or `[` a glob: none can pass.  A version has no glob (`1.2*`) and no release (`/bookworm`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from dagsync.model.base import REQUEST_ID_PATTERN, HostBound, Strict

# Debian Policy 5.6.1, but the last character may not be `-` or `.`.
DEB_PACKAGE_PATTERN = r"^[a-z0-9][a-z0-9.+-]*[a-z0-9+]$"
# Debian Policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
DEB_VERSION_PATTERN = r"^([0-9]{1,9}:)?[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)*$"
MAJOR_PATTERN = r"^[0-9]{1,3}$"

DebPackage = Annotated[
    str,
    StringConstraints(max_length=64, pattern=DEB_PACKAGE_PATTERN),
    Field(
        description="A Debian package name: lower-case letters, digits, `+`, `-` and `.`, "
        "starting with a letter or digit, not ending with `-` or `.`."
    ),
    HostBound("Debian package name"),
]
DebVersion = Annotated[
    str,
    StringConstraints(max_length=100, pattern=DEB_VERSION_PATTERN),
    Field(
        description="An exact Debian version ([epoch:]upstream[-revision], e.g. 8.2.7-1~deb12u1): "
        "no glob, no release."
    ),
    HostBound("Debian version"),
]
Major = Annotated[
    str,
    StringConstraints(pattern=MAJOR_PATTERN),
    Field(description='A major version of the distribution, e.g. "12".'),
    HostBound("major version"),
]

# A request id that a plan shows in the upgrade's summary (hence marked as reaching a host)
UpgradeRequest = Annotated[
    str,
    StringConstraints(pattern=REQUEST_ID_PATTERN),
    Field(description="A request id of this client's requests.yaml, e.g. REQ-2026-004."),
    HostBound("request id"),
]


class Distribution(StrEnum):
    DEBIAN = "debian"


# Packages DAG's own services depend on (SSH access, firewall, updates, backups, security):
# a client prerequisite holds its package, which would stop these packages' security updates.
DAG_PACKAGES = frozenset(
    {
        "openssh-server",
        "openssh-client",
        "openssl",
        "libssl3",
        "nftables",
        "unattended-upgrades",
        "apt",
        "dpkg",
        "libc6",
        "base-files",
        "sudo",
        "borgbackup",
        "crowdsec",
        "crowdsec-firewall-bouncer",
        "aide",
        "clamav",
        "python3",
    }
)
# The Debian codename of each major version dagsync knows (for a major upgrade's sources).
CODENAMES = {"10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky"}


class Prerequisite(Strict):
    """A package the client's application needs: installed, then held (`apt-mark hold`) so that
    no automatic upgrade changes it; `version` pins it to an exact version."""

    package: DebPackage
    version: DebVersion | None = None


class OperatingSystem(Strict):
    name: Distribution = Field(description="The distribution (`debian`).")
    version: Major = Field(description="Its major version, as /etc/os-release's VERSION_ID.")
    upgrade_from: Major | None = Field(
        default=None,
        description="The major version the server runs before an announced major upgrade to "
        "`version`; the upgrade needs the client's `request`.",
    )
    request: UpgradeRequest | None = Field(
        default=None, description="The client request that asks for the major upgrade."
    )
    prerequisites: list[Prerequisite] = Field(
        default_factory=list,
        description="Debian packages the application needs, installed and held.",
    )

    @model_validator(mode="after")
    def _check_upgrade(self) -> OperatingSystem:
        if self.upgrade_from is not None:
            if int(self.upgrade_from) >= int(self.version):
                raise ValueError("upgrade_from must be a lower major version than version")
            if self.name is Distribution.DEBIAN and self.version not in CODENAMES:
                raise ValueError(f"no known Debian codename for version {self.version}")
        return self
