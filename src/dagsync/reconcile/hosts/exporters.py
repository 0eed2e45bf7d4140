"""Prometheus exporters on a client server (CGV Art. 4: « Supervision et métrologie »).

Which exporters a server runs comes from its YAML (`model.exporters.server_jobs`): the node
exporter always; the mysqld or postgres exporter when it declares `db_connections`; the nginx
or apache exporter for `app_connections`.  Each is Debian's package, configured only through
its `/etc/default/prometheus-<job>-exporter` file (which Debian's unit reads), listening on
the server's own address (`model.exporters.listen_address`), never on every address; the
firewalls open its port to DAG's monitoring hosts only (`hosts.firewall`, `ovh`).

The read is one fixed script (the observer allows it as is): for each exporter Debian ships,
whether it is installed, the SHA-256 of its defaults file and the command line of each of its
processes in the server's network namespace (hex of /proc/PID/cmdline: no argument can shape
the output).  An exporter that is not running, or runs with other arguments, is drift.

The apply writes the defaults file, installs the package when it is missing (keeping that
file), and restarts the exporter: through systemd where systemd runs, else by starting it
itself as the `prometheus` user (test hosts have no systemd), then waits until it listens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagsync.model.exporters import ALL_JOBS, NODE, listen_address, server_jobs
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Unknown
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Outcome,
    ServerInputs,
    Status,
)
from dagsync.reconcile.shell import q

KIND = "exporters"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
HEADER = "# managed by dagsync: do not edit, changes are overwritten (see the server's YAML)"
USER = "prometheus"
START_WAIT = 100  # tenths of a second an exporter has to start listening
# The exporters' own sources of metrics on the server (local sockets and status pages).
MYSQL_DSN = f"{USER}@unix(/run/mysqld/mysqld.sock)/"
POSTGRES_DSN = f"host=/run/postgresql user={USER} dbname=postgres sslmode=disable"
NGINX_STATUS = "http://127.0.0.1/stub_status"
APACHE_STATUS = "http://127.0.0.1/server-status/?auto"


def package(job: str) -> str:
    return f"prometheus-{job}-exporter"


def binary(job: str) -> str:
    return f"/usr/bin/{package(job)}"


def defaults_file(job: str) -> str:
    return f"/etc/default/{package(job)}"


@dataclass(frozen=True)
class Exporter:
    job: str
    port: int
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # more variables of the defaults file

    @property
    def text(self) -> str:
        """The defaults file: ARGS for Debian's unit, and the variables the exporter reads."""
        lines = [HEADER, f'ARGS="{" ".join(self.args)}"']
        lines += [f"{name}={q(value)}" for name, value in self.env]
        return "\n".join(lines) + "\n"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class ExportersDesired:
    exporters: tuple[Exporter, ...]
    managed: bool = True  # False: policies/dag.yaml declares no monitoring, nothing is touched
    address: str = ""  # where they listen: the server's address, which must be on the host


@dataclass(frozen=True)
class ExporterSeen:
    installed: bool
    defaults_sha256: str | None  # None: no defaults file
    running: tuple[tuple[str, ...], ...]  # the arguments of each process in this namespace


@dataclass(frozen=True)
class ExportersObserved:
    seen: Mapping[str, ExporterSeen]
    systemd: bool
    addresses: tuple[str, ...] = ()  # the host's own addresses


# --- desired -------------------------------------------------------------------------------


def exporter(job: str, listen: str, port: int) -> Exporter:
    """One exporter's arguments: every listen address is the server's own."""
    dash = "-" if job == "nginx" else "--"  # the nginx exporter takes Go's one-dash flags
    args = [f"{dash}web.listen-address={listen}"]
    env: list[tuple[str, str]] = []
    if job == NODE:
        args.append(f"--collector.textfile.directory={TEXTFILE_DIR}")
    elif job == "mysqld":
        env.append(("DATA_SOURCE_NAME", MYSQL_DSN))
    elif job == "postgres":
        env.append(("DATA_SOURCE_NAME", POSTGRES_DSN))
    elif job == "nginx":
        args.append(f"-nginx.scrape-uri={NGINX_STATUS}")
    elif job == "apache":
        args.append(f"--scrape_uri={APACHE_STATUS}")
    return Exporter(job, port, tuple(args), tuple(env))


