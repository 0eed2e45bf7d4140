"""What route handlers work with: the account, the clock, delays, tasks and lookups."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable

from dagsync.testing.ovh_api.progress import DelayKind, Delays, Progress
from dagsync.testing.ovh_api.state import Account, IpBlock, Server, Task
from dagsync.testing.ovh_api.wire import bad_request, class_error, not_found, now_iso

__all__ = ["Backend", "Resolver", "dns_name", "fixture_resolver"]

Resolver = Callable[[str], Iterable[str]]
"""Forward DNS: a name (no trailing dot, lower case) -> the addresses it resolves to."""


def dns_name(name: str) -> str:
    return name.rstrip(".").lower()


def fixture_resolver(account: Account) -> Resolver:
    """Resolve from the account's ``dns`` table only; never real DNS."""

    def resolve(name: str) -> set[str]:
        return set(account.dns.get(dns_name(name), set()))

    return resolve


class Backend:
    """The mutable world behind the routes; callers hold the emulator lock."""

    def __init__(
        self,
        account: Account,
        delays: Delays,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self.delays = delays
        self.resolver = resolver or fixture_resolver(account)
        self.clock = clock
        self.clock_skew = 0.0
        self.root_url = ""

    def now(self) -> float:
        return self.clock()

    def api_time(self) -> int:
        """The server's Unix time, as ``/auth/time`` reports it (real time + skew)."""
        return int(time.time() + self.clock_skew)

    def start(self, kind: DelayKind, stages: tuple[str, ...]) -> Progress:
        return Progress(kind=kind, stages=stages, since=self.now())

    def observe(self, progress: Progress, *, read: bool) -> str:
        return progress.observe(self.now(), self.delays, read=read)

    def new_task(
        self, server: Server, function: str, on_done: Callable[[], None] | None = None
    ) -> Task:
        started = now_iso()
        task = Task(
            task_id=self.account.new_id(),
            function=function,
            progress=self.start("task", ("todo", "doing", "done")),
            start_date=started,
            last_update=started,
            on_done=on_done,
        )
        server.tasks[task.task_id] = task
        return task

    def task_status(self, task: Task, *, read: bool) -> str:
        """The task's status; the first observation of ``done`` runs its effect."""
        status = self.observe(task.progress, read=read)
        if task.progress.finished and task.done_date is None:
            task.done_date = task.last_update = now_iso()
            if task.on_done is not None:
                task.on_done()
        return status

    def settle(self, server: Server) -> None:
        """Apply the effects of every task of ``server`` that has finished (no poll counted)."""
        for task_id in sorted(server.tasks):
            self.task_status(server.tasks[task_id], read=False)

    def server(self, name: str, *, allow_expired: bool = False) -> Server:
        server = self.account.servers.get(name)
        if server is None:
            raise not_found(f"The requested object (serviceName = {name}) does not exist")
        if server.expired and not allow_expired:
            raise class_error(460, "Client::ServiceExpired", f"The service {name} is expired")
        return server

    def block(self, raw: str) -> IpBlock:
        """The IP block named by a (decoded) ``{ip}`` path parameter, in CIDR form."""
        if "/" not in raw:
            raise not_found(f"The requested object (ip = {raw}) does not exist")
        try:
            key = str(ipaddress.ip_network(raw, strict=True))
        except ValueError as error:
            raise bad_request(f"Invalid value for ip: {raw!r} is not an IP block") from error
        block = self.account.blocks.get(key)
        if block is None:
            raise not_found(f"The requested object (ip = {raw}) does not exist")
        return block
