"""The Fabric/paramiko boundary: the only module that imports them.

A connection is a `fabric.Connection` over a socket we create ourselves with TCP_NODELAY
(paramiko does not set it, and every round trip would pay ~40 ms of Nagle + delayed ACK),
with `RejectPolicy` and, as the only known host key, the one pinned in git (or the override
file): an unknown or different key fails, it is never added.  Commands run on raw session
channels of the connection's transport (one exec per command, no pty), with timeouts.
"""

from __future__ import annotations

import io
import os
import re
import socket
import time
from functools import cache
from pathlib import Path
from typing import Any

import fabric
import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from paramiko.hostkeys import HostKeyEntry

from dagsync.errors import DagsyncError
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.shell import q
from dagsync.reconcile.transport.errors import (
    AuthenticationFailed,
    CommandTimeout,
    HostKeyRejected,
    Unreachable,
)
from dagsync.reconcile.transport.inventory import (
    SSH_KEY_ENV,
    SSH_KEY_FILE_ENV,
    SSH_USER_ENV,
    Credentials,
    Endpoint,
    Overrides,
)

_CHUNK = 65536


def _config() -> Any:
    """A configuration of its own for each connection (0.1 ms): invoke's Config merges its
    layers lazily and is not thread-safe, and hosts connect in parallel threads (a shared one
    raised "No attribute or config key found for 'gateway'" now and then).  No ~/.ssh/config,
    no system files: everything comes from git and the environment."""
    return fabric.Config(overrides={"load_ssh_configs": False, "run": {"hide": True}})


_BLOCK_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_HINT = (
    "expected an unencrypted OpenSSH or PEM private key, BEGIN and END lines included "
    "(`ssh-keygen -t ed25519 -N '' -f KEY`; a key with a passphrase belongs in ssh-agent)"
)


def _origin(credentials: Credentials) -> str:
    """Where the key comes from, for messages: a path or the variable's name, never the key."""
    if credentials.key_file is not None:
        return f"the SSH key {credentials.key_file}"
    return f"the SSH key in ${SSH_KEY_ENV}"