def desired(inputs: ServerInputs) -> tuple[ExportersDesired, tuple[Note, ...]]:
    monitoring = inputs.monitoring
    if monitoring is None:
        return ExportersDesired((), managed=False), ()
    address = listen_address(inputs.server)
    found = []
    for job in server_jobs(inputs.server):
        port: int = getattr(monitoring.exporters, job)
        listen = f"{address}:{port}" if address.version == 4 else f"[{address}]:{port}"
        found.append(exporter(job, listen, port))
    return ExportersDesired(tuple(found), address=str(address)), ()


# --- read ----------------------------------------------------------------------------------

_FIND = (
    'for p in $(pgrep -f "^$b( |\\$)"); do '
    '[ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$me" ] || continue; '
    "c=$(od -An -v -tx1 /proc/$p/cmdline 2>/dev/null | tr -d ' \\n') && "
    'printf \'running\\t%s\\t%s\\n\' "$j" "$c"; done'
)


def read(desired: ExportersDesired | None) -> str:
    """The same script for every server: each exporter Debian ships, its defaults file and
    its processes in this network namespace."""
    jobs = " ".join(ALL_JOBS)
    return f"""me=$(readlink /proc/self/ns/net)
if [ -d /run/systemd/system ]; then echo 'systemd yes'; else echo 'systemd no'; fi
ip -o addr show 2>/dev/null | awk '{{ sub("/.*", "", $4); print "addr\t" $4 }}'
for j in {jobs}; do
b=/usr/bin/prometheus-$j-exporter; f=/etc/default/prometheus-$j-exporter
i=no; [ -x "$b" ] && i=yes
s=-; [ -f "$f" ] && s=$(sha256sum < "$f" | cut -d' ' -f1)
printf 'exporter\\t%s\\t%s\\t%s\\n' "$j" "$i" "$s"
{_FIND}
done
true
"""


def _args(hexed: str) -> tuple[str, ...] | None:
    try:
        raw = bytes.fromhex(hexed)
    except ValueError:
        return None
    words = raw.decode(errors="replace").split("\0")
    if words and words[-1] == "":
        words.pop()
    return tuple(words[1:])  # without the program


def parse(result: CommandResult) -> ExportersObserved | Unknown:
    if not result.ok:
        return Unknown(f"reading the exporters failed ({result.exit_code}): {result.stderr[-200:]}")
    lines = result.stdout.split("\n")
    if lines[0] not in ("systemd yes", "systemd no"):
        return Unknown(f"unexpected output: {lines[0][:80]!r}")
    seen: dict[str, tuple[bool, str | None]] = {}
    running: dict[str, list[tuple[str, ...]]] = {}
    addresses: list[str] = []
    for line in lines[1:]:
        fields = line.split("\t")
        if fields[0] == "addr" and len(fields) == 2:
            addresses.append(fields[1])
        elif fields[0] == "exporter" and len(fields) == 4 and fields[1] in ALL_JOBS:
            seen[fields[1]] = (fields[2] == "yes", None if fields[3] == "-" else fields[3])
        elif fields[0] == "running" and len(fields) == 3 and fields[1] in ALL_JOBS:
            args = _args(fields[2])
            if args is None:
                return Unknown(f"unreadable command line of the {fields[1]} exporter")
            running.setdefault(fields[1], []).append(args)
    if set(seen) != set(ALL_JOBS):
        return Unknown("the exporters' read was cut short")
    if not addresses:
        return Unknown("the host's addresses could not be listed (`ip -o addr show`)")
    return ExportersObserved(
        {
            job: ExporterSeen(installed, sha, tuple(sorted(running.get(job, []))))
            for job, (installed, sha) in seen.items()
        },
        lines[0] == "systemd yes",
        tuple(sorted(set(addresses))),
    )


def encode(observed: ExportersObserved) -> Any:
    return {
        "systemd": observed.systemd,
        "addresses": list(observed.addresses),
        "exporters": {
            job: {
                "installed": s.installed,
                "defaults": s.defaults_sha256,
                "running": [list(a) for a in s.running],
            }
            for job, s in sorted(observed.seen.items())
        },
    }


# --- diff ----------------------------------------------------------------------------------


def _drift(want: Exporter, seen: ExporterSeen) -> list[Detail]:
    details = []
    if not seen.installed:
        details.append(Detail("+", f"install {package(want.job)} (Debian)"))
    if seen.defaults_sha256 != want.sha256:
        sign = "+" if seen.defaults_sha256 is None else "~"
        details.append(Detail(sign, f"{defaults_file(want.job)}: {' '.join(want.args)}"))
    if not seen.running:
        details.append(Detail("~", "start it: it is not running"))
    elif seen.running != (want.args,):
        found = "; ".join(" ".join(a) for a in seen.running)
        details.append(Detail("~", f"restart it: it runs as `{found[:300]}`"))
    return details


