"""The emulator: a real HTTP server on 127.0.0.1 and the Python API tests drive it with."""

from __future__ import annotations

import contextlib
import itertools
import secrets
import socket
import sys
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dagsync.testing.ovh_api.auth import ForbiddenStyle, RateLimit, new_credential
from dagsync.testing.ovh_api.backend import Backend, Resolver
from dagsync.testing.ovh_api.errors import EmulatorError
from dagsync.testing.ovh_api.faults import Fault
from dagsync.testing.ovh_api.fixture import load_account, seed_account
from dagsync.testing.ovh_api.pipeline import (
    API_PREFIX,
    LoggedRequest,
    Pipeline,
    RawRequest,
    Reply,
    Settings,
)
from dagsync.testing.ovh_api.progress import DelayLike, Delays
from dagsync.testing.ovh_api.state import CREDENTIAL_STATES, AccessRule, Account, Credential

if TYPE_CHECKING:
    import ovh

__all__ = ["AccountSource", "OvhEmulator"]

AccountSource = Account | Mapping[str, Any] | str | Path | None
"""An account, a fixture mapping, a fixture file, or ``None`` for an empty account."""

HOST = "127.0.0.1"
_query_ids = itertools.count(1)


def _account(source: AccountSource) -> Account:
    if isinstance(source, Account):
        return source
    if isinstance(source, str | Path):
        return load_account(source)
    return seed_account(source or {})


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, pipeline: Pipeline, stopping: threading.Event) -> None:
        super().__init__((HOST, port), _Handler)
        self.pipeline = pipeline
        self.stopping = stopping
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid 40 ms delayed ACKs
    timeout = 60.0
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = RawRequest(
            method=self.command,
            target=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            client_ip=self.client_address[0],
        )
        reply = self.server.pipeline.handle(request)
        if reply.hang:
            self.server.stopping.wait(reply.hang_seconds)
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("X-Ovh-QueryID", f"EU.ext-emu.{secrets.token_hex(4)}.{next(_query_ids)}")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: :attr:`OvhEmulator.requests` is the log."""


class OvhEmulator:
    """An OVH API v1 emulator on ``http://127.0.0.1:PORT/1.0``.

    Use it as a context manager (``with OvhEmulator(fixture) as emu: ...``) or call
    :meth:`start` and :meth:`stop`. All state lives in :attr:`account`, guarded by
    :attr:`lock`; every public method is thread-safe.
    """

    def __init__(
        self,
        fixture: AccountSource = None,
        *,
        port: int = 0,
        delays: Delays | None = None,
        resolver: Resolver | None = None,
        timestamp_window: float = 300.0,
        forbidden_style: ForbiddenStyle = "legacy",
        rate_limit: RateLimit | None = None,
    ) -> None:
        self._backend = Backend(_account(fixture), delays or Delays(), resolver)
        settings = Settings(timestamp_window, forbidden_style, rate_limit)
        self._pipeline = Pipeline(self._backend, settings)
        self._requested_port = port
        self._stopping = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint_name = f"dagsync-emulator-{secrets.token_hex(6)}"
        """The ``ovh.client.ENDPOINTS`` name that :meth:`client` registers (unique per instance)."""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> OvhEmulator:
        if self._httpd is not None:
            raise EmulatorError("the emulator is already running")
        self._stopping.clear()
        self._httpd = _HttpServer(self._requested_port, self._pipeline, self._stopping)
        self._backend.root_url = f"http://{HOST}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung connections, close kept-alive ones; idempotent."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None
        endpoints = getattr(sys.modules.get("ovh.client"), "ENDPOINTS", None)
        if isinstance(endpoints, dict):
            endpoints.pop(self.endpoint_name, None)

    def __enter__(self) -> OvhEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise EmulatorError("the emulator is not running")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL, ``http://127.0.0.1:PORT/1.0``: the value for ``ENDPOINTS``."""
        return self.root_url + API_PREFIX

    # -- state and log ---------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Hold it while reading or changing :attr:`account` directly."""
        return self._pipeline.lock

    @property
    def account(self) -> Account:
        return self._backend.account

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of the served requests, in order: ``(method, path, status)`` tuples."""
        with self.lock:
            return list(self._pipeline.log)

    def clear_requests(self) -> None:
        with self.lock:
            self._pipeline.log.clear()

    @property
    def internal_errors(self) -> list[Exception]:
        """Exceptions raised by the emulator's own handlers (each answered as a 500)."""
        with self.lock:
            return list(self._pipeline.internal_errors)

    # -- behaviour knobs -------------------------------------------------------------------

    @property
    def delays(self) -> Delays:
        with self.lock:
            return self._backend.delays

    def set_delays(self, **changes: DelayLike) -> None:
        """Change delays by kind (a :class:`Delay` or seconds); pending objects follow at once.

        Kinds: ``firewall_state``, ``rule_creation``, ``rule_removal``,
        ``mitigation_creation``, ``mitigation_removal``, ``task``. ``NEVER`` (or
        ``math.inf``) keeps objects pending until the delay is changed again.
        """
        with self.lock:
            self._backend.delays = self._backend.delays.with_changes(**changes)

    def set_rate_limit(self, limit: RateLimit | None) -> None:
        """Enable (or, with ``None``, disable) the per-consumer-key token bucket."""
        with self.lock:
            self._pipeline.settings.rate_limit = limit

    def set_forbidden_style(self, style: ForbiddenStyle) -> None:
        """``"legacy"``: 403 ``NOT_GRANTED_CALL``; ``"class"``: 403 ``Client::Forbidden``."""
        with self.lock:
            self._pipeline.settings.forbidden_style = style

    def set_timestamp_window(self, seconds: float) -> None:
        with self.lock:
            self._pipeline.settings.timestamp_window = seconds

    def set_clock_skew(self, seconds: float) -> None:
        """Shift the server clock (``/auth/time`` and the timestamp check) by ``seconds``."""
        with self.lock:
            self._backend.clock_skew = seconds

    def inject(
        self,
        fault: Fault,
        *,
        count: int | None = 1,
        path_prefix: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching calls (``None``: all) with ``fault``.

        ``path_prefix`` is matched against the raw path without ``/1.0``. Without it every
        path matches except ``/auth/time``, so the client's time sync is not disturbed.
        """
        with self.lock:
            self._pipeline.faults.arm(fault, count, path_prefix, method)

    def clear_faults(self) -> None:
        with self.lock:
            self._pipeline.faults.clear()

    # -- credentials -----------------------------------------------------------------------

    @property
    def application_key(self) -> str:
        """The first application of the account."""
        with self.lock:
            if not self.account.applications:
                raise EmulatorError("the account has no application")
            return next(iter(self.account.applications))

    @property
    def application_secret(self) -> str:
        with self.lock:
            return self.account.applications[self.application_key].secret

    @property
    def consumer_key(self) -> str:
        """The first validated consumer key of the first application."""
        with self.lock:
            app = self.application_key
            for credential in self.account.credentials.values():
                if credential.application_key == app and credential.state == "validated":
                    return credential.consumer_key
            raise EmulatorError(f"application {app} has no validated consumer key")

    def credentials(self) -> list[Credential]:
        with self.lock:
            return list(self.account.credentials.values())

    def add_credential(
        self,
        rules: Iterable[tuple[str, str]],
        *,
        state: str = "validated",
        application_key: str | None = None,
        allowed_ips: list[str] | None = None,
    ) -> str:
        """Create a consumer key with ``(method, path)`` rules; return it."""
        if state not in CREDENTIAL_STATES:
            raise EmulatorError(f"unknown credential state {state!r}")
        with self.lock:
            app = application_key or self.application_key
            if app not in self.account.applications:
                raise EmulatorError(f"unknown application key {app!r}")
            access = [AccessRule(method.upper(), path) for method, path in rules]
            created = new_credential(
                self._backend, app, access, state=state, allowed_ips=allowed_ips
            )
            return created.consumer_key

    def set_credential_state(self, consumer_key: str, state: str) -> None:
        if state not in CREDENTIAL_STATES:
            raise EmulatorError(f"unknown credential state {state!r}")
        with self.lock:
            credential = self.account.credentials.get(consumer_key)
            if credential is None:
                raise EmulatorError(f"unknown consumer key {consumer_key!r}")
            credential.state = state

    def validate_credential(self, consumer_key: str) -> None:
        """What the user does on the validation page: the key becomes usable."""
        self.set_credential_state(consumer_key, "validated")

    def client(
        self,
        *,
        consumer_key: str | None = None,
        application_key: str | None = None,
        application_secret: str | None = None,
        timeout: float | tuple[float, float] = 10.0,
    ) -> ovh.Client:
        """A python-ovh client for this emulator (registers :attr:`endpoint_name`).

        Defaults to the first application and its first validated consumer key;
        ``consumer_key=""`` gives a client without one (to request a key).
        """
        # lazy: importing it here keeps 81d243bd2c585b0f4821__mypyc, blinker, charset_normalizer (+6) out of this module's load
        import ovh.client  # lazy: test infrastructure only

        ovh.client.ENDPOINTS[self.endpoint_name] = self.url
        app = application_key or self.application_key
        if application_secret is None:
            with self.lock:
                known = self.account.applications.get(app)
            if known is None:
                raise EmulatorError(f"unknown application {app!r}: give application_secret")
            application_secret = known.secret
        return ovh.client.Client(
            endpoint=self.endpoint_name,
            application_key=app,
            application_secret=application_secret,
            consumer_key=self.consumer_key if consumer_key is None else consumer_key,
            timeout=timeout,
        )
