"""The exporters host resource's pure parts: which exporters each server runs and with which
arguments, the parser of the fixed read, and the diff (missing, stopped, misconfigured and
unwanted exporters)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dagsync.model.exporters import ALL_JOBS
from dagsync.reconcile.core import Action, Change, DiffOptions, Unknown
from dagsync.reconcile.hosts import exporters
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.observer_reads import request_for, table
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import Selection
from dagsync.validate.repository import Repository, load_repository

PROJECT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def repo() -> Repository:
    return load_repository(PROJECT, validate=False)


def _desired(repo: Repository, client: str, server: str) -> exporters.ExportersDesired:
    (inputs,) = server_inputs(repo, Selection((client,), (server,)), NOW)
    return exporters.desired(inputs)[0]


def _hex(*argv: str) -> str:
    return ("\0".join(argv) + "\0").encode().hex()


def _output(
    running: dict[str, list[tuple[str, ...]]],
    installed: bool = True,
    addresses: tuple[str, ...] = ("127.0.0.1", "203.0.113.43"),
) -> str:
    lines = ["systemd no", *(f"addr\t{a}" for a in addresses)]
    for job in ALL_JOBS:
        lines.append(f"exporter\t{job}\t{'yes' if installed else 'no'}\t-")
        for args in running.get(job, []):
            lines.append(f"running\t{job}\t{_hex(exporters.binary(job), *args)}")
    return "\n".join(lines) + "\n"


def test_each_server_runs_the_exporters_its_supervision_calls_for_on_its_own_address(
    repo: Repository,
) -> None:
    shop1 = _desired(repo, "alpine-books", "shop1")
    assert [(e.job, e.args) for e in shop1.exporters] == [
        (
            "node",
            (
                "--web.listen-address=203.0.113.10:9100",
                "--collector.textfile.directory=/var/lib/prometheus/node-exporter",
            ),
        ),
        ("mysqld", ("--web.listen-address=203.0.113.10:9104",)),
        (
            "nginx",
            (
                "-web.listen-address=203.0.113.10:9113",
                "-nginx.scrape-uri=http://127.0.0.1/stub_status",
            ),
        ),
    ]
    prod1 = _desired(repo, "cime-conseil", "prod1")
    assert [e.job for e in prod1.exporters] == ["node", "postgres", "apache"]
    postgres = prod1.exporters[1]
    assert postgres.text.splitlines()[1:] == [
        'ARGS="--web.listen-address=198.51.100.20:9187"',
        "DATA_SOURCE_NAME='host=/run/postgresql user=prometheus dbname=postgres sslmode=disable'",
    ]


def test_the_read_is_one_fixed_script_the_observer_allows(repo: Repository) -> None:
    script = exporters.read(_desired(repo, "velo-savoie", "db1"))
    assert script == exporters.read(None)
    assert table()["exporters"].template == script
    assert request_for(script) == "exporters"


def test_the_parser_keeps_each_process_arguments_and_refuses_a_cut_output() -> None:
    args = ("--web.listen-address=203.0.113.43:9100", "--x")
    seen = exporters.parse(CommandResult(0, _output({"node": [args]}), ""))
    assert isinstance(seen, exporters.ExportersObserved)
    assert seen.seen["node"].running == (args,)
    assert seen.seen["mysqld"] == exporters.ExporterSeen(True, None, ())
    cut = "\n".join(_output({}).splitlines()[:3]) + "\n"
    assert isinstance(exporters.parse(CommandResult(0, cut, "")), Unknown)
    assert isinstance(exporters.parse(CommandResult(1, "", "boom")), Unknown)


def _changes(want: exporters.ExportersDesired, output: str) -> list[Change]:
    seen = exporters.parse(CommandResult(0, output, ""))
    assert isinstance(seen, exporters.ExportersObserved)
    return [c for c in exporters.diff(want, seen, DiffOptions()) if isinstance(c, Change)]


def test_missing_stopped_misconfigured_and_unwanted_exporters_are_drift(
    repo: Repository,
) -> None:
    want = _desired(repo, "velo-savoie", "db1")  # node and mysqld
    node, mysqld = want.exporters
    # not installed: installed, configured and started
    (first, second) = _changes(want, _output({}, installed=False))
    assert (first.action, first.payload["install"]) == (Action.CREATE, True)
    assert first.details[0].text == "install prometheus-node-exporter (Debian)"
    assert (second.resource, second.payload["install"]) == ("prometheus-mysqld-exporter", True)
    # configured but stopped, or run with other arguments; apache runs but is not wanted
    lines = _output({"node": [("--web.listen-address=:9100",)], "apache": [()]}).splitlines()
    sha = {node.job: node.sha256, mysqld.job: mysqld.sha256}
    configured = [
        f"exporter\t{ln.split(chr(9))[1]}\tyes\t{sha[ln.split(chr(9))[1]]}"
        if ln.startswith("exporter\t") and ln.split("\t")[1] in sha
        else ln
        for ln in lines
    ]
    changes = _changes(want, "\n".join(configured) + "\n")
    assert [(c.resource, c.action) for c in changes] == [
        ("prometheus-node-exporter", Action.UPDATE),
        ("prometheus-mysqld-exporter", Action.UPDATE),
        ("prometheus-apache-exporter", Action.DELETE),
    ]
    assert [d.text for d in changes[0].details] == [
        "restart it: it runs as `--web.listen-address=:9100`"
    ]
    assert [d.text for d in changes[1].details] == ["start it: it is not running"]
    # converged: nothing
    running = {"node": [node.args], "mysqld": [mysqld.args]}
    ok = [
        f"exporter\t{ln.split(chr(9))[1]}\tyes\t{sha[ln.split(chr(9))[1]]}"
        if ln.startswith("exporter\t") and ln.split("\t")[1] in sha
        else ln
        for ln in _output(running).splitlines()
    ]
    assert _changes(want, "\n".join(ok) + "\n") == []


def test_without_monitoring_in_the_policies_nothing_is_touched() -> None:
    want = exporters.ExportersDesired((), managed=False)
    assert _changes(want, _output({"node": [()]})) == []


def test_an_address_that_is_not_on_the_host_starts_nothing_and_says_so(
    repo: Repository,
) -> None:
    want = _desired(repo, "velo-savoie", "db1")
    seen = exporters.parse(CommandResult(0, _output({}, addresses=("10.0.0.5",)), ""))
    assert isinstance(seen, exporters.ExportersObserved)
    assert [n.text for n in exporters.diff(want, seen, DiffOptions())] == [
        "the server's address 203.0.113.43 is not on this host: its exporters would listen "
        "nowhere, none is installed or started (check `ips`)"
    ]
    nothing = exporters.parse(CommandResult(0, _output({}, addresses=()), ""))
    assert isinstance(nothing, Unknown)
