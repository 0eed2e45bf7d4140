"""ClamAV on a test host: the EICAR test file dropped into a site's upload folder is found by
the scheduled scan's command and reported; a clean folder reports nothing; a malformed
signature database is an error, never a clean scan.  The signature is generated here (an MD5
hash signature of the EICAR string): no public database is downloaded."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator

import pytest

from dagsync.reconcile.security import antivirus
from dagsync.reconcile.security.install import Step
from dagsync.reconcile.shell import atomic_write
from dagsync.sandbox.security_lab import LabError, run_step
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import testhosts
from dagsync.testing.hosts.network import unique_network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-security")]

# The EICAR test string, in two halves so that this file itself is not the test file.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
SIGNATURES = f"{antivirus.DATABASE}/dagsync-test.hdb"
SITES = ("/srv",)


def _put(host: TestHost, path: str, content: bytes) -> None:
    run_step(host, Step(f"write {path}", atomic_write(path, content), content))


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestHost]:
    if reason := skip_reason() or (shutil.which("clamscan") is None and "install clamav"):
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("clamav")
    with testhosts(names=["w1"], state_dir=base / "th", network=unique_network("clam")) as lab:
        w1 = lab["w1"]
        signature = f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Dagsync.Test.EICAR\n"
        _put(w1, SIGNATURES, signature.encode())
        for f in antivirus.files(SITES, "managed by dagsync (test)"):
            _put(w1, f.path, f.content.encode())
        run_step(w1, antivirus.check_step())
        _put(w1, "/srv/shop/index.html", b"<h1>shop</h1>\n")
        yield w1


def _scan(host: TestHost) -> antivirus.Detections:
    return antivirus.parse_scan(run_step(host, antivirus.scan_step(SITES)))


def test_a_clean_site_reports_nothing(host: TestHost) -> None:
    assert _scan(host) == antivirus.Detections()


def test_the_eicar_file_in_an_upload_folder_is_found_and_reported(host: TestHost) -> None:
    _put(host, "/srv/shop/uploads/invoice.pdf", EICAR)
    found = _scan(host)
    assert found.found == (("/srv/shop/uploads/invoice.pdf", "Dagsync.Test.EICAR.UNOFFICIAL"),)
    assert found.lines("shop/w1") == [
        "shop/w1: Dagsync.Test.EICAR.UNOFFICIAL found in /srv/shop/uploads/invoice.pdf"
    ]
    kept = host.run(f"cat {antivirus.LAST_SCAN}", check=True).stdout
    assert antivirus.parse_scan(kept) == found  # what `dagsync status` reads
    host.run("rm /srv/shop/uploads/invoice.pdf", check=True)


def test_the_daily_scan_is_scheduled_with_the_same_command(host: TestHost) -> None:
    line = host.run(f"cat {antivirus.CRON}", check=True).stdout.splitlines()[1]
    assert line.startswith("0 3 * * * root ") and "clamscan -r --infected" in line


def test_a_malformed_signature_database_is_an_error_not_a_clean_scan(host: TestHost) -> None:
    broken = f"{antivirus.DATABASE}/broken.hdb"
    _put(host, broken, b"this is not a signature\n")
    try:
        with pytest.raises(LabError, match="clamscan database check"):
            run_step(host, antivirus.check_step())
        with pytest.raises(LabError, match="clamscan"):
            run_step(host, antivirus.scan_step(SITES))
        kept = host.run(f"cat {antivirus.LAST_SCAN}", check=True).stdout
        assert antivirus.parse_scan(kept).error == "clamscan exit 2"
    finally:
        host.run(f"rm -f {broken}", check=True)
