"""Applying one server's backup changes: generate its key and passphrase, initialise its
repository, write its files.

The key and the passphrase are generated on the server, never overwritten (a new passphrase
would lock the server out of its repository); the job script and cron file are written
atomically (the job script checked with `sh -n` first); `borg init` creates the repository
on the storage if missing.  :func:`ordered` sorts a phase's changes
(`resource.PREPARE` before the storage authorises the key, `resource.FINISH` after);
:func:`read_secrets_command` reads back what the escrow copy needs.  The escrow change itself
is done by the driver, which writes locally.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagsync.reconcile.backup import job
from dagsync.reconcile.core import Change
from dagsync.reconcile.resource import CommandResult, Executor, Outcome, Status
from dagsync.reconcile.shell import atomic_write, join, q, script


def _outcome(change: Change, result: CommandResult) -> Outcome:
    if result.ok:
        return Outcome(change, Status.APPLIED)
    return Outcome(
        change, Status.FAILED, f"exit code {result.exit_code}: {result.stderr.strip()[-500:]}"
    )


def _generate_passphrase() -> str:
    path = q(job.PASSPHRASE_FILE)
    return script(
        [
            "umask 077",
            f"mkdir -p {q(job.CONFIG_DIR)}",
            f"chmod 0700 {q(job.CONFIG_DIR)}",
            # Never overwrite: a new passphrase would lock the server out of its repository.
            f"if [ ! -s {path} ]; then head -c 32 /dev/urandom | base64 -w0 > {path}.tmp "
            f"&& chmod 0600 {path}.tmp && mv -f {path}.tmp {path}; fi",
        ]
    )


def _generate_key(key: str) -> str:
    path = job.SSH_KEY_FILE
    return script(
        [
            "umask 077",
            f"mkdir -p {q(job.CONFIG_DIR)}",
            f"chmod 0700 {q(job.CONFIG_DIR)}",
            f"if [ ! -s {q(path)} ]; then rm -f {q(path)}.pub; "
            + join(
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"dagsync-borg {key}",
                "-f",
                path,
            )
            + "; fi",
        ]
    )


def init_command(repository: str, port: int) -> str:
    return (
        job.env_prefix(repository, port)
        + 'borg init --encryption=repokey-blake2 --make-parent-dirs "$BORG_REPO"'
    )


def _write_file(change: Change) -> tuple[str, bytes]:
    p = change.payload
    content = str(p["content"]).encode()
    check = 'sh -n "$tmp"' if p["path"] == job.JOB_FILE else None
    return atomic_write(
        str(p["path"]),
        content,
        mode=str(p["mode"]),
        dir_mode="0700" if str(p["path"]).startswith(job.CONFIG_DIR) else "0755",
        check=check,
    ), content


def apply_change(executor: Executor, change: Change) -> Outcome:
    """One server change; the escrow change is done by the driver (it writes locally)."""
    p = change.payload
    if change.resource == "passphrase":
        return _outcome(change, executor.run(_generate_passphrase()))
    if change.resource == "ssh key":
        return _outcome(change, executor.run(_generate_key(str(p["key"]))))
    if change.resource == "repository":
        return _outcome(
            change, executor.run(init_command(str(p["repository"]), int(p["port"])), timeout=300)
        )
    command, content = _write_file(change)
    return _outcome(change, executor.run(command, stdin=content))


def read_secrets_command(repository: str, port: int) -> str:
    """Prints the passphrase then the repository key (for the escrow copy only)."""
    return (
        f"cat {q(job.PASSPHRASE_FILE)} && printf '\\n@@borg-key@@\\n' && "
        + job.env_prefix(repository, port)
        + "borg key export ::"
    )


def split_secrets(stdout: str) -> tuple[str, str]:
    passphrase, sep, key = stdout.partition("\n@@borg-key@@\n")
    if not sep or not passphrase.strip() or "BORG_KEY" not in key:
        raise ValueError("the passphrase or the repository key could not be read")
    return passphrase.strip(), key.strip() + "\n"


def ordered(changes: Sequence[Change], phase: Sequence[str]) -> list[Change]:
    return sorted(
        (c for c in changes if c.resource in phase), key=lambda c: phase.index(c.resource)
    )
