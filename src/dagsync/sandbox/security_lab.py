"""CrowdSec on test hosts: DAG's security host, client servers and attackers, with the
configuration dagsync renders from a generated repository (tests and bench/security.py).

    with security_lab(base, repo_root, clients, attackers=["x1"]) as lab:
        lab.apply()
        lab.attack("x1", "a1")

The client servers' sshd (the test hosts' own) logs to a file of its own, without syslog
framing: the agents read it with the label `type: sshd`, where a real server reads
/var/log/auth.log as syslog (`crowdsec.DEFAULT_SOURCES`).
"""

from __future__ import annotations

import json
import re
import secrets as random_secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

from dagsync.errors import DagsyncError
from dagsync.reconcile.security import crowdsec, install, push
from dagsync.reconcile.security.credentials import Secrets
from dagsync.reconcile.security.desired import Desired, desired
from dagsync.reconcile.security.scope import Member, Scope
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network
from dagsync.testing.hosts.probes import probe_from
from dagsync.validate.repository import Repository, load_repository

SECURITY_HOST = "sec1"
TOOLS = ("crowdsec", "cscli", "crowdsec-firewall-bouncer", "nft")
_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class LabError(DagsyncError):
    """A step of the security lab failed on a test host."""


@dataclass(frozen=True)
class ClientSpec:
    id: str
    servers: tuple[str, ...]
    propagation: bool = True  # network.blocklist_propagation
    shared: bool = True  # network.share_blocklist_network_wide


_CLIENT = """\
id: {id}
name: {id} SARL
contacts:
  - name: Test Contact
    email: contact@{id}.example
    roles: [admin, billing, technical]
contract:
  cgv_version: "2024-01"
  signed_on: 2025-02-10
  start_date: 2025-03-01
  initial_term_months: 12
  tacit_renewal: true
  renewal_term_months: 12
  payment: {{method: bank_transfer, period_months: 12, in_advance: true}}
  monthly_price_eur: 240.00
mail: {{hosting: shared}}
network:
  blocklist_propagation: {propagation}
  share_blocklist_network_wide: {shared}
{request}"""

_REQUESTS = """\
requests:
  - id: REQ-2026-001
    date: 2026-01-05
    channel: email
    author: Test Contact
    summary: Keep blocks on the server that saw the attack.
"""

_SERVER = """\
name: {name}
role: production
ovh: {{service_name: {name}.{client}.example, datacenter: gra3, type: bare_metal,
      commercial_range: advance}}
ips: [{address}]
ssh: {{port: 22, host_key: {key}}}
os: {{name: debian, version: "12"}}
supervision: {{metrics: [cpu, ram, disk, bandwidth, load, app_connections, db_connections],
              alert_interval_minutes: 5, uptime_interval_minutes: 1}}
backup: {{frequency: daily, schedule: "02:00", retention_days: 7, scope: [system, files, databases],
         storage: sbg-backup-1}}
firewall:
  open_ports:
    - {{protocol: tcp, port: 22, service: ssh, sources: ["{network}"],
       justification: The test network reaches SSH (the attackers too).}}
"""


def _write_repository(
    root: Path, main: Path, specs: Sequence[ClientSpec], hosts: TestHosts, public: bool = False
) -> Repository:
    """The repository of `specs`; with `public`, the servers declare documentation addresses
    (198.51.100.0/24, which the validator accepts) and the hosts override file says where
    they really are, as in the sandbox."""
    root.mkdir(parents=True)
    shutil.copytree(main / "policies", root / "policies")
    shutil.copytree(main / "schemas", root / "schemas")
    dag = root / "policies" / "dag.yaml"
    sec = hosts[SECURITY_HOST]
    text = re.sub(
        r"(  - name: sec1\n    host: [^\n]*\n)", rf"\1    address: {sec.address}\n", dag.read_text()
    )
    dag.write_text(text)
    index = 0
    for spec in specs:
        folder = root / "clients" / spec.id
        (folder / "servers").mkdir(parents=True)
        optout = not spec.propagation or not spec.shared
        client = _CLIENT.format(
            id=spec.id,
            propagation=str(spec.propagation).lower(),
            shared=str(spec.shared).lower(),
            request="  request: REQ-2026-001\n" if optout else "",
        )
        (folder / "client.yaml").write_text(client)
        (folder / "requests.yaml").write_text(_REQUESTS if optout else "requests: []\n")
        for name in spec.servers:
            host, index = hosts[name], index + 1
            server = _SERVER.format(
                name=name,
                client=spec.id,
                address=f"198.51.100.{10 + index}" if public else host.address,
                key=host.host_key_public,
                network=f"{hosts.network.prefix}.0/24",
            )
            (folder / "servers" / f"{name}.yaml").write_text(server)
    # Test addresses are private, which the validator rightly refuses for an OVH server.
    return load_repository(root, validate=False)


