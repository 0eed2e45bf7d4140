"""No path from a YAML value to a root shell (issue 13).

The host-bound fields are found in the model itself: every string field whose type carries
the `HostBound` marker.  For each of them, hypothesis generates hostile strings (`$()`,
backquotes, quotes, `;`, newlines, CR, NUL, commas, spaces, unicode, `..`, globs) and the test
proves that each one either fails validation at that field, or arrives literally: the rendered
scripts pass `sh -n`, the backup job run with stubbed commands never creates the canary file,
and the rendered nft file and Postfix tables pass the tools' own checks.  Another test gives
every string field WITHOUT the marker a sentinel value and fails if the sentinel reaches any
rendered script, file or command: a new field is covered, or flagged, without editing this
file.  Renderers are also tested alone with values the validator would refuse.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import os
import shutil
import subprocess
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML

from dagsync.errors import DagsyncError
from dagsync.model.base import HostBound
from dagsync.model.client import Client
from dagsync.model.policy import CgvPolicy, DagSettings
from dagsync.model.server import DbEngine, Frequency, Server
from dagsync.reconcile.backup import job
from dagsync.reconcile.backup import resource as res
from dagsync.reconcile.backup.storage import StorageSpec, storage_desired, storage_read
from dagsync.reconcile.core import Change, DiffOptions, Target
from dagsync.reconcile.hosts import accounts, rootaccess
from dagsync.reconcile.hosts.desired import host_desired
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.mail import resource as mail
from dagsync.reconcile.mail.apply import apply_script
from dagsync.reconcile.resource import ApplyOptions, BlockedEntry, CommandResult, ServerInputs
from dagsync.reconcile.shell import UnsafeValue

PROJECT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)  # a Tuesday, 11:00 in Paris
STORAGE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqRrp1LA/NrvQiUz6oIQpfItrlU99S9E1raF1nK5bVa"
SERVER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr"
LIST = "[]"  # a path step into every item of a list
ROOTS: tuple[type[BaseModel], ...] = (Client, Server, DagSettings)


@functools.cache
def _parsed(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _load(path: Path) -> Any:
    """The YAML data of a file (a fresh copy: callers change it)."""
    return copy.deepcopy(_parsed(path))


POLICY = CgvPolicy.model_validate(_load(PROJECT / "policies" / "cgv" / "2024-01.yaml"))


# --- the fields, from the model ----------------------------------------------------------------


def _walk(
    tp: Any, marks: tuple[Any, ...], path: tuple[str, ...], seen: set[type]
) -> Iterator[tuple[tuple[str, ...], bool]]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _walk(tp.__origin__, marks + tp.__metadata__, path, seen)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _walk(arg, marks, path, seen)
    elif origin in (list, tuple):
        for arg in typing.get_args(tp):
            if arg is not Ellipsis:
                yield from _walk(arg, (), (*path, LIST), seen)
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp not in seen:
            yield from string_fields(tp, path, seen | {tp})
    elif tp is str:
        yield path, any(isinstance(m, HostBound) for m in marks)


def string_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = (), seen: set[type] | None = None
) -> Iterator[tuple[tuple[str, ...], bool]]:
    """(path, host-bound) of every string leaf of `model` (enums and literals are not text)."""
    for name, info in model.model_fields.items():
        yield from _walk(info.annotation, tuple(info.metadata), (*prefix, name), seen or {model})


def fields(root: type[BaseModel], host_bound: bool) -> list[tuple[str, ...]]:
    return sorted({p for p, marked in string_fields(root) if marked is host_bound})


# --- a sample with every section present ------------------------------------------------------


def sample_client() -> dict[str, Any]:
    data: dict[str, Any] = _load(PROJECT / "clients" / "alpine-books" / "client.yaml")
    data["contract"]["root_access"] = [
        {
            "server": "shop1",
            "granted_to": "Claire Martin",
            "start": "2026-01-01",
            "end": "2026-12-31",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "hours": ["00:00", "23:59"],
            "guarantees_suspended": True,
            "request": "REQ-2025-001",
        }
    ]
    data["contract"]["termination"] = {
        "requested_on": "2026-01-05",
        "channel": "email",
        "to": "resiliation@dagtechnologies.fr",
        "effective_on": "2027-03-01",
        "request": "REQ-2025-001",
    }
    data["mail"]["external_forwards"] = [
        {"source": "claire.martin@alpine-books.example", "target": "claire@mail.example"}
    ]
    data["network"] = {
        "blocklist": [
            {"address": "198.51.100.0/24", "reason": "brute force", "added_on": "2026-01-02"}
        ]
    }
    data["maintenance"] = [
        {
            "start": "2026-12-08T22:00",
            "duration_minutes": 60,
            "nature": "Kernel security update and reboot",
            "request": "REQ-2025-001",
            "servers": ["shop1"],
        }
    ]
    data["notes"] = "notes"
    return data


def sample_server() -> dict[str, Any]:
    data: dict[str, Any] = _load(PROJECT / "clients" / "alpine-books" / "servers" / "shop1.yaml")
    data["accounts"].append(
        {"name": "deploy", "kind": "ssh", "owner": "Claire Martin", "keys": [f"{SERVER_KEY} ci"]}
    )
    data["databases"][0]["users"][0]["hosts"] = ["localhost"]
    data["os"] = {
        "name": "debian",
        "version": "13",
        "upgrade_from": "12",
        "request": "REQ-2025-001",
        "prerequisites": [{"package": "php8.2-fpm", "version": "8.2.7-1~deb12u1"}],
    }
    data["firewall"]["open_ports"].append(
        {
            "protocol": "tcp",
            "port": "8000-8010",
            "service": "stock",
            "sources": ["198.51.100.7/32"],
            "justification": "The warehouses push their stock levels.",
        }
    )
    data["backup"]["paths"] = ["/srv/www", "/srv/shop/uploads"]
    data["backup"]["scope"] = ["system", "files", "databases", "dev_space"]
    data["hosts_dev_space"] = True
    return data


def sample_settings() -> dict[str, Any]:
    data: dict[str, Any] = _load(PROJECT / "policies" / "dag.yaml")
    for storage in data["backup_storages"]:
        storage.update(address="10.0.0.5", host_key=STORAGE_KEY, repository_root="/srv/borg")
    for host in data["mail_hosts"]:
        host.update(address="10.0.0.6", host_key=STORAGE_KEY)
    return data


SAMPLES = {Client: sample_client, Server: sample_server, DagSettings: sample_settings}


def set_at(data: Any, path: tuple[str, ...], value: str) -> None:
    """Put `value` at `path` of YAML data (in every item of a list; a missing leaf is added)."""
    head, rest = path[0], path[1:]
    if head == LIST:
        assert isinstance(data, list) and data, "the sample needs an item in this list"
        for item in data:
            set_at(item, rest, value) if rest else None
        if not rest:
            data[:] = [value for _ in data]
        return
    assert isinstance(data, dict)
    if not rest:
        data[head] = value
        return
    assert data.get(head) is not None, f"the sample lacks `{head}`: add it to the sample"
    set_at(data[head], rest, value)


def model_with(root: type[BaseModel], path: tuple[str, ...], value: str) -> BaseModel:
    """The sample of `root` with `value` at `path` (validated)."""
    data = SAMPLES[root]()
    set_at(data, path, value)
    return root.model_validate(data)


def replaced(obj: Any, path: tuple[str, ...], value: str) -> Any:
    """`obj` (a model) with `value` at `path`, NOT validated: what a renderer would get if the
    validator were bypassed."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == LIST:
        return [replaced(item, rest, value) for item in obj]
    if obj is None:
        return None
    current = getattr(obj, head)
    if current is None and rest:
        raise AssertionError(f"the sample lacks `{head}`: add it to the sample")
    return obj.model_copy(update={head: replaced(current, rest, value)})