def normalise_key_text(text: str) -> str:
    """The key as OpenSSH writes it, from what a CI secret or a copy-paste gives: CRLF line
    ends, surrounding blanks, literal ``\\n`` escapes, or the whole key on one line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n").strip()
    match = _BLOCK_RE.fullmatch(text)
    if match is None or ":" in match.group(2):
        # not exactly one key (refused by the parser), or PEM with headers: as is
        return text + "\n"
    label, body = match.group(1), "".join(match.group(2).split())
    width = 70 if label == "OPENSSH PRIVATE KEY" else 64
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def _looks_like_a_path(text: str) -> bool:
    if "\n" in text or "-----" in text or len(text) >= 4096:
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long a name, a NUL: not a path (the message has it)
        return False


@cache
def _parse(data: str, origin: str) -> Any:
    """A paramiko key from its text; errors name ``origin`` and never contain the key: the
    parsers' own messages can quote it, so none of them is passed on."""

    raw = data.encode()
    problem = ""
    try:
        try:
            loaded: Any = serialization.load_ssh_private_key(raw, password=None)
        except ValueError:
            loaded = serialization.load_pem_private_key(raw, password=None)
    except TypeError:
        problem = "is protected by a passphrase: load it into ssh-agent instead"
    except Exception:
        problem = f"cannot be read: {_HINT}"
    if problem:
        raise DagsyncError(f"{origin} {problem}") from None
    classes = (
        (rsa.RSAPrivateKey, paramiko.RSAKey),
        (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
        (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
    )
    kind = next((cls for base, cls in classes if isinstance(loaded, base)), None)
    if kind is None:
        raise DagsyncError(f"{origin} is of an unsupported type: use ed25519, ECDSA or RSA")
    try:
        return kind.from_private_key(io.StringIO(data))
    except Exception:
        raise DagsyncError(f"{origin} cannot be read: {_HINT}") from None


def _private_key(credentials: Credentials) -> Any:
    """The parsed key of ``credentials``, or None for ssh-agent."""
    origin = _origin(credentials)
    if credentials.key_text is not None:
        text = credentials.key_text
        if _looks_like_a_path(text.strip()):
            raise DagsyncError(
                f"${SSH_KEY_ENV} holds a file name, not a key: it must hold the private key's "
                f"text (as a CI secret gives it); for a path, set ${SSH_KEY_FILE_ENV} instead"
            )
        return _parse(normalise_key_text(text), origin)
    if credentials.key_file is not None:
        try:
            text = credentials.key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
            raise DagsyncError(f"{origin} cannot be read ({reason})") from None
        return _parse(normalise_key_text(text), origin)
    return None


def credentials(default_user: str, overrides: Overrides) -> Credentials:
    """User and key: the environment first, then the override file, then the company
    settings' user with ssh-agent.  A key that cannot be used is refused here, before any
    host is contacted, with a message that never quotes it."""
    user = os.environ.get(SSH_USER_ENV) or overrides.ssh_user or default_user
    text = os.environ.get(SSH_KEY_ENV) or None
    named = os.environ.get(SSH_KEY_FILE_ENV) or None
    if text is not None and named is not None:
        raise DagsyncError(
            f"both ${SSH_KEY_ENV} (the key's text) and ${SSH_KEY_FILE_ENV} (a path) are set: "
            "set only one"
        )
    if text is not None:
        creds = Credentials(user, None, text)
    else:
        key_file = Path(named) if named else overrides.ssh_key
        if key_file is not None and not key_file.is_file():
            origin = f"${SSH_KEY_FILE_ENV}" if named else f"the override file {overrides.path}"
            raise DagsyncError(f"SSH key {key_file} does not exist (from {origin})")
        creds = Credentials(user, key_file)
    check_key(creds)
    return creds


def check_key(credentials: Credentials) -> None:
    """Raise a DagsyncError (naming where the key comes from, never quoting it) if the key of
    ``credentials`` cannot be used."""
    _private_key(credentials)


def _known_name(endpoint: Endpoint) -> str:
    return endpoint.address if endpoint.port == 22 else f"[{endpoint.address}]:{endpoint.port}"


def _pin(client: Any, endpoint: Endpoint) -> None:
    entry = HostKeyEntry.from_line(f"{_known_name(endpoint)} {endpoint.host_key}")
    if entry is None or entry.key is None:
        raise HostKeyRejected(f"the pinned host key of {endpoint.address} cannot be read")
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.get_host_keys().add(_known_name(endpoint), entry.key.get_name(), entry.key)


def _socket(endpoint: Endpoint, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((endpoint.address, endpoint.port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(f"cannot connect to {endpoint.address}:{endpoint.port}: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Connection:
    """One open SSH connection to one host."""

    def __init__(self, endpoint: Endpoint, credentials: Credentials, timeout: float) -> None:
        self.endpoint = endpoint
        self.user = credentials.user
        kwargs: dict[str, Any] = {
            "look_for_keys": False,
            "allow_agent": credentials.key_file is None and credentials.key_text is None,
            "banner_timeout": timeout,
            "auth_timeout": timeout,
            "channel_timeout": timeout,
        }
        key = _private_key(credentials)
        if key is not None:
            kwargs["pkey"] = key
        self._conn = fabric.Connection(
            endpoint.address,
            user=credentials.user,
            port=endpoint.port,
            config=_config(),
            connect_timeout=timeout,
            connect_kwargs=kwargs,
        )
        _pin(self._conn.client, endpoint)
        self._timeout = timeout

    def open(self) -> None:
        where = f"{self.endpoint.address}:{self.endpoint.port}"
        self._conn.connect_kwargs["sock"] = _socket(self.endpoint, self._timeout)
        try:
            self._conn.open()
        except paramiko.BadHostKeyException as exc:
            raise HostKeyRejected(
                f"{where} presented host key {_fingerprint(exc.key)}, not the pinned "
                f"{_fingerprint(exc.expected_key)} ({self.endpoint.source}): refusing to connect"
            ) from exc
        except paramiko.AuthenticationException as exc:
            raise AuthenticationFailed(f"{where} refused user {self.user}: {exc}") from exc
        except paramiko.SSHException as exc:
            if "known_hosts" in str(exc):
                raise HostKeyRejected(
                    f"{where} did not present the pinned host key type "
                    f"({self.endpoint.host_key.split()[0]}, {self.endpoint.source}): {exc}"
                ) from exc
            raise Unreachable(f"SSH with {where} failed: {exc}") from exc
        except OSError as exc:
            raise Unreachable(f"SSH with {where} failed: {exc}") from exc

    def _wrap(self, command: str) -> str:
        return command if self.user == "root" else f"sudo -n sh -c {q(command)}"

    def _channel(self, command: str, timeout: float | None) -> Any:
        transport = self._conn.transport
        if transport is None or not transport.is_active():
            raise Unreachable(f"the connection to {self.endpoint.address} is closed")
        try:
            channel = transport.open_session(timeout=self._timeout)
            channel.settimeout(timeout)
            channel.exec_command(self._wrap(command))
        except (paramiko.SSHException, OSError) as exc:
            raise Unreachable(f"{self.endpoint.address}: cannot start a command: {exc}") from exc
        return channel

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float | None = 120.0
    ) -> CommandResult:
        """Run one command; `stdin` is sent then closed.  Raises on transport failures only."""
        channel = self._channel(command, timeout)
        try:
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out = _drain(channel.recv)
            err = _drain(channel.recv_stderr)
            code = channel.recv_exit_status()
        except TimeoutError as exc:
            raise CommandTimeout(
                f"{self.endpoint.address}: a command ran over {timeout} s: {command[:80]!r}"
            ) from exc
        except (paramiko.SSHException, OSError) as exc:
            raise Unreachable(f"{self.endpoint.address}: connection lost: {exc}") from exc
        finally:
            channel.close()
        return CommandResult(code, out.decode(errors="replace"), err.decode(errors="replace"))

    def stream(self, command: str) -> Stream:
        """Start a long-running command whose stdin stays open (e.g. a lock holder)."""
        return Stream(self._channel(command, None), self.endpoint.address)

    def close(self) -> None:
        self._conn.close()


class Stream:
    """A command left running; closing its stdin ends it."""

    def __init__(self, channel: Any, address: str) -> None:
        self._channel = channel
        self._address = address
        self._buffer = b""

    def readline(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimeout(f"{self._address}: no answer in {timeout} s")
            self._channel.settimeout(remaining)
            try:
                chunk = self._channel.recv(_CHUNK)
            except TimeoutError as exc:
                raise CommandTimeout(f"{self._address}: no answer in {timeout} s") from exc
            if not chunk:
                break
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    def read_rest(self, timeout: float) -> tuple[str, int]:
        self._channel.settimeout(timeout)
        rest = self._buffer + _drain(self._channel.recv)
        return rest.decode(errors="replace"), self._channel.recv_exit_status()

    def close(self, timeout: float = 10.0) -> int:
        """Close stdin and wait for the command to end; its exit code."""
        try:
            self._channel.settimeout(timeout)
            self._channel.shutdown_write()
            _drain(self._channel.recv)
            return int(self._channel.recv_exit_status())
        except (TimeoutError, OSError, paramiko.SSHException):
            return -1
        finally:
            self._channel.close()


def _drain(recv: Any) -> bytes:
    parts = []
    while chunk := recv(_CHUNK):
        parts.append(chunk)
    return b"".join(parts)


def _fingerprint(key: Any) -> str:
    return f"{key.get_name()} {key.fingerprint}" if key is not None else "(none)"


def connect(endpoint: Endpoint, credentials: Credentials, timeout: float) -> Connection:
    """An open connection; raises Unreachable, HostKeyRejected or AuthenticationFailed."""
    connection = Connection(endpoint, credentials, timeout)
    try:
        connection.open()
    except BaseException:
        connection.close()
        raise
    return connection
