"""Shared mail: DAG's mail hosts, configured from every client using shared mail.

Each mail host of `policies/dag.yaml` (a target `dag/<name>`) gets the same configuration,
rendered whole by `dagsync.reconcile.mail.files`: the Dovecot settings and per-domain quota file, the
Postfix tables (client servers refused, Cc limit, declared forwards, hosted domains), the
`main.cf` parameters and `master.cf` services dagsync owns.  The plan shows one change per
host, detailed per domain, file and parameter.  The apply (`dagsync.reconcile.mail.apply`)
stages every file, checks the candidate configuration, and only then moves the files into
place, reloads the services that run, and leaves the rest of the hosts' configuration alone.
Drift is read back from the live files and from `postconf`, not from what was last written.
The mail store sizes are read by `dagsync.reconcile.mail.usage`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.model.client import Client, MailHosting
from dagsync.model.policy import CgvPolicy, DagSettings
from dagsync.model.reserved import reserved_domain
from dagsync.model.server import Server
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
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.mail.apply import apply
from dagsync.reconcile.plan import Plan
from dagsync.reconcile.report import ApplyReport, HostResult
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import RunOptions, parallel
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.inventory import Overrides
from dagsync.reconcile.transport.ssh import credentials
from dagsync.validate.repository import Repository

KIND = "mail"
FILES = (
    mc.DOVECOT_CONF,
    mc.DOMAINS_FILE,
    mc.CLIENT_ACCESS,
    mc.CC_CHECKS,
    mc.FORWARDS,
    mc.VIRTUAL_DOMAINS,
)


@dataclass(frozen=True)
class ClientMail:
    """One client as the mail hosts see it."""

    client: Client
    policy: CgvPolicy
    servers: tuple[Server, ...]


@dataclass(frozen=True)
class MailDesired:
    quotas: tuple[mc.DomainQuota, ...]
    files: tuple[tuple[str, str], ...]  # (path, content)
    main: tuple[tuple[str, str], ...]
    master: tuple[tuple[str, str], ...]
    master_params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MailObserved:
    files: Mapping[str, str]  # path -> sha256 (absent files are missing)
    quotas: Mapping[str, mc.DomainQuota]
    main: Mapping[str, str]
    master: Mapping[str, str]
    master_params: Mapping[str, str]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- desired -------------------------------------------------------------------------------


def _refused(clients: Sequence[ClientMail]) -> list[mc.RefusedClient]:
    out = []
    for c in clients:
        if c.client.mail.smtp_from_sites and c.client.mail.request is not None:
            continue  # allowed by request (the validator checks the request exists)
        for server in c.servers:
            for ip in server.ips:
                out.append(mc.RefusedClient(str(ip), f"{c.client.id}/{server.name}"))
    return out


def desired(
    clients: Sequence[ClientMail], dag: DagSettings | None = None
) -> tuple[MailDesired, tuple[Note, ...]]:
    """The configuration of every shared mail host, from all the clients (with `dag`, a
    domain of DAG's or of a public mail provider is refused: `mailconf.ReservedDomain`)."""
    shared = [c for c in clients if c.client.mail.hosting is MailHosting.SHARED]
    notes: list[Note] = []
    quotas = []
    forwards = []
    for c in shared:
        mail, hard = c.client.mail, c.policy.mail_hard_limit_gb.value
        if mail.quota_gb > hard:
            notes.append(
                Note(
                    KIND,
                    f"{c.client.id}: quota {mail.quota_gb} GB capped at the "
                    f"{hard} GB hard limit (CGV 6.1)",
                )
            )
        quotas += [
            mc.DomainQuota(d, c.client.id, mc.quota_mb(mail.quota_gb, hard)) for d in mail.domains
        ]
        forwards += [mc.Forward(f.source, f.target, c.client.id) for f in mail.external_forwards]
        limit = c.policy.mail_cc_limit.value
        if mail.cc_limit < limit:
            notes.append(
                Note(
                    KIND,
                    f"{c.client.id}: cc_limit {mail.cc_limit} is enforced at the "
                    f"CGV limit of {limit} on the shared hosts",
                )
            )
    if dag is not None:
        mc.refuse_reserved(quotas, lambda domain: reserved_domain(domain, dag))
    cc = min((c.policy.mail_cc_limit.value for c in shared), default=9)
    files = (
        (mc.DOVECOT_CONF, mc.render_dovecot()),
        (mc.DOMAINS_FILE, mc.render_domains(quotas)),
        (mc.CLIENT_ACCESS, mc.render_client_access(_refused(clients))),
        (mc.CC_CHECKS, mc.render_cc_checks(cc)),
        (mc.FORWARDS, mc.render_forwards(forwards, mc.domain_owners(quotas))),
        (mc.VIRTUAL_DOMAINS, mc.render_virtual_domains(q.domain for q in quotas)),
    )
    state = MailDesired(
        tuple(sorted(quotas, key=lambda q: q.domain)),
        files,
        tuple(mc.MAIN_PARAMS.items()),
        tuple(mc.MASTER_ENTRIES.items()),
        tuple(mc.MASTER_PARAMS.items()),
    )
    return state, tuple(notes)


# --- read ----------------------------------------------------------------------------------


def read(desired: MailDesired) -> str:
    tools = (
        "command -v doveconf >/dev/null && command -v postconf >/dev/null || "
        "{ echo 'doveconf or postconf is not installed' >&2; exit 3; }"
    )
    lines = [tools]
    for path, _ in desired.files:
        lines.append(
            f"if [ -f {q(path)} ]; then printf 'file\\t%s\\t%s\\n' {q(path)} "
            f"\"$(sha256sum < {q(path)} | cut -d' ' -f1)\"; fi"
        )
    lines.append(f"if [ -f {q(mc.DOMAINS_FILE)} ]; then sed 's/^/dom\\t/' {q(mc.DOMAINS_FILE)}; fi")
    names = " ".join(q(n) for n, _ in desired.main)
    lines.append(f"postconf {names} | sed 's/^/main\\t/'")
    services = " ".join(q(s) for s, _ in desired.master)
    lines.append(f"postconf -M {services} 2>/dev/null | sed 's/^/master\\t/'")
    params = " ".join(q(p) for p, _ in desired.master_params)
    lines.append(f"postconf -P {params} 2>/dev/null | sed 's/^/mparam\\t/'")
    lines.append("true")
    return "\n".join(lines) + "\n"


def parse(result: CommandResult) -> MailObserved | Unknown:
    if not result.ok:
        return Unknown(
            f"reading the mail configuration failed ({result.exit_code}): "
            f"{result.stderr.strip()[-200:]}"
        )
    tagged: dict[str, list[str]] = {}
    for line in result.stdout.split("\n"):
        tag, _, rest = line.partition("\t")
        tagged.setdefault(tag, []).append(rest)
    files = dict(r.split("\t", 1) for r in tagged.get("file", []) if "\t" in r)
    return MailObserved(
        files,
        mc.parse_domains("\n".join(tagged.get("dom", []))),
        mc.parse_postconf("\n".join(tagged.get("main", []))),
        mc.parse_master("\n".join(tagged.get("master", []))),
        mc.parse_postconf("\n".join(tagged.get("mparam", []))),
    )


def encode(observed: MailObserved) -> Any:
    return {
        "files": dict(observed.files),
        "quotas": {d: [q.client, q.quota_mb] for d, q in sorted(observed.quotas.items())},
        "main": dict(observed.main),
        "master": dict(observed.master),
        "master_params": dict(observed.master_params),
    }


# --- diff ----------------------------------------------------------------------------------


def _quota_details(desired: MailDesired, observed: MailObserved) -> list[Detail]:
    want = {q.domain: q for q in desired.quotas}
    have = observed.quotas
    out = [Detail("-", f"quota {d} ({have[d].client})") for d in sorted(set(have) - set(want))]
    for d in sorted(set(want) & set(have)):
        if want[d] != have[d]:
            out.append(
                Detail(
                    "~",
                    f"quota {d}: {mc.describe_mb(have[d].quota_mb)} -> "
                    f"{mc.describe_mb(want[d].quota_mb)} ({want[d].client})",
                )
            )
    out += [
        Detail("+", f"quota {d}: {mc.describe_mb(want[d].quota_mb)} ({want[d].client})")
        for d in sorted(set(want) - set(have))
    ]
    return out


def _file_details(desired: MailDesired, observed: MailObserved) -> list[Detail]:
    out = []
    for path, content in desired.files:
        now = observed.files.get(path)
        if now != _sha(content):
            out.append(Detail("+" if now is None else "~", path))
    return out


def _param_details(
    want: Sequence[tuple[str, str]], have: Mapping[str, str], what: str
) -> list[Detail]:
    out = []
    for name, value in want:
        current = have.get(name)
        if current is None or mc.normalise(current) != mc.normalise(value):
            was = "unset" if current is None else f"was {current!r}"
            out.append(Detail("~", f"{what} {name} = {value} ({was})"))
    return out


def diff(desired: MailDesired, observed: MailObserved) -> list[Change | Note]:
    details = _quota_details(desired, observed) + _file_details(desired, observed)
    details += _param_details(desired.main, observed.main, "main.cf")
    details += _param_details(desired.master, observed.master, "master.cf")
    details += _param_details(desired.master_params, observed.master_params, "master.cf")
    if not details:
        return []
    action = Action.CREATE if not observed.files else Action.UPDATE
    payload = {
        "files": [list(f) for f in desired.files],
        "main": [list(m) for m in desired.main],
        "master": [list(m) for m in desired.master],
        "master_params": [list(m) for m in desired.master_params],
    }
    return [
        Change(
            KIND,
            action,
            "shared mail",
            "Dovecot quotas and Postfix limits of the "
            "shared mail clients (checked before activation)",
            tuple(details),
            payload,
        )
    ]


# --- over DAG's mail hosts (see dagsync.reconcile.daghosts) ------------------------------------


def clients_of(repo: Repository, policies: Mapping[str, CgvPolicy]) -> list[ClientMail]:
    """Every client with its CGV policy (by id) and its servers."""
    return [ClientMail(c.client, policies[c.id], c.servers) for c in repo.clients]


def _hosts(repo: Repository, overrides: Overrides) -> list[Host]:
    hosts = []
    for mail_host in repo.settings.mail_hosts:
        host = Host(dag_target(mail_host.name), None, KIND, parse=parse, encode=encode)
        try:
            host.endpoint = dag_endpoint(
                mail_host.name,
                "mail host",
                mail_host.address or mail_host.host,
                mail_host.host_key,
                overrides,
            )
        except DagsyncError as exc:
            host.error = str(exc)
        hosts.append(host)
    return hosts


def _plan(hosts: Sequence[Host], state: MailDesired, notes: Sequence[Note]) -> Plan:
    targets = []
    for host in hosts:
        items = diff(state, host.observed) if isinstance(host.observed, MailObserved) else None
        plan = target_plan(host, items)
        targets.append(replace(plan, notes=(*notes, *plan.notes)))
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Plan(tuple(targets), created)


def plan_hosts(
    repo: Repository, clients: Sequence[ClientMail], overrides: Overrides, options: RunOptions
) -> Plan:
    """Read every mail host (nothing changed) and plan its shared-mail configuration."""
    state, notes = desired(clients, repo.settings)
    hosts = _hosts(repo, overrides)
    for host in hosts:
        host.read = read(state)
    observe_all(hosts, options, credentials(repo.settings.ssh_user, overrides), keep=False)
    return _plan(hosts, state, notes)


def apply_hosts(
    repo: Repository,
    clients: Sequence[ClientMail],
    overrides: Overrides,
    options: RunOptions,
    confirm: Callable[[Plan], bool],
) -> ApplyReport:
    """Lock and read each mail host, plan, confirm, apply each in parallel."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    state, notes = desired(clients, repo.settings)
    hosts = _hosts(repo, overrides)
    for host in hosts:
        host.read = read(state)
    try:
        observe_all(
            hosts,
            options,
            credentials(repo.settings.ssh_user, overrides),
            keep=True,
            holder=options.holder or "dagsync apply (mail)",
        )
        chosen = _plan(hosts, state, notes)
        if chosen.has_changes and not confirm(chosen):
            raise DagsyncError("apply cancelled: nothing was changed")
        planned = {t.target.key: t.changes for t in chosen.targets}

        def one(host: Host) -> HostResult:
            changes = planned.get(host.target.key, ())
            done = apply(host.session, changes) if host.session and changes else []
            return host_result(host, changes, done, time.monotonic() - clock)

        results = parallel(one, hosts, options.parallel)
    finally:
        close_all(hosts)
    finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return ApplyReport(chosen, tuple(results), started, finished)
