"""Real TCP connects to a test host: from this process, or from inside another host."""

from __future__ import annotations

import socket
import sys
from typing import TYPE_CHECKING, Literal

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