# --- rendering everything that reaches a host -------------------------------------------------


class Recorder:
    """An executor that records the commands and succeeds."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        self.commands.append(command)
        return CommandResult(0, "", "")

    def run_fresh(self, command: str, *, timeout: float | None = None) -> CommandResult:
        return self.run(command)


def _host_text(kind: str, state: Any) -> str:
    if kind == "firewall":
        return str(state.text)
    if kind == "root-access":
        return "\n".join(state.lines)
    if kind == "accounts":  # `why` is for people: plans show it, apply never sends it (the
        # recorder below holds what apply sends; tests/test_plan_request_lines.py checks it)
        return repr(tuple(dataclasses.replace(spec, why="") for spec in state))
    return repr(state)  # any kind added later: its whole desired state


def render_all(
    client: Client, server: Server, settings: DagSettings
) -> tuple[dict[str, str], list[str]]:
    """Every rendered file and every shell script for one server, its storage, the mail hosts."""
    blocked = tuple(BlockedEntry(b.address, client.id, b.reason) for b in client.network.blocklist)
    inputs = ServerInputs(
        Target(client.id, server.name, production=True),
        client,
        server,
        tuple(settings.management_ranges),
        blocked,
        NOW,
    )
    desired = host_desired(inputs)
    files = {f"host {kind}": _host_text(kind, state) for kind, state in desired.states}
    scripts = [command for _, command in desired.reads()]
    recorder = Recorder()
    for kind, state in desired.states:
        if kind == "accounts":
            items = accounts.diff(state, accounts.AccountsObserved(()), DiffOptions())
        elif kind == "root-access":
            items = rootaccess.diff(state, rootaccess.RootObserved(False, ()), DiffOptions())
        else:
            continue
        changes = [c for c in items if isinstance(c, Change)]
        (accounts if kind == "accounts" else rootaccess).apply(recorder, changes, ApplyOptions())
    storage = next((s for s in settings.backup_storages if s.name == server.backup.storage), None)
    if storage is None:  # as the backup driver does
        raise DagsyncError(f"backup storage `{server.backup.storage}` is not in policies/dag.yaml")
    spec = StorageSpec(
        storage.name,
        str(storage.address or storage.host),
        22,
        storage.host_key or STORAGE_KEY,
        storage.repository_root,
    )
    backup = res.desired(client, server, spec)
    files.update(
        {"backup job": backup.job, "backup cron": backup.cron, "known_hosts": backup.known_hosts}
    )
    scripts += [backup.job, res.read(backup), storage_read(spec)]
    files["storage keys"] = storage_desired(spec, {backup.key: SERVER_KEY}).content()
    state, _ = mail.desired([mail.ClientMail(client, POLICY, (server,))])
    files.update(dict(state.files))
    payload = {
        "files": [list(f) for f in state.files],
        "main": [list(m) for m in state.main],
        "master": [list(m) for m in state.master],
        "master_params": [list(m) for m in state.master_params],
    }
    scripts += [mail.read(state), apply_script(payload), *recorder.commands]
    files["scripts"] = "\n".join(scripts)
    return files, scripts


def samples() -> tuple[Client, Server, DagSettings]:
    return (
        Client.model_validate(sample_client()),
        Server.model_validate(sample_server()),
        DagSettings.model_validate(sample_settings()),
    )


def render_with(root: type[BaseModel], model: BaseModel) -> tuple[dict[str, str], list[str]]:
    client, server, settings = samples()
    parts: dict[type[BaseModel], Any] = {Client: client, Server: server, DagSettings: settings}
    parts[root] = model
    return render_all(parts[Client], parts[Server], parts[DagSettings])


# --- checking what was rendered ---------------------------------------------------------------


def sh_n(*scripts: str) -> None:
    """Every script parses (`sh -n`), checked in one process."""
    for script in scripts:
        assert "\x00" not in script, script
    checker = 'for s in "$@"; do sh -n -c "$s" || { printf "%s" "$s"; exit 1; }; done'
    result = subprocess.run(["sh", "-c", checker, "sh", *scripts], capture_output=True, check=False)
    assert result.returncode == 0, result.stdout.decode(errors="replace")


# Every command that could change this machine is a shell function (they win over the
# scripts' own PATH); `touch` stays real: it is what a successful injection would run.
STUBBED = (
    "flock mkdir rm mv cp chmod chown runuser useradd usermod userdel groupadd getent "
    "postconf postmap postfix doveconf doveadm tar nft systemctl ssh-keygen sha256sum"
)
STUBS = (
    'borg() { printf \'%s\\0\' "$@" > "$SANDBOX/borg-$1.args"; }\n'
    "mktemp() { printf '%s\\n' \"$SANDBOX/tmp-file\"; }\n"
    + "".join(f"{name}() {{ :; }}\n" for name in STUBBED.split())
    + f"export -f borg mktemp {STUBBED}\n"
)


def run_stubbed(*scripts: str, sandbox: Path) -> tuple[int, str]:
    """Rendered scripts, one after the other, under bash with the commands that change things
    stubbed; the job's writes under /var go to the sandbox or /dev/null.  The last script's
    exit code, and the standard error of all (bytes as they are: a CR stays a CR)."""
    (sandbox / "dumps").mkdir(exist_ok=True)
    names = []
    for number, script in enumerate(scripts):
        text = (
            script.replace(job.JOB_LOCK, "/dev/null")
            .replace(job.STATUS_FILE + ".tmp", "/dev/null")
            .replace(job.DUMP_DIR, str(sandbox / "dumps"))
        )
        (sandbox / f"script{number}").write_text(text)
        names.append(f'bash "{sandbox}/script{number}" < /dev/null')
    env = {"SANDBOX": str(sandbox), "PATH": "/usr/bin:/bin", "DAGSYNC_DUMP_COMMAND": "true"}
    result = subprocess.run(
        ["bash", "-c", STUBS + "; ".join(names)],
        env=env,
        cwd=sandbox,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return result.returncode, result.stderr.decode(errors="surrogateescape")


def run_job(script: str, sandbox: Path) -> tuple[int, str]:
    return run_stubbed(script, sandbox=sandbox)


def nft_check(text: str) -> None:
    if shutil.which("nft") is None or shutil.which("unshare") is None:
        return
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return  # no network namespace for this user
    result = subprocess.run(
        ["unshare", "-n", "nft", "-c", "-f", "-"],
        input=text.encode(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, (result.stderr.decode(), text)


def postmap_lookup(kind: str, text: str, key: str, folder: Path) -> str | None:
    table = folder / f"table.{kind}"
    table.write_text(text)
    result = subprocess.run(
        ["postmap", "-q", key, f"{kind}:{table}"], capture_output=True, text=True, check=False
    )
    assert not result.stderr, result.stderr
    return result.stdout.rstrip("\n") if result.returncode == 0 else None


# --- hostile strings --------------------------------------------------------------------------

CANARY = "/tmp/dagsync-canary-h13"
FRAGMENTS = (
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f";touch {CANARY};",
    f"\ntouch {CANARY}\n",
    "'",
    '"',
    ";",
    "\n",
    "\r",
    "\x00",
    ",",
    " ",
    "\t",
    "é",
    "\u202e",
    "..",
    "/..",
    "*",
    "?",
    "[a-z]",
    "{a,b}",
    "|",
    "&",
    ">",
    "\\",
    "#",
    ":",
    "%",
    "=",
    "@",
    "-",
    ".",
    "/",
)


@st.composite
def hostile(draw: st.DrawFn, base: str) -> str:
    """A legitimate value with hostile fragments inserted, or hostile fragments alone."""
    pieces = draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4))
    where = draw(st.integers(min_value=0, max_value=len(base)))
    if draw(st.booleans()):
        return "".join(pieces)
    return base[:where] + "".join(pieces) + base[where:]


def base_value(root: type[BaseModel], path: tuple[str, ...]) -> str:
    value: Any = SAMPLES[root]()
    for step in path:
        if step == LIST:
            value = value[0]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return "a"
    return str(value)


def locations(error: ValidationError) -> set[tuple[str, ...]]:
    return {tuple(LIST if isinstance(p, int) else str(p) for p in e["loc"]) for e in error.errors()}


def startswith(loc: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return loc[: len(path)] == path


HOST_BOUND = [(root, path) for root in ROOTS for path in fields(root, True)]


def test_the_model_marks_the_values_that_reach_hosts() -> None:
    marked = {(root.__name__, ".".join(path)) for root, path in HOST_BOUND}
    for expected in [
        ("Server", "backup.paths.[]"),
        ("Server", "accounts.[].keys.[]"),
        ("Server", "accounts.[].name"),
        ("Server", "accounts.[].owner"),
        ("Server", "vhosts.[].aliases.[]"),
        ("Server", "databases.[].name"),
        ("Client", "mail.domains.[]"),
        ("Client", "mail.external_forwards.[].source"),
        ("Client", "mail.external_forwards.[].target"),
        ("DagSettings", "backup_storages.[].repository_root"),
    ]:
        assert expected in marked


def test_no_unmarked_string_field_reaches_a_renderer() -> None:
    """A sentinel in each unmarked string field must not appear in anything rendered."""
    client, server, settings = samples()
    reached = []
    for root in ROOTS:
        for number, path in enumerate(fields(root, False)):
            sentinel = f"zqsentinel{number:03d}x"
            parts: dict[type[BaseModel], Any] = {
                Client: client,
                Server: server,
                DagSettings: settings,
            }
            parts[root] = replaced(parts[root], path, sentinel)
            try:
                rendered, _ = render_all(parts[Client], parts[Server], parts[DagSettings])
            except (ValueError, TypeError, AttributeError) as exc:
                reached.append(f"{root.__name__}.{'.'.join(path)} (a renderer read it: {exc})")
                continue
            if any(sentinel in text for text in rendered.values()):
                reached.append(f"{root.__name__}.{'.'.join(path)}")
    assert reached == [], "string fields reaching a host without a HostBound type: " + ", ".join(
        reached
    )


def test_sample_renders_and_every_script_parses(tmp_path: Path) -> None:
    client, server, settings = samples()
    rendered, scripts = render_all(client, server, settings)
    sh_n(*scripts)
    nft_check(rendered["host firewall"])
    assert (
        postmap_lookup(
            "texthash", rendered[mc.FORWARDS], "claire.martin@alpine-books.example", tmp_path
        )
        == "claire.martin@alpine-books.example, claire@mail.example"
    )


@pytest.mark.parametrize(
    ("root", "path"), HOST_BOUND, ids=[f"{r.__name__}.{'.'.join(p)}" for r, p in HOST_BOUND]
)
@seed(20261207)
@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_value_fails_validation_at_its_field_or_arrives_literally(
    root: type[BaseModel], path: tuple[str, ...], data: st.DataObject, tmp_path: Path
) -> None:
    value = data.draw(hostile(base_value(root, path)), label="value")
    model: BaseModel | None = None
    try:
        model = model_with(root, path, value)
    except ValidationError as exc:
        event("refused by the model")
        where = locations(exc)
        assert all(startswith(loc, path) for loc in where), (where, path)
        # Independently of the validator: the renderers refuse the value or write it safely.
        bypassed = replaced(dict(zip(ROOTS, samples(), strict=True))[root], path, value)
        try:
            rendered, scripts = render_with(root, bypassed)
        except DagsyncError:  # UnsafeValue, or the driver's own refusal
            event("validator bypassed: refused by a renderer")
            return
        event("validator bypassed: rendered and run")
    else:
        # Accepted: the value has the field's documented syntax; it must arrive literally.
        event("accepted: rendered and run")
        assert not any(c in value for c in "\r\n\x00"), value
        rendered, scripts = render_with(root, model)
    sh_n(*scripts)
    nft_check(rendered["host firewall"])
    Path(CANARY).unlink(missing_ok=True)
    run_stubbed(*scripts, sandbox=tmp_path)
    assert not Path(CANARY).exists()
    code, stderr = run_job(rendered["backup job"], tmp_path)
    assert code in (0, 2), stderr
    if path[:2] == ("mail", "external_forwards") and isinstance(model, Client):
        forward = model.mail.external_forwards[0]
        expected = f"{forward.source}, {forward.target}"
        assert (
            postmap_lookup("texthash", rendered[mc.FORWARDS], forward.source, tmp_path) == expected
        )
    if path == ("backup", "paths", LIST) and not os.path.lexists(value.replace("\x00", "")):
        assert f"declared path does not exist: {value}" in stderr


# --- renderers alone, with what the validator refuses -----------------------------------------


def _spec(paths: tuple[str, ...]) -> job.JobSpec:
    return job.JobSpec(
        "alpine-books/shop1",
        "ssh://borg@10.0.0.5:22/srv/borg/alpine-books/shop1",
        "shop1-",
        job.Retention(Frequency.DAILY, 7),
        paths,
        (),
        job.EXCLUDES,
        (job.DatabaseDump(DbEngine.MARIADB, "shop"),),
        "02:30",
        22,
    )


@pytest.mark.parametrize(
    "name",
    [
        "uploads$(touch {canary})",
        "uploads`touch {canary}`",
        'up"loads$(touch {canary})',
        "up'loads;touch {canary}",
        "up loads\ntouch {canary}",
        "uploads*",
    ],
)
def test_backup_job_takes_a_hostile_path_literally_and_never_runs_it(
    name: str, tmp_path: Path
) -> None:
    """The known hole: `backup.paths` was pasted into the job script; a path that passes the
    renderer (validator bypassed) is one literal argument of borg."""
    canary = tmp_path / "canary"
    folder = tmp_path / "srv" / name.format(canary=canary)
    folder.mkdir(parents=True)
    script = job.render_job(_spec((str(folder),)))
    sh_n(script)
    code, stderr = run_job(script, tmp_path)
    assert code == 0, stderr
    assert not canary.exists()
    args = (tmp_path / "borg-create.args").read_text().split("\0")
    assert str(folder) in args
    code, stderr = run_job(job.render_job(_spec((str(folder) + "-gone",))), tmp_path)
    assert code == 2
    assert not canary.exists()
    assert f"declared path does not exist: {folder}-gone" in stderr


@pytest.mark.parametrize(
    ("forward", "message"),
    [
        (
            mc.Forward("claire.martin@alpine-books.example", "out@mail.example", "velo-savoie"),
            "a domain of client alpine-books",
        ),
        (
            mc.Forward("boss@nobody.example", "out@mail.example", "alpine-books"),
            "no client's hosted domain",
        ),
    ],
)
def test_forward_renderer_refuses_a_forward_crossing_clients(
    forward: mc.Forward, message: str
) -> None:
    owners = mc.domain_owners([mc.DomainQuota("alpine-books.example", "alpine-books", 25600)])
    with pytest.raises(mc.CrossTenant, match=message):
        mc.render_forwards([forward], owners)


@pytest.mark.parametrize(
    "value",
    [
        "claire@alpine-books.example, attacker@evil.example",
        "claire@alpine-books.example\nattacker@evil.example claire",
        "claire@alpine-books.example attacker@evil.example",
        "#claire@alpine-books.example",
    ],
)
def test_a_comma_or_newline_in_a_forward_never_adds_recipients(value: str) -> None:
    owners = {"alpine-books.example": "alpine-books"}
    with pytest.raises(UnsafeValue):
        mc.render_forwards(
            [mc.Forward("claire@alpine-books.example", value, "alpine-books")], owners
        )
    with pytest.raises(UnsafeValue):
        mc.render_forwards([mc.Forward(value, "out@mail.example", "alpine-books")], owners)
    forward = {"source": "claire.martin@alpine-books.example", "target": value}
    data = sample_client()
    data["mail"]["external_forwards"] = [forward]
    with pytest.raises(ValidationError) as refused:
        Client.model_validate(data)
    assert locations(refused.value) == {("mail", "external_forwards", LIST, "target")}


def test_domains_renderer_refuses_one_domain_for_two_clients() -> None:
    quotas = [
        mc.DomainQuota("alpine-books.example", "alpine-books", 25600),
        mc.DomainQuota("alpine-books.example", "velo-savoie", 25600),
    ]
    with pytest.raises(mc.CrossTenant, match="declared by clients alpine-books and velo-savoie"):
        mc.render_domains(quotas)


@pytest.mark.parametrize(
    "domain", ["a.example:::::::x", "a.example\nb.example", "a example", "A.example"]
)
def test_domains_renderer_refuses_a_domain_that_would_split_a_line(domain: str) -> None:
    with pytest.raises(UnsafeValue):
        mc.render_domains([mc.DomainQuota(domain, "alpine-books", 25600)])
    with pytest.raises(UnsafeValue):
        mc.render_virtual_domains([domain])


@pytest.mark.parametrize(
    "key",
    [
        f"{SERVER_KEY} laptop\rssh-ed25519 AAAAattacker",
        f"{SERVER_KEY} laptop\nssh-ed25519 AAAAattacker",
        f"{SERVER_KEY} laptop\x00",
        f'command="sh" {SERVER_KEY}',
    ],
)
def test_key_line_renderers_refuse_a_key_that_is_not_one_line(key: str) -> None:
    client, server, settings = samples()
    bad = replaced(server, ("accounts", LIST, "keys", LIST), key)
    with pytest.raises(UnsafeValue, match="is not one OpenSSH public key line"):
        render_all(client, bad, settings)


def test_storage_key_line_refuses_an_unsafe_repository_path_or_key() -> None:
    line = job.restricted_key_line("/srv/borg/a/b", SERVER_KEY + " x", "a/b")
    assert (
        line
        == f'command="borg serve --restrict-to-repository /srv/borg/a/b",restrict {SERVER_KEY} dagsync-borg a/b'
    )
    for path in ["/srv/borg/$(reboot)", "/srv/borg/a b", "/srv/../etc", '/srv/"x']:
        with pytest.raises(UnsafeValue):
            job.restricted_key_line(path, SERVER_KEY, "a/b")
    with pytest.raises(UnsafeValue):
        job.restricted_key_line("/srv/borg/a/b", SERVER_KEY + " x\nssh-rsa AAAA", "a/b")
    with pytest.raises(UnsafeValue):
        job.restricted_key_line("/srv/borg/a/b", SERVER_KEY, "a/b\nx")


def test_cron_and_job_comments_refuse_a_line_break() -> None:
    with pytest.raises(UnsafeValue):
        job.render_cron("a/b\n* * * * * root reboot", "02:30", Frequency.DAILY)
    with pytest.raises(UnsafeValue):
        job.render_cron("a/b", "02:30\n* * * * * root reboot #", Frequency.DAILY)
    with pytest.raises(UnsafeValue):
        job.render_job(dataclasses.replace(_spec(("/srv/www",)), key="a/b\nreboot"))


def test_a_forged_server_key_is_left_out_of_the_storage_not_written_into_it() -> None:
    """A server's public key is read from the server: one it forged (a line break and a
    second key, an option) never reaches the storage's authorized_keys, and the other
    servers keep theirs."""
    spec = StorageSpec("sbg-backup-1", "10.0.0.5", 22, STORAGE_KEY, "/srv/borg")
    forged = f"{SERVER_KEY} x\nssh-rsa AAAAB3NzaC1yc2E attacker"
    desired = storage_desired(spec, {"a/web1": forged, "b/web2": SERVER_KEY})
    assert desired.lines == (
        'command="borg serve --restrict-to-repository /srv/borg/b/web2",restrict '
        f"{SERVER_KEY} dagsync-borg b/web2",
    )
