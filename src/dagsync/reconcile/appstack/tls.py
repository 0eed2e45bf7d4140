"""TLS certificates of the vhosts (CGV Art. 4, « Gestion des certificats SSL »).

Each TLS vhost of an nginx server has its certificate at `/etc/dagsync/tls/<domain>/`
(`fullchain.pem`, `privkey.pem`, root only), where its nginx file points.  The read gives,
for every certificate there, its names, issuer and expiry: facts, so that `plan` warns
30 days ahead whatever the issuer.

An ACME issuer (`letsencrypt`, or an issuer the override file points at a test CA such as
pebble) is served by Debian's certbot over HTTP-01, the challenge files going to the webroot
every vhost serves on port 80: a certificate is issued when there is none (or only the
placeholder that lets nginx start), reissued when the names differ, renewed within 30 days of
its expiry; the new files are copied into place, `nginx -t`, reload, and the previous ones
restored if the test fails.  Other issuers (ovh, sectigo, globalsign) deliver their
certificate from an escrow outside git: not managed yet, the facts and warnings are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from dagsync.reconcile.appstack import nginx
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Unknown
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Outcome,
    ServerInputs,
    Status,
)
from dagsync.reconcile.shell import UnsafeValue, q

KIND = "tls"
RENEW_DAYS = 30
ACME_DIRECTORIES = {"letsencrypt": "https://acme-v02.api.letsencrypt.org/directory"}


@dataclass(frozen=True)
class Wanted:
    domain: str
    names: tuple[str, ...]
    issuer: str
    directory: str | None  # the ACME directory; None: delivered from an escrow


@dataclass(frozen=True)
class TlsDesired:
    certificates: tuple[Wanted, ...]
    renew_before: str  # ISO 8601 (UTC): a certificate ending before this is renewed


@dataclass(frozen=True)
class Seen:
    domain: str
    names: tuple[str, ...]
    issuer: str
    not_after: str  # ISO 8601 (UTC)
    fingerprint: str

    @property
    def placeholder(self) -> bool:
        return PLACEHOLDER_MARK in self.issuer


PLACEHOLDER_MARK = "dagsync placeholder"


@dataclass(frozen=True)
class TlsObserved:
    certificates: tuple[Seen, ...]

    def of(self, domain: str) -> Seen | None:
        return next((c for c in self.certificates if c.domain == domain), None)


# --- desired -------------------------------------------------------------------------------


def desired(inputs: ServerInputs) -> tuple[TlsDesired, tuple[Note, ...]]:
    directories = {**ACME_DIRECTORIES, **dict(inputs.acme)}
    renew = (inputs.now.astimezone(dt.UTC) + dt.timedelta(days=RENEW_DAYS)).isoformat()
    server = inputs.server
    if not server.app_server or server.app_server.name.lower() != "nginx":
        return TlsDesired((), renew), ()
    out = []
    for vhost in server.vhosts:
        if vhost.tls is None:
            continue
        site = nginx.site(vhost.domain, vhost.aliases, vhost.document_root, True)
        issuer = vhost.tls.issuer
        out.append(Wanted(site.domain, site.names, issuer, directories.get(issuer)))
    return TlsDesired(tuple(out), renew), ()


# --- read ----------------------------------------------------------------------------------


def read(desired: TlsDesired | None) -> str:
    """The same script for every server: each certificate chain under the TLS folder (public
    PEM; the keys beside them are never read), its folder's name in hex; parsed here."""
    return f"""[ -d {nginx.TLS_DIR} ] || exit 0
for f in {nginx.TLS_DIR}/*/fullchain.pem; do
  [ -f "$f" ] || continue
  d=${{f%/fullchain.pem}}
  echo "cert $(printf '%s' "${{d##*/}}" | od -An -v -tx1 | tr -d ' \\n')"
  cat -- "$f" || exit 3
  echo; echo end
done
"""


