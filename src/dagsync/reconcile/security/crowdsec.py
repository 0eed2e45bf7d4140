"""CrowdSec's configuration files as pure functions of the model.

Three roles (docs/security-services.md):

- the local API of one scope, on DAG's security host (`crowdsec -no-cs`): its own folder,
  port and SQLite database, no Central API, one profile that bans an attacking address unless
  it is protected (DAG's management ranges and hosts, every client server);
- the agent on a client server (`crowdsec -no-api`): dagsync's own parser and scenario set
  (links into the package's offline hub, never the hub's private-range whitelist, which
  would whitelist the sandbox and any attacker on a private network), the server's logs, a
  whitelist of DAG's ranges and hosts and the client's own servers;
- the firewall bouncer on a client server, in nftables mode: its own `ip crowdsec` and
  `ip6 crowdsec6` tables beside dagsync's `inet dagsync` (a drop in either table drops).

Every file is YAML written as JSON (valid YAML), so values are quoted by construction; a
value with `$` is refused, because CrowdSec expands environment variables in its files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, collapse_addresses, ip_network

from dagsync.reconcile.security.credentials import DAGSYNC_MACHINE, Secrets
from dagsync.reconcile.security.scope import Member, Scope
from dagsync.reconcile.shell import UnsafeValue, one_line

ETC = "/etc/crowdsec/dagsync"
VAR = "/var/lib/crowdsec/dagsync"
LOGS = "/var/log/crowdsec-dagsync"
HUB = "/usr/share/crowdsec/hub"  # the Debian package's offline hub snapshot
AGENT_DIR = f"{ETC}/agent"
AGENT_CONFIG = f"{AGENT_DIR}/config.yaml"
BOUNCER_CONFIG = f"{ETC}/bouncer.yaml"
BAN_DURATION = "4h"
BOUNCER_POLL = "1s"  # the bouncer's update_frequency: at most this long before a drop

# (stage folder under the agent's config dir, file in the hub)
AGENT_ITEMS: tuple[tuple[str, str], ...] = (
    ("parsers/s00-raw", "parsers/s00-raw/crowdsecurity/syslog-logs.yaml"),
    ("parsers/s01-parse", "parsers/s01-parse/crowdsecurity/sshd-logs.yaml"),
    ("parsers/s01-parse", "parsers/s01-parse/crowdsecurity/nginx-logs.yaml"),
    ("parsers/s01-parse", "parsers/s01-parse/crowdsecurity/apache2-logs.yaml"),
    ("parsers/s02-enrich", "parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml"),
    ("parsers/s02-enrich", "parsers/s02-enrich/crowdsecurity/http-logs.yaml"),
    ("scenarios", "scenarios/crowdsecurity/ssh-bf.yaml"),
    ("scenarios", "scenarios/crowdsecurity/ssh-slow-bf.yaml"),
    ("scenarios", "scenarios/crowdsecurity/http-probing.yaml"),
    ("scenarios", "scenarios/crowdsecurity/http-sensitive-files.yaml"),
    ("scenarios", "scenarios/crowdsecurity/http-path-traversal-probing.yaml"),
    ("scenarios", "scenarios/crowdsecurity/http-bad-user-agent.yaml"),
)
WHITELIST = f"{AGENT_DIR}/parsers/s02-enrich/dagsync-whitelist.yaml"

Net = IPv4Network | IPv6Network


@dataclass(frozen=True)
class LogSource:
    """Files an agent reads, with CrowdSec's `type` label (`syslog`, or a program such as
    `sshd` or `nginx` for files holding only that program's lines)."""

    type: str
    paths: tuple[str, ...]


# What a Debian server logs by default: sshd through syslog, the web servers' access logs.
DEFAULT_SOURCES = (
    LogSource("syslog", ("/var/log/auth.log",)),
    LogSource("nginx", ("/var/log/nginx/*.log",)),
    LogSource("apache2", ("/var/log/apache2/*.log",)),
)


def lapi_dir(scope: Scope) -> str:
    return f"{ETC}/{scope.key}"


def lapi_config_path(scope: Scope) -> str:
    return f"{lapi_dir(scope)}/config.yaml"


def lapi_url(address: str, scope: Scope) -> str:
    return f"http://{address}:{scope.port}/"


# --- YAML as JSON ---------------------------------------------------------------------------


def _check(value: object) -> None:
    if isinstance(value, str):
        one_line(value, "CrowdSec value")
        if "$" in value:
            raise UnsafeValue(f"CrowdSec expands `$` in its files: {value!r} is refused")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key)
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)


def yaml(document: object, header: str) -> str:
    """`document` as YAML (JSON syntax), after a comment line."""
    _check(document)
    return f"# {one_line(header, 'header')}\n{json.dumps(document, indent=2)}\n"


def nets(values: Iterable[str | Net]) -> tuple[Net, ...]:
    """Networks, collapsed per family, IPv4 first."""
    parsed = [ip_network(v, strict=False) if isinstance(v, str) else v for v in values]
    v4 = collapse_addresses(n for n in parsed if isinstance(n, IPv4Network))
    v6 = collapse_addresses(n for n in parsed if isinstance(n, IPv6Network))
    return (*v4, *v6)


# --- the local API of one scope -------------------------------------------------------------


def _common(log_dir: str) -> dict[str, object]:
    return {
        "daemonize": False,
        "log_media": "file",
        "log_level": "info",
        "log_dir": log_dir,
        "working_dir": ".",
    }