def run_step(host: TestHost, step: install.Step, timeout: float = 120.0) -> str:
    """Run one step inside `host` (the script on stdin unless the step has content)."""
    argv = ["nsenter", "-t", str(host.sshd_pid), "-m", "-u", "-n", "--wd=/", "--", "sh"]
    if step.stdin is None:
        argv, data = [*argv, "-s"], step.script.encode()
    else:
        argv, data = [*argv, "-c", step.script], step.stdin
    env = {"PATH": _PATH, "HOME": "/root", "LANG": "C.UTF-8"}
    proc = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")[-2000:]
        raise LabError(f"{host.name}: {step.what} failed ({proc.returncode}): {err}")
    return proc.stdout.decode(errors="replace")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `predicate` held; LabError after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise LabError(f"{what}: not after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


@dataclass
class Lab:
    hosts: TestHosts
    repo: Repository
    secrets: Secrets
    model: Desired

    def host(self, name: str) -> TestHost:
        return self.hosts[name]

    @property
    def security(self) -> TestHost:
        return self.hosts[SECURITY_HOST]

    def setups(self) -> list[tuple[TestHost, install.Setup]]:
        """The security host first: the servers' agents and bouncers log in to it."""
        out = [(self.security, self.model.security)]
        out += [(self.hosts[t.split("/")[1]], s) for t, s in sorted(self.model.servers.items())]
        return out

    def plan(self) -> dict[str, list[str]]:
        """Per target, the changes an apply would make (read-only)."""
        result: dict[str, list[str]] = {}
        for host, setup in self.setups():
            output = run_step(host, install.Step("read", install.read_script(setup)))
            result[setup.target] = install.changes(setup, install.parse_read(output))
        return result

    def apply(self) -> dict[str, list[str]]:
        """Apply what `plan` shows; returns it."""
        pending = self.plan()
        for host, setup in self.setups():
            for step in install.apply_steps(setup, pending[setup.target]):
                run_step(host, step)
        return pending

    def scope_of(self, server: str) -> Scope:
        return next(s for s in self.model.scopes if any(m.server == server for m in s.members))

    def member(self, server: str) -> Member:
        return next(m for m in self.scope_of(server).members if m.server == server)

    def decisions(self, scope: Scope) -> list[str]:
        """The banned values in the scope's local API."""
        cmd = f"cscli -c {crowdsec.lapi_config_path(scope)} decisions list -o json"
        out = run_step(self.security, install.Step("decisions", cmd))
        alerts = json.loads(out or "null") or []
        return sorted({d["value"] for a in alerts for d in a.get("decisions") or []})

    def block(self, client: str, address: str, reason: str = "pushed by the test") -> None:
        """`dagsync block`'s push: the decision goes to the client's scopes' local APIs."""
        network = ip_network(address)
        if why := push.refused(self.repo, client, network):
            raise LabError(f"refused: {why}")
        for step in push.block_steps(self.model.scopes, client, network, reason):
            run_step(self.security, step)

    def attack(self, attacker: str, server: str, attempts: int = 8) -> None:
        """Failed SSH logins (unknown users, no key) from `attacker` against `server`; each
        attempt is cut after 5 s, since a ban that lands mid-connection stalls it."""
        target = self.hosts[server].address
        opts = "-o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no"
        opts += " -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -i /dev/null"
        loop = (
            f"for i in $(seq 1 {attempts}); do timeout 5 ssh {opts} -l probe$i {target} true "
            ">/dev/null 2>&1; done; true"
        )
        run_step(self.hosts[attacker], install.Step("attack", loop))

    def dropped(self, attacker: str, server: str) -> bool:
        """A TCP connect from `attacker` to the server's SSH port times out."""
        result = probe_from(self.hosts[attacker], self.hosts[server].address, 22, 0.3)
        return result == "timeout"

    def ready(self) -> None:
        """Wait until every agent reads its logs and every bouncer has its tables."""
        for host, setup in self.setups()[1:]:
            names = {d.name for d in setup.daemons}
            if "crowdsec-agent" in names:
                log = "grep -q 'Starting processing data' /var/log/crowdsec.log"
                wait_for(_check(host, log), 60, f"{host.name}: agent")
            nft = "nft list table ip crowdsec >/dev/null 2>&1"
            wait_for(_check(host, nft), 60, f"{host.name}: bouncer")


def _check(host: TestHost, command: str) -> Callable[[], bool]:
    return lambda: host.run(command).returncode == 0


def tools_missing() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t, path=_PATH) is None]
    if missing:
        return f"install crowdsec and crowdsec-firewall-bouncer ({', '.join(missing)} missing)"
    if not Path(crowdsec.HUB, "parsers/s01-parse/crowdsecurity/sshd-logs.yaml").exists():
        return f"the crowdsec package's offline hub is missing under {crowdsec.HUB}"
    return None


@contextmanager
def security_lab(
    base: Path,
    main: Path,
    specs: Sequence[ClientSpec],
    attackers: Sequence[str],
    public: bool = False,
) -> Iterator[Lab]:
    """Test hosts for the security host, every server of `specs` and the attackers; the
    repository under `base/repo` (policies and schemas copied from `main`)."""
    names = [SECURITY_HOST, *(s for spec in specs for s in spec.servers), *attackers]
    network = unique_network("sec")
    with testhosts(names=names, state_dir=base / "th", network=network) as hosts:
        repo = _write_repository(base / "repo", main, specs, hosts, public)
        secrets = Secrets(random_secrets.token_bytes(32))

        def sources(member: Member) -> list[crowdsec.LogSource]:
            return [crowdsec.LogSource("sshd", (str(hosts[member.server].root / "sshd.log"),))]

        yield Lab(hosts, repo, secrets, desired(repo, secrets, sources))