def _block(domain: str, lines: Sequence[str]) -> Seen | None:
    """The facts of the chain's first certificate (the vhost's own), or None."""
    try:
        leaf = x509.load_pem_x509_certificates("\n".join(lines).encode())[0]
    except (ValueError, IndexError):
        return None
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(n.lower() for n in san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    end = leaf.not_valid_after_utc.isoformat()
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
    return Seen(domain, names, leaf.issuer.rfc4514_string(), end, fingerprint)


def parse(result: CommandResult) -> TlsObserved | Unknown:
    if not result.ok:
        why = result.stderr.strip()[:200]
        return Unknown(f"reading the certificates failed ({result.exit_code}): {why}")
    seen: list[Seen] = []
    lines = result.stdout.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        head = re.fullmatch(r"cert ((?:[0-9a-f]{2})+)", line)
        if head is None or "end" not in lines[i:]:
            return Unknown(f"unexpected line {line[:80]!r}")
        stop = lines.index("end", i)
        domain = bytes.fromhex(head.group(1)).decode(errors="backslashreplace")
        cert = _block(domain, lines[i + 1 : stop])
        if cert is None:
            return Unknown(f"the certificate of {domain[:60]!r} cannot be read")
        seen.append(cert)
        i = stop + 1
    return TlsObserved(tuple(seen))


def encode(observed: TlsObserved) -> Any:
    return [
        [c.domain, list(c.names), c.issuer, c.not_after, c.fingerprint]
        for c in observed.certificates
    ]


# --- diff ----------------------------------------------------------------------------------


def _issue(want: Wanted, action: Action, summary: str, details: tuple[Detail, ...]) -> Change:
    payload = {"domain": want.domain, "names": list(want.names), "directory": want.directory}
    return Change(KIND, action, f"{nginx.TLS_DIR}/{want.domain}", summary, details, payload)


def _one(want: Wanted, have: Seen | None, renew_before: str) -> list[Change | Note]:
    source = f"from {want.issuer}" if want.directory else f"{want.issuer}, from the escrow"
    if have is None or have.placeholder:
        if want.directory is None:
            text = f"{want.domain}: no certificate ({source}: delivery not managed yet)"
            return [Note(KIND, text)]
        details = tuple(Detail("+", f"DNS:{n}") for n in want.names)
        return [
            _issue(want, Action.CREATE, f"issue a certificate for {want.domain} {source}", details)
        ]
    if set(have.names) != set(want.names):
        details = tuple(Detail("-", f"DNS:{n}") for n in sorted(set(have.names) - set(want.names)))
        details += tuple(Detail("+", f"DNS:{n}") for n in sorted(set(want.names) - set(have.names)))
        if want.directory is None:
            return [Note(KIND, f"{want.domain}: the certificate's names differ from the vhost's")]
        return [_issue(want, Action.UPDATE, f"reissue {want.domain}: its names differ", details)]
    if have.not_after <= renew_before:
        day = have.not_after[:10]
        notes: list[Change | Note] = [
            Note(KIND, f"{want.domain}: the certificate expires on {day}, within {RENEW_DAYS} days")
        ]
        if want.directory is not None:
            notes.append(_issue(want, Action.UPDATE, f"renew {want.domain} {source}", ()))
        return notes
    return []


def diff(desired: TlsDesired, observed: TlsObserved, options: DiffOptions) -> list[Change | Note]:
    out: list[Change | Note] = []
    for want in desired.certificates:
        out += _one(want, observed.of(want.domain), desired.renew_before)
    return out


# --- apply ---------------------------------------------------------------------------------


def issue_script(domain: str, names: Sequence[str], directory: str) -> str:
    """certbot (HTTP-01 through the vhosts' webroot), then the new files in place, `nginx -t`
    and reload; on a failed test the previous files come back."""
    domain = nginx.server_name(domain)
    checked = [nginx.server_name(n) for n in names]
    if not re.fullmatch(r"https://[A-Za-z0-9.:\[\]/_-]+", directory):
        raise UnsafeValue(f"{directory[:60]!r} is not an ACME directory URL")
    live, dst = f"/etc/letsencrypt/live/{domain}", f"{nginx.TLS_DIR}/{domain}"
    argv = [
        "certbot", "certonly", "--non-interactive", "--agree-tos",
        "--register-unsafely-without-email", "--server", directory, "--webroot",
        "-w", nginx.ACME_WEBROOT, "--cert-name", domain, "--force-renewal", "--key-type", "ecdsa",
    ]  # fmt: skip
    for name in checked:
        argv += ["-d", name]
    certbot = " ".join(q(a) for a in argv)
    return f"""set -u
mkdir -p {q(nginx.ACME_WEBROOT)} && chmod 0755 {q(nginx.ACME_WEBROOT)} || exit 3
if ! {certbot} >/run/dagsync-certbot.log 2>&1; then
  tail -n 8 /run/dagsync-certbot.log >&2; rm -f /run/dagsync-certbot.log; exit 3
fi
rm -f /run/dagsync-certbot.log
umask 077
mkdir -p {q(dst)} && chmod 0700 {q(dst)} || exit 3
for f in fullchain privkey; do
  cp -L {q(live)}/"$f".pem {q(dst)}/."$f".new || exit 3
  if [ -e {q(dst)}/"$f".pem ]; then cp -p {q(dst)}/"$f".pem {q(dst)}/."$f".old; fi
done
mv -f {q(dst)}/.privkey.new {q(dst)}/privkey.pem && mv -f {q(dst)}/.fullchain.new {q(dst)}/fullchain.pem
if out=$(nginx -t 2>&1); then
  nginx -s reload || exit 4
  rm -f {q(dst)}/.*.old
  {_served_check(domain, dst)}
else
  for f in fullchain privkey; do
    if [ -e {q(dst)}/."$f".old ]; then mv -f {q(dst)}/."$f".old {q(dst)}/"$f".pem; fi
  done
  printf '%s\\n' "$out" | tail -n 5 >&2
  echo 'dagsync: nginx -t refused the new certificate; the previous one was restored' >&2
  exit 3
fi
"""


def _served_check(domain: str, dst: str) -> str:
    """Wait (up to 15 s) until nginx, reloading on its own time, serves the new certificate
    for `domain`; fail if it never does, so that "applied" means "served"."""
    fingerprint = "openssl x509 -noout -fingerprint -sha256"
    served = (
        f"openssl s_client -connect 127.0.0.1:443 -servername {q(domain)} </dev/null "
        f"2>/dev/null | {fingerprint} 2>/dev/null"
    )
    return (
        f"want=$({fingerprint} -in {q(dst)}/fullchain.pem); n=0\n"
        f'  until [ "$({served})" = "$want" ]; do\n'
        "    n=$((n + 1)); [ $n -le 60 ] || { echo 'dagsync: nginx reloaded but does not serve "
        "the new certificate' >&2; exit 5; }\n"
        "    sleep 0.25\n"
        "  done"
    )


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    outcomes = []
    for change in changes:
        p = change.payload
        script = issue_script(str(p["domain"]), [str(n) for n in p["names"]], str(p["directory"]))
        result = executor.run(script, timeout=300)
        why = "" if result.ok else (result.stderr.strip()[-600:] or f"exit code {result.exit_code}")
        outcomes.append(Outcome(change, Status.APPLIED if result.ok else Status.FAILED, why))
    return outcomes