def _paths(config_dir: str, data_dir: str) -> dict[str, str]:
    return {
        "config_dir": config_dir,
        "data_dir": data_dir,
        "simulation_path": "/etc/crowdsec/simulation.yaml",
        "hub_dir": "/var/lib/crowdsec/hub/",
        "index_path": "/var/lib/crowdsec/hub/.index.json",
        "notification_dir": "/etc/crowdsec/notifications/",
        "plugin_dir": "/usr/lib/crowdsec/plugins/",
    }


def lapi_config(scope: Scope, header: str) -> str:
    """config.yaml of the scope's local API: listens on all addresses at the scope's port."""
    folder, data = lapi_dir(scope), f"{VAR}/{scope.key}"
    document = {
        "common": _common(f"{LOGS}/{scope.key}/"),
        "config_paths": _paths(f"{folder}/", f"{data}/"),
        "db_config": {
            "type": "sqlite",
            "db_path": f"{data}/crowdsec.db",
            "use_wal": True,
            "flush": {"max_items": 5000, "max_age": "7d"},
        },
        "api": {
            "client": {
                "insecure_skip_verify": False,
                "credentials_path": f"{folder}/local_api_credentials.yaml",
            },
            "server": {
                "log_level": "info",
                "listen_uri": f"0.0.0.0:{scope.port}",
                "profiles_path": f"{folder}/profiles.yaml",
                "trusted_ips": ["127.0.0.1", "::1"],
            },
        },
        "prometheus": {"enabled": False},
    }
    return yaml(document, header)


def _in_ranges(networks: Sequence[Net]) -> str:
    return " || ".join(f'IpInRange(Alert.GetValue(), "{n}")' for n in networks) or "false"


def profiles(protected: Sequence[Net], header: str) -> str:
    """One profile: ban an attacking IP for BAN_DURATION unless it is protected; an alert
    that matches no profile makes no decision."""
    condition = (
        f'Alert.Remediation == true && Alert.GetScope() == "Ip" && !({_in_ranges(nets(protected))})'
    )
    document = {
        "name": "dagsync_ban",
        "filters": [condition],
        "decisions": [{"type": "ban", "duration": BAN_DURATION}],
        "on_success": "break",
    }
    return yaml(document, header)


def credentials(url: str, login: str, password: str, header: str) -> str:
    return yaml({"url": url, "login": login, "password": password}, header)


def dagsync_credentials(scope: Scope, secrets: Secrets, header: str) -> str:
    """The security host's own machine in the scope, used by `cscli decisions add`."""
    password = secrets.machine_password(scope.key, DAGSYNC_MACHINE)
    url = f"http://127.0.0.1:{scope.port}/"
    return credentials(url, DAGSYNC_MACHINE, password, header)


# --- the agent and the bouncer of one client server -----------------------------------------


def agent_config(header: str) -> str:
    document = {
        "common": _common("/var/log/"),
        "config_paths": _paths(f"{AGENT_DIR}/", "/var/lib/crowdsec/data/"),
        "crowdsec_service": {
            "acquisition_path": f"{AGENT_DIR}/acquis.yaml",
            "parser_routines": 1,
        },
        "api": {
            "client": {
                "insecure_skip_verify": False,
                "credentials_path": f"{AGENT_DIR}/local_api_credentials.yaml",
            }
        },
        "prometheus": {"enabled": False},
    }
    return yaml(document, header)


def acquisition(sources: Sequence[LogSource], header: str) -> str:
    """acquis.yaml: one YAML document per source."""
    documents = [
        yaml({"filenames": list(s.paths), "labels": {"type": s.type}}, header) for s in sources
    ]
    return "---\n".join(documents)


def whitelist(allowed: Sequence[Net], header: str) -> str:
    """A whitelist parser: events from these networks never fill a scenario's bucket."""
    document = {
        "name": "dagsync/whitelist",
        "description": "DAG's management ranges and hosts, and the client's own servers",
        "whitelist": {
            "reason": "dagsync: never ban DAG or the client's own servers",
            "cidr": [str(n) for n in nets(allowed)],
        },
    }
    return yaml(document, header)


def bouncer_config(url: str, api_key: str, header: str) -> str:
    """The firewall bouncer in nftables mode, with its own tables."""
    family = {"enabled": True, "set-only": False}
    document = {
        "mode": "nftables",
        "pid_dir": "/run/",
        "update_frequency": BOUNCER_POLL,
        "daemonize": False,
        "log_mode": "file",
        "log_dir": "/var/log/",
        "log_level": "info",
        "api_url": url,
        "api_key": api_key,
        "insecure_skip_verify": False,
        "disable_ipv6": False,
        "deny_action": "DROP",
        "deny_log": False,
        "supported_decisions_types": ["ban"],
        "nftables": {
            "ipv4": {**family, "table": "crowdsec", "chain": "crowdsec-chain"},
            "ipv6": {**family, "table": "crowdsec6", "chain": "crowdsec6-chain"},
        },
        "prometheus": {"enabled": False, "listen_addr": "127.0.0.1", "listen_port": 60601},
    }
    return yaml(document, header)


def agent_credentials(
    scope: Scope, member: Member, address: str, secrets: Secrets, header: str
) -> str:
    password = secrets.machine_password(scope.key, member.name)
    return credentials(lapi_url(address, scope), member.name, password, header)
