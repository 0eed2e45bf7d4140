"""Debian's pebble (an ACME test CA) running in a test host, for certificate tests.

    ca = start(lab["acme"], names={"www.shop.example": web.address})
    ca.directory    # https://<acme address>:14000/dir, for the override file's "acme"
    ca.trust(web)   # the web host's certbot trusts pebble's HTTPS listener
    ca.roots()      # PEM of the root that signs the certificates pebble issues

Pebble's own HTTPS listener gets a certificate from a throw-away CA made here (openssl), for
the acme host's address.  Pebble checks HTTP-01 challenges on port 80 of each name, resolved
through the acme host's own /etc/hosts.  The process lives in the acme host's namespaces and
ends with it.
"""

from __future__ import annotations

import json
import shlex
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.system import TestHostsError

ACME_PORT = 14000
MANAGEMENT_PORT = 15000
_READY = 30.0  # seconds pebble may take to listen on a loaded machine


@dataclass(frozen=True)
class Pebble:
    host: TestHost
    folder: Path  # in the acme host's state folder (visible inside it)

    @property
    def directory(self) -> str:
        return f"https://{self.host.address}:{ACME_PORT}/dir"

    @property
    def listener_ca(self) -> Path:
        return self.folder / "listener-ca.pem"

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.listener_ca))

    def trust(self, host: TestHost) -> None:
        """Add the listener's CA to `host`'s system store (its own /etc), for certbot."""
        pem = shlex.quote(self.listener_ca.read_text())
        bundle = "/etc/ssl/certs/ca-certificates.crt"
        host.run(f"printf '%s' {pem} >> {bundle}", check=True)

    def roots(self) -> str:
        """The root certificate that issued certificates chain to (PEM)."""
        url = f"https://{self.host.address}:{MANAGEMENT_PORT}/roots/0"
        with urllib.request.urlopen(url, context=self.context(), timeout=10) as response:
            return str(response.read().decode())


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _listener_certificate(folder: Path, address: str) -> None:
    ca_key, ca = folder / "listener-ca.key", folder / "listener-ca.pem"
    key, csr, cert = folder / "listener.key", folder / "listener.csr", folder / "listener.pem"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=pebble listener test CA",
             "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    _openssl("req", *ec, "-subj", "/CN=pebble", "-keyout", str(key), "-out", str(csr))
    ext = folder / "san.ext"
    ext.write_text(f"subjectAltName=IP:{address}\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip


def _wait(address: str, port: int) -> None:
    deadline = time.monotonic() + _READY
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TestHostsError(f"pebble did not listen on {address}:{port}")


def start(host: TestHost, names: Mapping[str, str]) -> Pebble:
    """Start pebble in `host`; `names` (DNS name -> address) go into its /etc/hosts."""
    folder = host.root / "pebble"
    folder.mkdir(exist_ok=True)
    _listener_certificate(folder, host.address)
    config = {
        "pebble": {
            "listenAddress": f"0.0.0.0:{ACME_PORT}",
            "managementListenAddress": f"0.0.0.0:{MANAGEMENT_PORT}",
            "certificate": str(folder / "listener.pem"),
            "privateKey": str(folder / "listener.key"),
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (folder / "config.json").write_text(json.dumps(config))
    entries = "".join(f"{address} {name}\n" for name, address in names.items())
    host.run(f"printf '%s' {shlex.quote(entries)} >> /etc/hosts", check=True)
    env = "PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0"
    where = shlex.quote(str(folder))
    host.run(
        f"cd {where} && {env} setsid pebble -config config.json >pebble.log 2>&1 </dev/null &",
        check=True,
    )
    _wait(host.address, ACME_PORT)
    _wait(host.address, MANAGEMENT_PORT)
    return Pebble(host, folder)
