"""Applying the shared-mail configuration on one mail host: stage, check, install, reload.

The change's files travel as a tar archive on the script's stdin (:func:`bundle`); the script
(:func:`apply_script`) stages them beside a copy of the live Dovecot and Postfix
configuration, checks the candidate (`doveconf -n -c`, `postconf -c DIR -n` without a
warning, `postmap -q` on each table), and only then moves the files into place and reloads
the services that run.  The first failure stops it, and nothing is activated.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping, Sequence
from typing import Any

from dagsync.reconcile.core import Change
from dagsync.reconcile.mail import files as mc
from dagsync.reconcile.resource import Executor, Outcome, Status
from dagsync.reconcile.shell import q

APPLY_TIMEOUT = 120.0


def bundle(files: Sequence[Sequence[str]]) -> bytes:
    """The files as a tar archive (`new/<path>`), sent on the apply script's stdin."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in files:
            data = content.encode()
            info = tarfile.TarInfo("new" + path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _check_table(kind: str, path: str, probe: str) -> str:
    return (
        f'postmap -q {q(probe)} {kind}:"$stage/new"{q(path)} >/dev/null 2>"$stage/err" '
        f'|| true; if [ -s "$stage/err" ]; then cat "$stage/err" >&2; exit 4; fi'
    )


def apply_script(payload: Mapping[str, Any]) -> str:
    """Stage, check, install, reload: one script, stopped by the first failure."""
    main = " ".join(q(f"{n}={v}") for n, v in payload["main"])
    master = " ".join(q(f"{n}={v}") for n, v in payload["master"])
    params = " ".join(q(f"{n}={v}") for n, v in payload["master_params"])
    installs = "\n".join(
        f'mkdir -p {q(path.rsplit("/", 1)[0])} && mv -f "$stage/new"{q(path)} {q(path)}'
        for path, _ in payload["files"]
    )
    return f"""set -e
umask 022
stage=$(mktemp -d /etc/.dagsync-mail.XXXXXX)
trap 'rm -rf "$stage"' EXIT
tar -x -C "$stage" -f -
cp -a /etc/dovecot "$stage/dovecot"
cp "$stage/new"{q(mc.DOVECOT_CONF)} "$stage/dovecot/conf.d/"
doveconf -n -c "$stage/dovecot/dovecot.conf" >/dev/null
cp -a /etc/postfix "$stage/postfix"
postconf -c "$stage/postfix" -e {main}
postconf -c "$stage/postfix" -M {master}
postconf -c "$stage/postfix" -P {params}
postconf -c "$stage/postfix" -n >/dev/null 2>"$stage/err"
if [ -s "$stage/err" ]; then cat "$stage/err" >&2; exit 4; fi
{_check_table("cidr", mc.CLIENT_ACCESS, "192.0.2.1")}
{_check_table("regexp", mc.CC_CHECKS, "Cc: a@example.org")}
{_check_table("texthash", mc.FORWARDS, "a@example.org")}
{installs}
mv -f "$stage/postfix/main.cf" /etc/postfix/main.cf
mv -f "$stage/postfix/master.cf" /etc/postfix/master.cf
mkdir -p {q(mc.QUOTA_DIR)}
if doveadm reload >/dev/null 2>&1; then echo 'dovecot reloaded'; else echo 'dovecot not running'; fi
if postfix status >/dev/null 2>&1; then postfix reload >/dev/null 2>&1; echo 'postfix reloaded'; \
else echo 'postfix not running'; fi
"""


def apply(executor: Executor, changes: Sequence[Change]) -> list[Outcome]:
    outcomes = []
    for change in changes:
        payload = change.payload
        result = executor.run(
            apply_script(payload), stdin=bundle(payload["files"]), timeout=APPLY_TIMEOUT
        )
        if result.ok:
            outcomes.append(
                Outcome(change, Status.APPLIED, " ".join(result.stdout.split("\n")).strip())
            )
        else:
            outcomes.append(
                Outcome(
                    change,
                    Status.FAILED,
                    f"exit code {result.exit_code}, "
                    f"nothing activated: {result.stderr.strip()[-500:]}",
                )
            )
    return outcomes
