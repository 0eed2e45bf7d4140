"""The Fabric/paramiko boundary against a real SSH server on 127.0.0.1 (paramiko's server side,
in a thread; no root, no sshd): pinned host keys, refused users, commands with their output,
exit code, standard input and timeouts, the sudo wrapping, and the lock's long-running stream.
The server runs no shell: each command it receives is recorded and answered from a table."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dagsync.reconcile.transport import ssh
from dagsync.reconcile.transport.errors import (
    AuthenticationFailed,
    CommandTimeout,
    HostKeyRejected,
    Unreachable,
)
from dagsync.reconcile.transport.inventory import Credentials, Endpoint

Handler = Callable[[paramiko.Channel], int]


def _ed25519(path: Path) -> paramiko.PKey:
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def _public(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def reply(stdout: bytes = b"", stderr: bytes = b"", code: int = 0) -> Handler:
    def handle(channel: paramiko.Channel) -> int:
        if stdout:
            channel.sendall(stdout)
        if stderr:
            channel.sendall_stderr(stderr)
        return code

    return handle


def echo_stdin(channel: paramiko.Channel) -> int:
    data = b""
    while chunk := channel.recv(65536):
        data += chunk
    channel.sendall(b"got " + data)
    return 0


def hang(channel: paramiko.Channel) -> int:
    time.sleep(3.0)
    return 0


def holder(first: bytes) -> Handler:
    """Like the lock command: prints its first line, then lives until its stdin closes."""

    def handle(channel: paramiko.Channel) -> int:
        channel.sendall(first)
        while channel.recv(1024):
            pass
        return 0

    return handle


@dataclass
class Server(paramiko.ServerInterface):  # type: ignore[misc]
    host_key: paramiko.PKey
    client_key: paramiko.PKey
    users: tuple[str, ...] = ("root", "dag")
    handlers: dict[str, Handler] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (user, command)
    user: str = ""

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username in self.users and key.get_base64() == self.client_key.get_base64():
            self.user = username
            return int(paramiko.AUTH_SUCCESSFUL)
        return int(paramiko.AUTH_FAILED)

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return int(paramiko.OPEN_SUCCEEDED)
        return int(paramiko.OPEN_FAILED_UNKNOWN_CHANNEL_TYPE)

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode()
        self.seen.append((self.user, text))
        handler = self.handlers.get(text, reply(b"", b"sh: unknown command\n", 127))

        def run() -> None:
            time.sleep(0.05)  # let paramiko send its acceptance of the request first
            try:
                code = handler(channel)
                channel.send_exit_status(code)
            except (OSError, EOFError, paramiko.SSHException):
                pass
            finally:
                channel.close()

        threading.Thread(target=run, daemon=True).start()
        return True


@dataclass
class Lab:
    port: int
    server: Server
    client_key_file: Path
    host_key: paramiko.PKey
    transports: list[paramiko.Transport]

    def endpoint(self, host_key: str | None = None, port: int | None = None) -> Endpoint:
        pinned = host_key if host_key is not None else _public(self.host_key)
        return Endpoint("127.0.0.1", port or self.port, pinned, "declared")

    def creds(self, user: str = "root") -> Credentials:
        return Credentials(user, self.client_key_file)

    def connect(self, user: str = "root", timeout: float = 5.0) -> ssh.Connection:
        return ssh.connect(self.endpoint(), self.creds(user), timeout)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    host_key = _ed25519(tmp_path / "host_key")
    client_key = _ed25519(tmp_path / "id_ed25519")
    server = Server(host_key, client_key)
    listener = socket.create_server(("127.0.0.1", 0))
    transports: list[paramiko.Transport] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(host_key)
            transports.append(transport)
            try:
                transport.start_server(server=server)
            except (paramiko.SSHException, EOFError, OSError):
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield Lab(listener.getsockname()[1], server, tmp_path / "id_ed25519", host_key, transports)
    stop.set()
    thread.join(2.0)
    listener.close()
    for transport in transports:
        transport.close()


def test_a_command_returns_its_output_and_exit_code_as_root_unwrapped(lab: Lab) -> None:
    lab.server.handlers["uname -n"] = reply(b"web1\n", b"note\n", 3)
    connection = lab.connect()
    try:
        result = connection.run("uname -n", timeout=5.0)
    finally:
        connection.close()
    assert (result.exit_code, result.stdout, result.stderr) == (3, "web1\n", "note\n")
    assert lab.server.seen == [("root", "uname -n")]


def test_another_user_runs_each_command_through_sudo_quoted_whole(lab: Lab) -> None:
    wrapped = "sudo -n sh -c 'echo '\"'\"'a b'\"'\"' && id'"
    lab.server.handlers[wrapped] = reply(b"a b\nuid=0(root)\n")
    connection = lab.connect("dag")
    try:
        result = connection.run("echo 'a b' && id", timeout=5.0)
    finally:
        connection.close()
    assert result.ok and result.stdout == "a b\nuid=0(root)\n"
    assert lab.server.seen == [("dag", wrapped)]


def test_standard_input_is_sent_then_closed(lab: Lab) -> None:
    lab.server.handlers["cat"] = echo_stdin
    connection = lab.connect()
    try:
        result = connection.run("cat", stdin=b"line 1\n\xff\n", timeout=5.0)
        empty = connection.run("cat", timeout=5.0)
    finally:
        connection.close()
    assert result.stdout == "got line 1\n\ufffd\n"  # undecodable bytes replaced, not fatal
    assert empty.stdout == "got "


def test_a_command_over_its_timeout_raises_naming_the_host_and_command(lab: Lab) -> None:
    lab.server.handlers["sleep 60"] = hang
    connection = lab.connect()
    try:
        with pytest.raises(CommandTimeout) as caught:
            connection.run("sleep 60", timeout=0.3)
    finally:
        connection.close()
    assert str(caught.value) == "127.0.0.1: a command ran over 0.3 s: 'sleep 60'"


def test_a_different_host_key_is_refused_with_both_fingerprints(lab: Lab, tmp_path: Path) -> None:
    other = _ed25519(tmp_path / "other")
    with pytest.raises(HostKeyRejected) as caught:
        ssh.connect(lab.endpoint(_public(other)), lab.creds(), 5.0)
    assert str(caught.value) == (
        f"127.0.0.1:{lab.port} presented host key ssh-ed25519 {lab.host_key.fingerprint}, "
        f"not the pinned ssh-ed25519 {other.fingerprint} (declared): refusing to connect"
    )
    assert lab.server.seen == []


def test_a_pinned_key_of_another_type_is_refused(lab: Lab) -> None:
    rsa = paramiko.RSAKey.generate(1024)
    with pytest.raises(HostKeyRejected) as caught:
        ssh.connect(lab.endpoint(_public(rsa)), lab.creds(), 5.0)
    assert str(caught.value) == (
        f"127.0.0.1:{lab.port} presented host key ssh-ed25519 {lab.host_key.fingerprint}, "
        f"not the pinned ssh-rsa {rsa.fingerprint} (declared): refusing to connect"
    )


def test_an_unreadable_pinned_key_is_refused_before_connecting(lab: Lab) -> None:
    with pytest.raises(HostKeyRejected, match=r"^the pinned host key of 127.0.0.1 cannot be read$"):
        ssh.connect(lab.endpoint("ssh-ed25519"), lab.creds(), 5.0)


def test_a_refused_user_is_an_authentication_failure(lab: Lab) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        lab.connect("mallory")
    assert str(caught.value).startswith(f"127.0.0.1:{lab.port} refused user mallory: ")


def test_a_closed_port_is_unreachable(lab: Lab) -> None:
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    with pytest.raises(Unreachable) as caught:
        ssh.connect(lab.endpoint(port=port), lab.creds(), 2.0)
    assert str(caught.value).startswith(f"cannot connect to 127.0.0.1:{port}: ")


def test_something_that_is_not_an_ssh_server_is_unreachable(lab: Lab) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def babble() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()

    threading.Thread(target=babble, daemon=True).start()
    try:
        with pytest.raises(Unreachable) as caught:
            ssh.connect(lab.endpoint(port=port), lab.creds(), 2.0)
    finally:
        listener.close()
    assert str(caught.value).startswith(f"SSH with 127.0.0.1:{port} failed: ")


def test_a_closed_connection_refuses_new_commands(lab: Lab) -> None:
    connection = lab.connect()
    connection.close()
    with pytest.raises(Unreachable, match=r"^the connection to 127.0.0.1 is closed$"):
        connection.run("true")


def test_a_connection_lost_by_the_server_is_unreachable_not_a_traceback(lab: Lab) -> None:
    connection = lab.connect()
    try:
        for transport in lab.transports:
            transport.close()
        time.sleep(0.2)
        with pytest.raises(Unreachable):
            connection.run("true", timeout=2.0)
    finally:
        connection.close()


def test_a_stream_reads_its_first_line_and_ends_when_its_stdin_closes(lab: Lab) -> None:
    lab.server.handlers["hold"] = holder(b"LOCKED\nsecond")
    connection = lab.connect()
    try:
        stream = connection.stream("hold")
        assert stream.readline(5.0) == "LOCKED"
        assert stream.close(5.0) == 0
    finally:
        connection.close()


def test_a_stream_that_says_nothing_times_out(lab: Lab) -> None:
    lab.server.handlers["quiet"] = holder(b"")
    connection = lab.connect()
    try:
        stream = connection.stream("quiet")
        with pytest.raises(CommandTimeout, match=r"^127.0.0.1: no answer in 0.3 s$"):
            stream.readline(0.3)
        stream.close(5.0)
    finally:
        connection.close()


def test_a_stream_that_ends_gives_its_rest_and_exit_code(lab: Lab) -> None:
    lab.server.handlers["held"] = reply(b'HELD\n{"by": "anna@ci"}\n', code=75)
    lab.server.handlers["partial"] = reply(b"no newline at the end", code=1)
    connection = lab.connect()
    try:
        stream = connection.stream("held")
        assert stream.readline(5.0) == "HELD"
        assert stream.read_rest(5.0) == ('{"by": "anna@ci"}\n', 75)
        stream.close(1.0)
        partial = connection.stream("partial")
        assert partial.readline(5.0) == "no newline at the end"
        assert partial.readline(5.0) == ""  # ended: an empty line, not a hang
        partial.close(1.0)
    finally:
        connection.close()


def test_a_stream_whose_command_never_ends_closes_with_minus_one(lab: Lab) -> None:
    lab.server.handlers["stuck"] = hang
    connection = lab.connect()
    try:
        stream = connection.stream("stuck")
        assert stream.close(0.3) == -1
    finally:
        connection.close()
