"""The TLS resource without a host: certificate facts parsed from openssl's own output, the
30-day window, and which issuer gets an ACME change and which only a note."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from dagsync.reconcile.appstack import tls
from dagsync.reconcile.core import Action, Change, DiffOptions, Note, Unknown
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.run import Selection
from dagsync.reconcile.shell import UnsafeValue
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
WWW, BARE = "www.alpine-books.example", "alpine-books.example"
PEBBLE = "https://10.9.0.2:14000/dir"

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def openssl_facts(tmp: Path, subject: str, names: list[str], days: int) -> str:
    """What the read prints for one certificate: its PEM, as made by openssl."""
    cert, key = tmp / "c.pem", tmp / "k.pem"
    san = "subjectAltName=" + ",".join(f"DNS:{n}" for n in names)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", str(days), "-subj", subject, "-addext", san,
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert.read_text() + "\n"


def block(domain: str, facts: str) -> str:
    return f"cert {domain.encode().hex()}\n{facts}end\n"


def desired(issuer: str = "letsencrypt", acme: tuple[tuple[str, str], ...] = ()) -> tls.TlsDesired:
    from dataclasses import replace

    repo = load_repository(REPO, validate=False)
    inputs = server_inputs(repo, Selection(servers=("alpine-books/shop1",)), NOW)[0]
    server = inputs.server
    vhost = server.vhosts[0].model_copy(update={"tls": server.vhosts[0].tls.model_copy(  # type: ignore[union-attr]
        update={"issuer": issuer})})  # fmt: skip
    inputs = replace(inputs, server=server.model_copy(update={"vhosts": [vhost]}), acme=acme)
    state, notes = tls.desired(inputs)
    assert notes == ()
    return state


@needs_openssl
def test_a_certificate_is_read_from_openssls_output(tmp_path: Path) -> None:
    facts = openssl_facts(tmp_path, "/CN=Pebble Intermediate CA 1a2b3c", [WWW, BARE], 90)
    observed = tls.parse(CommandResult(0, block(WWW, facts), ""))
    assert isinstance(observed, tls.TlsObserved)
    [cert] = observed.certificates
    assert (cert.domain, cert.names) == (WWW, (WWW, BARE))
    assert cert.issuer == "CN=Pebble Intermediate CA 1a2b3c" and not cert.placeholder
    end = dt.datetime.fromisoformat(cert.not_after)
    assert dt.timedelta(days=89) < end - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)


@needs_openssl
def test_the_placeholder_made_by_the_vhosts_apply_is_recognised(tmp_path: Path) -> None:
    from dagsync.reconcile.appstack import vhosts

    facts = openssl_facts(tmp_path, "/CN=" + vhosts.PLACEHOLDER, [WWW], 2)
    observed = tls.parse(CommandResult(0, block(WWW, facts), ""))
    assert isinstance(observed, tls.TlsObserved) and observed.certificates[0].placeholder


@pytest.mark.parametrize(
    "stdout",
    [
        "cert 7777\nunreadable\nend\n",
        "cert zz\nend\n",
        "cert 7777\nnotAfter=Dec  7 12:00:00 2031 GMT\n",  # cut short
        "garbage\n",
    ],
)
def test_an_unreadable_certificate_is_unknown(stdout: str) -> None:
    assert isinstance(tls.parse(CommandResult(0, stdout, "")), Unknown)


def test_no_tls_folder_is_no_certificate() -> None:
    assert tls.parse(CommandResult(0, "", "")) == tls.TlsObserved(())


def seen(names: tuple[str, ...] = (WWW, BARE), days: int = 60, issuer: str = "CN=Pebble") -> object:
    end = (NOW + dt.timedelta(days=days)).isoformat()
    return tls.TlsObserved((tls.Seen(WWW, names, issuer, end, "AA:BB"),))


def diff(want: tls.TlsDesired, have: object) -> list[object]:
    return list(tls.diff(want, have, DiffOptions()))  # type: ignore[arg-type]


def test_letsencrypt_without_a_certificate_is_issued_from_its_public_directory() -> None:
    [change] = diff(desired(), tls.TlsObserved(()))
    assert isinstance(change, Change) and change.action is Action.CREATE
    assert change.payload == {
        "domain": WWW,
        "names": [WWW, BARE],
        "directory": tls.ACME_DIRECTORIES["letsencrypt"],
    }


def test_the_override_points_an_issuer_at_the_test_ca() -> None:
    [change] = diff(
        desired(acme=(("letsencrypt", PEBBLE),)), seen(issuer="CN=" + tls.PLACEHOLDER_MARK)
    )
    assert isinstance(change, Change) and change.payload["directory"] == PEBBLE


def test_a_valid_certificate_for_exactly_the_names_gives_nothing() -> None:
    assert diff(desired(), seen(days=31)) == []


def test_within_30_days_plan_warns_and_an_acme_issuer_renews() -> None:
    note, change = diff(desired(), seen(days=29))
    end = (NOW + dt.timedelta(days=29)).date()
    assert note == Note("tls", f"{WWW}: the certificate expires on {end}, within 30 days")
    assert isinstance(change, Change) and change.summary == f"renew {WWW} from letsencrypt"


def test_an_escrow_issuer_only_warns() -> None:
    [note] = diff(desired("sectigo"), seen(days=10))
    assert isinstance(note, Note) and "within 30 days" in note.text
    [note] = diff(desired("ovh"), tls.TlsObserved(()))
    assert note == Note(
        "tls", f"{WWW}: no certificate (ovh, from the escrow: delivery not managed yet)"
    )


def test_names_that_differ_are_reissued() -> None:
    [change] = diff(desired(), seen(names=(WWW,)))
    assert isinstance(change, Change) and change.action is Action.UPDATE
    assert [d.text for d in change.details] == [f"DNS:{BARE}"]


@pytest.mark.parametrize(
    ("domain", "directory"),
    [
        ("www.example; rm -rf /", PEBBLE),
        ("www.example", "https://x/dir --config /tmp/evil"),
        ("www.example", "http://10.0.0.1/dir"),
        ("www.example", "https://10.0.0.1/dir'$(id)'"),
    ],
)
def test_the_issue_script_refuses_a_hostile_name_or_directory(domain: str, directory: str) -> None:
    with pytest.raises(UnsafeValue):
        tls.issue_script(domain, [domain], directory)


@pytest.mark.parametrize(
    "url",
    [
        "https://acme-staging-v02.api.letsencrypt.org/directory",  # a public CA
        "https://8.8.8.8:14000/dir",
        "http://10.0.0.2:14000/dir",
        "https://10.0.0.2:14000/dir?x=1",
        "https://10.0.0.2:14000/d ir",
    ],
)
def test_an_override_may_point_an_issuer_only_at_a_test_ca(tmp_path: Path, url: str) -> None:
    import json

    from dagsync.errors import DagsyncError
    from dagsync.reconcile.transport.inventory import load_overrides

    path = tmp_path / "hosts.json"
    path.write_text(json.dumps({"version": 1, "acme": {"letsencrypt": url}}))
    with pytest.raises(DagsyncError, match="ACME directory"):
        load_overrides(path)
    path.write_text(json.dumps({"version": 1, "acme": {"letsencrypt": PEBBLE}}))
    assert load_overrides(path).acme == (("letsencrypt", PEBBLE),)


def test_the_engine_gives_the_override_files_acme_directory_to_the_desired_state() -> None:
    from dagsync.reconcile.hosts.work import works_from_repository
    from dagsync.reconcile.transport.inventory import Overrides

    repo = load_repository(REPO, validate=False)
    overrides = Overrides(acme=(("ovh", PEBBLE),))  # shop1's vhost is issued by `ovh`
    [work] = works_from_repository(repo, Selection(servers=("alpine-books/shop1",)), overrides, NOW)
    assert work.desired is not None
    [want] = dict(work.desired.states)["tls"].certificates
    assert (want.domain, want.issuer, want.directory) == (WWW, "ovh", PEBBLE)
