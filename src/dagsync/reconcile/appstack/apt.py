"""The apt side of the `os` resource, pure: the unattended-upgrades files dagsync renders, and
the parsers of what the host prints (`/etc/os-release`, `dpkg-query`, `apt-get -s`).

The configuration is two files of dagsync in `/etc/apt/apt.conf.d/`, each starting with its
header line; they sort after Debian's own (`20auto-upgrades`, `50unattended-upgrades`), which
they override without touching them: the periodic switches (a later file's value wins) and
the allowed origins, first cleared (`#clear`, since apt appends list items across files) then
limited to Debian's security archive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADER = "// Written by dagsync (dagsync apply): edit the server's YAML, not this file."
CONF_DIR = "/etc/apt/apt.conf.d"
PERIODIC_FILE = f"{CONF_DIR}/51dagsync-auto-upgrades"
ORIGINS_FILE = f"{CONF_DIR}/52dagsync-unattended-upgrades"
UNATTENDED = "unattended-upgrades"
# What unattended-upgrades may install: Debian's security archive only (both spellings of the
# security suite's codename: `bookworm-security` since Debian 11, and the label).
SECURITY_ORIGINS = (
    "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
    "origin=Debian,codename=${distro_codename},label=Debian-Security",
)


def periodic_text() -> str:
    return (
        f"{HEADER}\n"
        'APT::Periodic::Update-Package-Lists "1";\n'
        'APT::Periodic::Unattended-Upgrade "1";\n'
        'APT::Periodic::AutocleanInterval "7";\n'
    )


def origins_text() -> str:
    patterns = "".join(f'    "{o}";\n' for o in SECURITY_ORIGINS)
    return (
        f"{HEADER}\n"
        "// Security updates only: every other origin a Debian file allows is cleared.\n"
        "#clear Unattended-Upgrade::Allowed-Origins;\n"
        "#clear Unattended-Upgrade::Origins-Pattern;\n"
        f"Unattended-Upgrade::Origins-Pattern {{\n{patterns}}};\n"
        # a held prerequisite is never upgraded, whatever the origin
        'Unattended-Upgrade::Allow-downgrade "false";\n'
        'Unattended-Upgrade::Automatic-Reboot "false";\n'
    )


def conf_files() -> dict[str, str]:
    return {PERIODIC_FILE: periodic_text(), ORIGINS_FILE: origins_text()}


# --- parsers -------------------------------------------------------------------------------

_VALUE = re.compile(r"[A-Za-z0-9._~+-]{1,64}")


def os_release(lines: list[str]) -> tuple[str, str] | None:
    """(ID, VERSION_ID's major) from `id\\t...` and `version\\t...` lines, or None when one is
    missing or not plain."""
    found: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("\t")
        value = value.strip().strip('"').strip("'")
        if sep and key in ("id", "version") and _VALUE.fullmatch(value):
            found.setdefault(key, value)
    if "id" not in found or "version" not in found:
        return None
    return found["id"], found["version"].split(".")[0]


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # installed version ("" when not installed)
    installed: bool
    held: bool


def packages(lines: list[str]) -> dict[str, Package] | None:
    """`dpkg-query -W -f '${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'` lines, by name;
    None for a line of another shape.  A package dpkg knows but that is not installed (removed,
    config files only) is `installed=False`."""
    out: dict[str, Package] = {}
    for line in lines:
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 3 or len(parts[2].strip()) < 2:
            return None
        name, version, status = parts[0], parts[1], parts[2].strip()
        # status: desired (u i h r p), then state (n i c u h f w t), then error flag
        installed = status[1] == "i"
        out[name] = Package(name, version if installed else "", installed, status[0] == "h")
    return out


@dataclass(frozen=True)
class Pending:
    package: str
    installed: str
    candidate: str
    security: bool


# `name/suite[,suite...] candidate arch [upgradable from: installed]`
_UPGRADABLE = re.compile(r"^([^/\s]+)/(\S+) (\S+) (\S+) \[upgradable from: ([^]\s]+)\]$")


def upgradable(lines: list[str]) -> tuple[Pending, ...] | None:
    """The upgrades `apt list --upgradable` lists (security when one of the suites is a
    `-security` one), or None if a line is not apt's.  It compares candidates with installed
    versions and runs no resolver: a fraction of `apt-get -s dist-upgrade`'s time."""
    out = []
    for line in lines:
        if not line or line == "Listing...":
            continue
        match = _UPGRADABLE.fullmatch(line)
        if match is None:
            return None
        name, suites, candidate, _, installed = match.groups()
        security = any(suite.endswith("-security") for suite in suites.split(","))
        out.append(Pending(name, installed, candidate, security))
    return tuple(out)
