"""Real TCP connects to a test host: from this process, or from inside another host, one at a
time or many at once from chosen source addresses (``probe_many``)."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

from dagsync.testing.hosts.system import TestHostsError, _run

if TYPE_CHECKING:
    from dagsync.testing.hosts.host import TestHost

ProbeResult = Literal["open", "refused", "timeout", "unreachable"]


_PROBE_SCRIPT = """
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    r = "open"
except ConnectionRefusedError:
    r = "refused"
except TimeoutError:
    r = "timeout"
except OSError:
    r = "unreachable"
print(r)
"""


def tcp_probe(address: str, port: int, timeout: float = 0.5) -> ProbeResult:
    """A real TCP connect from this process's namespace."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except OSError:
        return "unreachable"


def probe_from(host: TestHost, address: str, port: int, timeout: float = 0.5) -> ProbeResult:
    """A real TCP connect made from inside ``host``'s network namespace (its source address)."""
    argv = ["nsenter", f"--net=/run/netns/{host.namespace}", "--", sys.executable, "-S", "-c"]
    proc = _run([*argv, _PROBE_SCRIPT, address, str(port), str(timeout)], timeout=timeout + 10)
    result = proc.stdout.strip()
    if result not in ("open", "refused", "timeout", "unreachable"):
        raise TestHostsError(f"probe from {host.name} printed {result!r}: {proc.stderr}")
    return result  # type: ignore[return-value]


BATCH = 500  # connects at once (one socket each)


class Probe(NamedTuple):
    """One TCP connect: from ``source`` (an address of the namespace) to ``address:port``."""

    source: str
    address: str
    port: int


# Every connect at once (non-blocking), each bound to its source address; one result a line,
# in order.  A connect still pending when the time is up is "timeout" (a dropped SYN).
_MANY_SCRIPT = """
import errno, json, selectors, socket, sys, time
probes, limit = json.loads(sys.argv[1]), float(sys.argv[2])
sel, results = selectors.DefaultSelector(), ["timeout"] * len(probes)
for i, (source, address, port) in enumerate(probes):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.bind((source, 0))
        code = s.connect_ex((address, port))
    except OSError:
        results[i] = "unreachable"; s.close(); continue
    if code == 0:
        results[i] = "open"; s.close()
    elif code == errno.EINPROGRESS:
        sel.register(s, selectors.EVENT_WRITE, i)
    else:
        results[i] = "refused" if code == errno.ECONNREFUSED else "unreachable"; s.close()
end = time.monotonic() + limit
while sel.get_map() and (left := end - time.monotonic()) > 0:
    for key, _ in sel.select(left):
        code = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        results[key.data] = "open" if code == 0 else (
            "refused" if code == errno.ECONNREFUSED else "unreachable")
        sel.unregister(key.fileobj); key.fileobj.close()
print("\\n".join(results))
"""


def probe_many(namespace: str, probes: Sequence[Probe], timeout: float = 1.0) -> list[ProbeResult]:
    """Real TCP connects made at once from inside the network namespace ``namespace``, each
    from its own source address (which must be one of the namespace's); results in order.
    ``BATCH`` at a time, so that the sockets stay under the process's file limit."""
    results: list[ProbeResult] = []
    for start in range(0, len(probes), BATCH):
        results += _probe_batch(namespace, probes[start : start + BATCH], timeout)
    return results


def _probe_batch(namespace: str, probes: Sequence[Probe], timeout: float) -> list[ProbeResult]:
    argv = ["nsenter", f"--net=/run/netns/{namespace}", "--", sys.executable, "-S", "-c"]
    payload = json.dumps([list(p) for p in probes])
    proc = _run([*argv, _MANY_SCRIPT, payload, str(timeout)], check=False, timeout=timeout + 30)
    results = proc.stdout.split()
    known = ("open", "refused", "timeout", "unreachable")
    if len(results) != len(probes) or any(r not in known for r in results):
        raise TestHostsError(f"probes from {namespace} failed: {proc.stderr.strip()[-300:]}")
    return results  # type: ignore[return-value]