def diff(
    desired: ExportersDesired, observed: ExportersObserved, options: DiffOptions
) -> list[Change | Note]:
    if not desired.managed:
        return []
    if desired.exporters and desired.address not in observed.addresses:
        return [
            Note(
                KIND,
                f"the server's address {desired.address} is not on this host: its exporters "
                "would listen nowhere, none is installed or started (check `ips`)",
            )
        ]
    out: list[Change | Note] = []
    wanted = {e.job: e for e in desired.exporters}
    for job, want in wanted.items():
        seen = observed.seen[job]
        details = _drift(want, seen)
        if not details:
            continue
        action = Action.CREATE if not seen.installed else Action.UPDATE
        payload = {
            "job": job,
            "install": not seen.installed,
            "text": want.text,
            "port": want.port,
        }
        summary = f"{job} exporter on {want.args[0].split('=', 1)[1]} (scraped by DAG)"
        out.append(Change(KIND, action, package(job), summary, tuple(details), payload))
    for job in ALL_JOBS:
        if job not in wanted and observed.seen[job].running:
            summary = f"stop the {job} exporter: the server's supervision does not call for it"
            payload = {"job": job, "stop": True}
            out.append(Change(KIND, Action.DELETE, package(job), summary, (), payload))
    return out


# --- apply ---------------------------------------------------------------------------------


def _stop(job: str) -> str:
    """Stop the exporter's processes in this network namespace (never another host's)."""
    return f"""me=$(readlink /proc/self/ns/net); b={q(binary(job))}
if [ -d /run/systemd/system ]; then systemctl stop {q(package(job))} || true; fi
for p in $(pgrep -f "^$b( |\\$)"); do
  if [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$me" ]; then kill "$p" 2>/dev/null || true; fi
done
n=0
while [ $n -lt 50 ]; do
  left=
  for p in $(pgrep -f "^$b( |\\$)"); do
    if [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$me" ]; then left=1; fi
  done
  [ -z "$left" ] && break
  sleep 0.1; n=$((n + 1))
done
"""


def apply_script(job: str, install: bool, port: int) -> str:
    """Write the defaults file (stdin), install if needed, restart, wait until it listens."""
    pkg, f = package(job), defaults_file(job)
    install_step = (
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        f"-o Dpkg::Options::=--force-confold {q(pkg)} >&2\n"
        if install
        else ""
    )
    textfile = f"install -d -o {USER} -g {USER} {q(TEXTFILE_DIR)}\n" if job == NODE else ""
    return f"""set -e
umask 022
f={q(f)}
tmp=$(mktemp "$f.dagsync-XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
head -n 1 "$tmp" | grep -qx {q(HEADER)} || {{ echo 'dagsync: incomplete upload' >&2; exit 3; }}
chmod 0644 "$tmp"
mv -f "$tmp" "$f"
trap - EXIT
{install_step}{textfile}{_stop(job)}
if [ -d /run/systemd/system ]; then
  systemctl enable -q {q(pkg)}
  systemctl restart {q(pkg)}
else
  ( set -a; . "$f"; set +a
    exec setsid -f runuser -u {USER} -- {q(binary(job))} $ARGS \\
      </dev/null >>/var/log/dagsync-{job}-exporter.log 2>&1 )
fi
n=0
until ss -Hltn "sport = :{port}" | grep -q .; do
  n=$((n + 1))
  if [ $n -gt {START_WAIT} ]; then
    echo 'dagsync: the {job} exporter does not listen on port {port}' >&2
    tail -n 5 /var/log/dagsync-{job}-exporter.log >&2 2>/dev/null || true
    exit 4
  fi
  sleep 0.1
done
"""


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    outcomes = []
    for change in changes:
        job = str(change.payload["job"])
        if job not in ALL_JOBS:
            outcomes.append(Outcome(change, Status.FAILED, f"unknown exporter {job!r}"))
            continue
        if change.payload.get("stop"):
            script = _stop(job) + (
                f"if [ -d /run/systemd/system ]; then systemctl disable -q {q(package(job))}; fi\n"
            )
            result = executor.run(script, timeout=60)
        else:
            text = str(change.payload["text"])
            script = apply_script(job, bool(change.payload["install"]), int(change.payload["port"]))
            result = executor.run(script, stdin=text.encode(), timeout=600)
        status = Status.APPLIED if result.ok else Status.FAILED
        outcomes.append(Outcome(change, status, "" if result.ok else result.stderr.strip()[-500:]))
    return outcomes
