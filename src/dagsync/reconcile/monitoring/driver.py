"""DAG's monitoring hosts as targets `dag/<name>`: the rendered configuration, checked by the
tools themselves before it is activated, then reloaded.

Each monitoring host of `policies/dag.yaml` (`monitoring.hosts`) gets the files of
`render.render` and the `promtool test rules` proofs of `proofs.proofs` under CONF_DIR.  The
plan compares them with the files on the host (read back by their SHA-256, so a hand edit or
a stray file is drift) and with what the services run: a service whose last reload failed is
drift too.  The apply stages the whole folder, runs `promtool check config`, `promtool check
rules`, `promtool test rules` (the timing promises), `amtool check-config` and blackbox's
`--config.check` on the staged copy, and only then swaps it into place and asks each running
service to reload (its HTTP reload endpoint on the host's loopback: no signal by process name,
no systemd needed).  Nothing is activated when a check fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.model.monitoring import MonitoringHost
from dagsync.model.policy import DagSettings
from dagsync.reconcile.core import Action, Change, Detail, Note, Unknown
from dagsync.reconcile.daghosts import (
    Host,
    close_all,
    dag_endpoint,
    dag_target,
    host_result,
    observe_all,
    target_plan,
)
from dagsync.reconcile.monitoring import Inputs, budget
from dagsync.reconcile.monitoring.maintenance_proofs import maintenance_proofs
from dagsync.reconcile.monitoring.proofs import proofs
from dagsync.reconcile.monitoring.render import render
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport, HostResult
from dagsync.reconcile.resource import CommandResult, Executor, Outcome, Status
from dagsync.reconcile.run import RunOptions, parallel
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.ssh import credentials

KIND = "monitoring"
CONF_DIR = "/etc/prometheus/dagsync"
APPLY_TIMEOUT = 300.0
DETAILS_SHOWN = 20  # file lines in a plan; the rest is counted
# Each service, its reload endpoint and the metric that says whether its last reload worked.
SERVICES = (
    ("prometheus", "127.0.0.1:9090", "prometheus_config_last_reload_successful"),
    ("alertmanager", "127.0.0.1:9093", "alertmanager_config_last_reload_successful"),
    ("blackbox_exporter", "127.0.0.1:9115", "blackbox_exporter_config_last_reload_successful"),
)
TOOLS = ("promtool", "amtool", "prometheus-blackbox-exporter", "curl")


@dataclass(frozen=True)
class MonitoringDesired:
    files: tuple[tuple[str, str], ...]  # (path under CONF_DIR, content), sorted
    refused: tuple[str, ...] = ()  # servers left out: the policies cannot keep their promise


@dataclass(frozen=True)
class MonitoringObserved:
    files: Mapping[str, str]  # path under CONF_DIR -> sha256
    reload_failed: tuple[str, ...]  # running services whose last reload failed


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- desired -------------------------------------------------------------------------------


def desired(inputs: Inputs, host: MonitoringHost) -> MonitoringDesired:
    """Everything the host's folder holds: the configuration and its proofs, for every server
    whose declared intervals the policies can keep (the others are named in `refused`)."""
    clients, refused = budget.kept(inputs.monitoring, inputs.repo.clients)
    kept = replace(inputs, repo=replace(inputs.repo, clients=tuple(clients)))
    files = render(kept.monitoring, host, kept.repo.clients, kept.cgv)
    files.update(proofs(kept, files))
    files.update(maintenance_proofs(kept, files))
    return MonitoringDesired(tuple(sorted(files.items())), tuple(refused))


# --- read ----------------------------------------------------------------------------------


def read() -> str:
    tools = " && ".join(f"command -v {t} >/dev/null" for t in TOOLS)
    lines = [
        f"{tools} || {{ echo 'install prometheus, prometheus-alertmanager, "
        "prometheus-blackbox-exporter and curl' >&2; exit 3; }",
        f"if [ -d {q(CONF_DIR)} ]; then cd {q(CONF_DIR)} && find . -type f -printf '%P\\0' "
        "| sort -z | xargs -0 -r sha256sum | sed 's/^/file\\t/'; fi",
    ]
    for name, address, metric in SERVICES:
        lines.append(
            f"curl -fsS --max-time 5 http://{address}/metrics 2>/dev/null "
            f"| grep -E '^{metric} ' | sed 's/^/reload\\t{name}\\t/'"
        )
    lines.append("true")
    return "\n".join(lines) + "\n"


def parse(result: CommandResult) -> MonitoringObserved | Unknown:
    if not result.ok:
        return Unknown(
            f"reading the monitoring configuration failed ({result.exit_code}): "
            f"{result.stderr.strip()[-200:]}"
        )
    files: dict[str, str] = {}
    failed: list[str] = []
    for line in result.stdout.split("\n"):
        tag, _, rest = line.partition("\t")
        if tag == "file":
            match = re.fullmatch(r"([0-9a-f]{64})  (.+)", rest)
            if match:
                files[match.group(2)] = match.group(1)
        elif tag == "reload":
            name, _, sample = rest.partition("\t")
            if sample.split()[-1:] == ["0"]:
                failed.append(name)
    return MonitoringObserved(files, tuple(sorted(failed)))


def encode(observed: MonitoringObserved) -> Any:
    return {"files": dict(sorted(observed.files.items())), "reload_failed": observed.reload_failed}


# --- diff ----------------------------------------------------------------------------------


def diff(want: MonitoringDesired, have: MonitoringObserved) -> list[Change]:
    wanted = {path: _sha(text) for path, text in want.files}
    details = [
        Detail("+" if path not in have.files else "~", path)
        for path, sha in wanted.items()
        if have.files.get(path) != sha
    ]
    details += [Detail("-", path) for path in sorted(set(have.files) - set(wanted))]
    reloads = [Detail("~", f"reload {name}: its last reload failed") for name in have.reload_failed]
    if not details and not reloads:
        return []
    shown = details[:DETAILS_SHOWN]
    if len(details) > DETAILS_SHOWN:
        shown.append(Detail(" ", f"... and {len(details) - DETAILS_SHOWN} more file(s)"))
    action = Action.CREATE if not have.files else Action.UPDATE
    summary = (
        f"Prometheus, Alertmanager and blackbox configuration: {len(details)} file(s) "
        "(checked by promtool and amtool, the timing proofs run, before activation)"
    )
    payload = {"files": [list(f) for f in want.files]}
    return [Change(KIND, action, CONF_DIR, summary, tuple(shown + reloads), payload)]


# --- apply ---------------------------------------------------------------------------------


def bundle(files: Sequence[Sequence[str]]) -> bytes:
    """The files as a tar archive (`new/<path>`), sent on the apply script's stdin."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in files:
            data = content.encode()
            info = tarfile.TarInfo(f"new/{path}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _reload(name: str, address: str) -> str:
    url = q(f"http://{address}/-/reload")
    return (
        f"code=$(curl -s -o /dev/null -w '%{{http_code}}' -X POST --max-time 30 {url} || true)\n"
        f'case "$code" in 200) echo {q(name + " reloaded")};; 000|"") echo '
        f'{q(name + " not running")};; *) echo {q(name + " reload failed")} "($code)" >&2; '
        "failed=1;; esac"
    )


def apply_script(paths: Sequence[str]) -> str:
    """Stage, check, swap, reload: stopped by the first failed check (nothing activated)."""
    tests = " ".join(q(p) for p in paths if p.startswith("tests/") and not p.endswith("-rules.yml"))
    parent = CONF_DIR.rsplit("/", 1)[0]
    reloads = "\n".join(_reload(name, address) for name, address, _ in SERVICES)
    return f"""set -e
umask 022
mkdir -p {q(parent)}
stage=$(mktemp -d {q(parent)}/.dagsync-monitoring.XXXXXX)
trap 'rm -rf "$stage"' EXIT
tar -x -C "$stage" -f -
cd "$stage/new"
promtool check config prometheus.yml >"$stage/log" 2>&1 || {{ cat "$stage/log" >&2; exit 4; }}
promtool test rules {tests} >"$stage/log" 2>&1 || {{ cat "$stage/log" >&2; exit 4; }}
amtool check-config alertmanager.yml >"$stage/log" 2>&1 || {{ cat "$stage/log" >&2; exit 4; }}
prometheus-blackbox-exporter --config.check --config.file=blackbox.yml >"$stage/log" 2>&1 \
  || {{ cat "$stage/log" >&2; exit 4; }}
cd /
rm -rf {q(CONF_DIR + ".old")}
if [ -d {q(CONF_DIR)} ]; then mv {q(CONF_DIR)} {q(CONF_DIR + ".old")}; fi
mv "$stage/new" {q(CONF_DIR)}
rm -rf {q(CONF_DIR + ".old")}
failed=0
{reloads}
exit $failed
"""


def _check_failed(stderr: str) -> str:
    """Which proofs broke (promtool names the alerts), then the start of the tool's output."""
    broken = sorted(set(re.findall(r"alertname: (\w+),", stderr)))
    which = f"the timing proofs of {', '.join(broken)} fail; " if broken else ""
    return f"a check failed, nothing activated: {which}{stderr.strip()[:600]}"


def apply(executor: Executor, changes: Sequence[Change]) -> list[Outcome]:
    outcomes = []
    for change in changes:
        files = change.payload["files"]
        script = apply_script([path for path, _ in files])
        result = executor.run(script, stdin=bundle(files), timeout=APPLY_TIMEOUT)
        message = " ".join(result.stdout.split("\n")).strip()
        if result.ok:
            outcomes.append(Outcome(change, Status.APPLIED, message))
        elif result.exit_code == 4:
            outcomes.append(Outcome(change, Status.FAILED, _check_failed(result.stderr)))
        else:
            outcomes.append(
                Outcome(
                    change,
                    Status.FAILED,
                    f"exit code {result.exit_code} ({message}): {result.stderr.strip()[-500:]}",
                )
            )
    return outcomes


# --- over DAG's monitoring hosts -----------------------------------------------------------


def hosts_of(settings: DagSettings, overrides: Overrides) -> list[tuple[Host, MonitoringHost]]:
    """Each monitoring host of `policies/dag.yaml` as a target, where it is reached."""
    found = []
    for declared in settings.monitoring.hosts if settings.monitoring else []:
        host = Host(dag_target(declared.name), None, KIND, read(), parse, encode)
        try:
            address = declared.address or declared.host
            host.endpoint = dag_endpoint(
                declared.name, "monitoring host", address, declared.host_key, overrides
            )
        except DagsyncError as exc:
            host.error = str(exc)
        found.append((host, declared))
    return found


def _plan(hosts: Sequence[tuple[Host, MonitoringHost]], inputs: Inputs) -> Plan:
    targets = []
    for host, declared in hosts:
        observed = host.observed
        items: list[Change | Note] | None = None
        if isinstance(observed, MonitoringObserved):
            want = desired(inputs, declared)
            items = [*diff(want, observed), *(Note(KIND, line) for line in want.refused)]
        targets.append(target_plan(host, items))
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Plan(tuple(targets), created)


def plan_hosts(inputs: Inputs, overrides: Overrides, options: RunOptions) -> Plan:
    """Read every monitoring host (nothing changed) and plan its configuration."""
    hosts = hosts_of(inputs.repo.settings, overrides)
    creds = credentials(inputs.repo.settings.ssh_user, overrides)
    observe_all([h for h, _ in hosts], options, creds, keep=False)
    return _plan(hosts, inputs)


def apply_hosts(
    inputs: Inputs, overrides: Overrides, options: RunOptions, confirm: Callable[[Plan], bool]
) -> ApplyReport:
    """Lock and read each monitoring host, plan, confirm, apply each in parallel."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    hosts = hosts_of(inputs.repo.settings, overrides)
    plain = [h for h, _ in hosts]
    try:
        creds = credentials(inputs.repo.settings.ssh_user, overrides)
        holder = options.holder or "dagsync apply (monitoring)"
        observe_all(plain, options, creds, keep=True, holder=holder)
        chosen = _plan(hosts, inputs)
        if chosen.has_changes and not confirm(chosen):
            raise DagsyncError("apply cancelled: nothing was changed")
        planned = {t.target.key: t.changes for t in chosen.targets}

        def one(host: Host) -> HostResult:
            changes = planned.get(host.target.key, ())
            done = apply(host.session, changes) if host.session and changes else []
            return host_result(host, changes, done, time.monotonic() - clock)

        results = parallel(one, plain, options.parallel)
    finally:
        close_all(plain)
    finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return ApplyReport(replace(chosen), tuple(results), started, finished)
