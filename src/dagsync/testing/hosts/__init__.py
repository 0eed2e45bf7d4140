"""Real SSH test hosts on one machine, each in its own network, mount and UTS namespace.

A test host is a network namespace on a private bridge (no default route, so nothing leaves
the machine) running its own ``sshd``, with private ``/etc`` and ``/var`` overlays, its own
``/root``, ``/srv`` and ``/home`` and tmpfs ``/run`` and ``/tmp``.  Writes made on a host
(user accounts, nftables rulesets, files) stay on that host.  Everything on disk lives in a
state folder; the only other objects are the kernel ones (namespaces, veths, bridge) and the
``/run/netns`` mount that ``ip netns add`` creates.  Needs root, iproute2, util-linux and
openssh-server.  See ``../shared/reference/testhosts.md`` (beside the checkout).

    with testhosts(3, state_dir=tmp_path / "th") as lab:
        lab.hosts[0].ssh("hostname")

After a crash, ``python -m dagsync.testing.hosts down --state DIR`` cleans up.

Any number of runs share a machine: ``unique_network(tag)`` gives each set of hosts link and
namespace names of its own (a random run id) and a /24 that no address or route of the machine
uses; ``up`` claims that /24 (a file under ``/run/dagsync-testhosts``) before creating anything,
and ``down`` removes only what its own state folder lists.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from dagsync.errors import DagsyncError

ProbeResult = Literal["open", "refused", "timeout", "unreachable"]

DEFAULT_NETWORK = "10.201.0"
DEFAULT_BRIDGE = "dsbr0"
DEFAULT_NS_PREFIX = "ds-"
DEFAULT_VETH_PREFIX = "dsv"
MAX_HOSTS = 200
SSH_PORT = 22
STATE_FILE = "state.json"
CLIENT_KEY = "id_ed25519"
READY_TIMEOUT = 10.0
TOOLS = ("ip", "unshare", "nsenter", "mount", "sshd", "ssh", "ssh-keygen")
# Mounted over inside each host: a state folder below them would be hidden from its sshd.
_SHADOWED = ("/etc", "/var", "/root", "/srv", "/home", "/run", "/proc", "/sys", "/dev")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_LINK_NAME_MAX = 15
_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
_LAUNCHED: dict[int, subprocess.Popen[bytes]] = {}  # sshd children of this process, to reap
CLAIMS = Path("/run/dagsync-testhosts")  # one file per /24 in use by a set of test hosts
_TAG = re.compile(r"^[a-z]{1,4}$")

# Runs in the host's fresh mount and UTS namespaces.  ip netns exec -> unshare -> sh -> exec
# sshd never forks, so the launcher's PID is sshd's.  The state folder is bind-kept across the
# tmpfs over /tmp so that a folder under /tmp (pytest's tmp_path) still works.
_LAUNCH_SCRIPT = """
hostname "$H"
mount -n -t tmpfs -o mode=0755,size=64m tmpfs /run
mkdir -m 0755 /run/sshd /run/hoststate
mount -n --bind "$D" /run/hoststate
mount -n -t tmpfs -o mode=1777,size=256m tmpfs /tmp
mkdir -p "$D"
mount -n --move /run/hoststate "$D"
mount -n -t overlay overlay -o "lowerdir=/etc,upperdir=$D/etc.upper,workdir=$D/etc.work" /etc
mount -n -t overlay overlay -o "lowerdir=/var,upperdir=$D/var.upper,workdir=$D/var.work" /var
mount -n --bind "$D/root" /root
mount -n --bind "$D/srv" /srv
mount -n --bind "$D/home" /home
echo "$H" > /etc/hostname
cat "$D/hosts" > /etc/hosts
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.1\\noptions timeout:1 attempts:1\\n' > /etc/resolv.conf
exec "$SSHD" -D -f "$D/sshd_config" -E "$D/sshd.log"
"""

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


class TestHostsError(DagsyncError):
    """A test host could not be created, reached or removed."""

    __test__: ClassVar[bool] = False


@dataclass(frozen=True)
class Network:
    """Where a set of test hosts lives; distinct values let sessions run side by side."""

    prefix: str = DEFAULT_NETWORK  # a /24: bridge .1, host i at .(10+i)
    bridge: str = DEFAULT_BRIDGE
    ns_prefix: str = DEFAULT_NS_PREFIX
    veth_prefix: str = DEFAULT_VETH_PREFIX

    def address(self, index: int) -> str:
        return f"{self.prefix}.{10 + index}"

    def namespace(self, index: int) -> str:
        return f"{self.ns_prefix}{index}"

    def veth(self, index: int) -> str:
        return f"{self.veth_prefix}{index}"


DEFAULT = Network()


def subnets_in_use() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of this machine's own addresses and routes (its root namespace), and
    the /24s claimed by test hosts: a test network must overlap none of them."""
    used: list[ipaddress.IPv4Network] = []
    for argv in (
        ["ip", "-j", "-4", "addr", "show"],
        ["ip", "-j", "-4", "route", "show", "table", "all"],
    ):
        try:
            out = _run(argv, check=False, timeout=10).stdout
            entries = json.loads(out or "[]")
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
            continue
        for entry in entries:
            for info in entry.get("addr_info", []):
                with suppress(ValueError, KeyError):
                    used.append(
                        ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                    )
            if (dst := entry.get("dst")) and dst != "default":
                with suppress(ValueError):
                    used.append(ipaddress.IPv4Network(dst, strict=False))
    with suppress(OSError):
        for claim in CLAIMS.iterdir():
            with suppress(ValueError):
                used.append(ipaddress.IPv4Network(claim.name.replace("_", "/")))
    return used


def unique_network(tag: str) -> Network:
    """Names and a /24 of this run's own, so that test runs and sandboxes never collide.

    ``tag`` (1-4 lowercase letters) says who uses it (``bkp``, ``sbx``...); a random run id
    makes the link and namespace names unique (``dbkp3f9a`` bridge, ``dbkp3f9a-1`` namespace,
    ``dbkp3f9av1`` veth: at most 15 characters), and the /24 is drawn from 10.200-254.x.0 among
    those that no address, route or claim of the machine overlaps (``up`` claims it).
    """
    if not _TAG.match(tag):
        raise ValueError(f"a network tag is 1-4 lowercase letters, not {tag!r}")
    run = f"d{tag}{secrets.token_hex(2)}"
    used = subnets_in_use()
    draw = random.SystemRandom()
    for _ in range(1000):
        candidate = ipaddress.IPv4Network(
            f"10.{draw.randint(200, 254)}.{draw.randint(0, 255)}.0/24"
        )
        if not any(candidate.overlaps(u) for u in used):
            prefix = str(candidate.network_address).rsplit(".", 1)[0]
            return Network(prefix, bridge=run, ns_prefix=f"{run}-", veth_prefix=f"{run}v")
    raise TestHostsError("no free /24 left in 10.200.0.0-10.254.255.0 for test hosts")


def _claim_path(net: Network) -> Path:
    return CLAIMS / f"{net.prefix}.0_24"


def _claim(net: Network, state_dir: Path) -> None:
    """Reserve the network's /24 for this state folder, atomically; a claim whose state folder
    is gone is stale and taken over.  Refuses a /24 the machine itself uses."""
    subnet = ipaddress.IPv4Network(f"{net.prefix}.0/24")
    CLAIMS.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = _claim_path(net)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = path.read_text(errors="replace").strip()
            if owner == str(state_dir) or not (Path(owner) / STATE_FILE).exists():
                path.unlink(missing_ok=True)  # ours from a crashed run, or stale
                continue
            raise TestHostsError(
                f"{subnet} is used by the test hosts of {owner}; choose another network "
                "(dagsync.testing.hosts.unique_network)"
            ) from None
        with os.fdopen(fd, "w") as out:
            out.write(f"{state_dir}\n")
        break
    others = [u for u in subnets_in_use() if u.overlaps(subnet) and u != subnet]
    if others:
        _release(net, state_dir)
        raise TestHostsError(
            f"{subnet} overlaps this machine's {', '.join(map(str, others))}; "
            "choose another network (dagsync.testing.hosts.unique_network)"
        )


def _release(net: Network, state_dir: Path) -> None:
    path = _claim_path(net)
    with suppress(OSError):
        if path.read_text(errors="replace").strip() == str(state_dir):
            path.unlink()


@dataclass(frozen=True)
class TestHost:
    """One running test host; ``run`` acts inside it directly, ``ssh`` goes through sshd."""

    __test__: ClassVar[bool] = False

    name: str
    index: int
    namespace: str
    veth: str
    address: str
    port: int
    host_key_public: str  # "ssh-ed25519 AAAA...", for pinning
    host_key_path: Path
    root: Path  # this host's state folder (etc.upper, root/, home/, sshd.log, ...)
    ssh_config: Path
    sshd_pid: int

    def run(
        self, command: str, *, check: bool = False, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sh -c command`` as root in this host's network, mount and UTS namespaces."""
        argv = ["nsenter", "-t", str(self.sshd_pid), "-m", "-u", "-n", "--wd=/"]
        env = {"PATH": _PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        return _run([*argv, "--", "sh", "-c", command], check=check, timeout=timeout, env=env)

    def ssh(
        self, command: str, *, user: str = "root", check: bool = False, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` over SSH with the generated config (strict host key checking)."""
        argv = ["ssh", "-F", str(self.ssh_config), "-l", user, self.name, "--", command]
        return _run(argv, check=check, timeout=timeout)


@dataclass(frozen=True)
class TestHosts:
    """A running set of test hosts and the client-side files to reach them."""

    __test__: ClassVar[bool] = False

    state_dir: Path
    network: Network
    hosts: tuple[TestHost, ...]
    client_key: Path
    client_key_pub: Path
    known_hosts: Path
    ssh_config: Path

    def __getitem__(self, name: str) -> TestHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


# --- small helpers -------------------------------------------------------------------------


def _run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30.0,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and proc.returncode != 0:
        raise TestHostsError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _ip_batch(commands: Sequence[str], *, netns: str | None = None, force: bool = False) -> None:
    if not commands:
        return
    argv = ["ip", *(["-n", netns] if netns else []), *(["-force"] if force else []), "-batch", "-"]
    _run(argv, stdin="\n".join(commands) + "\n", check=not force)


def _keygen(path: Path, comment: str) -> None:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _netns_list() -> list[str]:
    out = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _read_logs(*paths: Path) -> str:
    parts = [f"--- {p.name}:\n{p.read_text(errors='replace')}" for p in paths if p.exists()]
    return "\n".join(parts) or "(no log)"


# --- checks --------------------------------------------------------------------------------


def _validate(names: Sequence[str], net: Network, state_dir: Path) -> None:
    if not 1 <= len(names) <= MAX_HOSTS:
        raise TestHostsError(f"between 1 and {MAX_HOSTS} hosts, not {len(names)}")
    bad = [n for n in names if not _NAME.match(n)]
    if bad or len(set(names)) != len(names):
        raise TestHostsError(f"host names must be unique lowercase hostnames: {list(names)}")
    try:
        ipaddress.IPv4Network(f"{net.prefix}.0/24")
    except ValueError as exc:
        raise TestHostsError(
            f"network must be the first three octets of a /24: {net.prefix!r}"
        ) from exc
    for link in (net.bridge, net.veth(len(names))):
        if len(link) > _LINK_NAME_MAX:
            raise TestHostsError(f"link name {link!r} is longer than {_LINK_NAME_MAX} characters")
    resolved = str(state_dir.resolve())
    if re.search(r"[\s\"'\\]", resolved):
        raise TestHostsError(f"state folder {resolved!r} must not contain spaces or quotes")
    if any(resolved == s or resolved.startswith(s + "/") for s in _SHADOWED):
        raise TestHostsError(f"state folder {resolved} is under a path the hosts mount over")


def _refuse_stale(names: Sequence[str], net: Network, state_dir: Path) -> None:
    hint = f"run: {down_command(state_dir, net)}"
    if _link_exists(net.bridge):
        raise TestHostsError(f"bridge {net.bridge} already exists (stale test hosts?); {hint}")
    taken = set(_netns_list()) & {net.namespace(i) for i in range(1, len(names) + 1)}
    if taken:
        raise TestHostsError(f"network namespaces already exist: {sorted(taken)}; {hint}")
    if state_dir.exists() and any(state_dir.iterdir()):
        raise TestHostsError(f"state folder {state_dir} is not empty; {hint}")


def down_command(state_dir: Path, net: Network) -> str:
    """The shell command that removes this set of hosts (with the stale folder or without)."""
    flags = f"--network {net.prefix} --bridge {net.bridge} --ns-prefix {net.ns_prefix}"
    return f"python -m dagsync.testing.hosts down --state {state_dir} {flags} --veth-prefix {net.veth_prefix}"


@cache
def skip_reason() -> str | None:
    """Why test hosts cannot run here, or None when they can (for ``pytest.skip``)."""
    if os.geteuid() != 0:
        return "test hosts need root (network namespaces, mounts)"
    missing = [tool for tool in TOOLS if shutil.which(tool, path=_PATH) is None]
    if missing:
        return f"test hosts need these commands: {', '.join(missing)}"
    with tempfile.TemporaryDirectory(prefix="dagsync-probe-") as tmp:
        return _probe_namespaces(Path(tmp))


def _probe_namespaces(tmp: Path) -> str | None:
    for sub in ("lower", "upper", "work", "merged"):
        (tmp / sub).mkdir()
    script = (
        f"mount -n -t tmpfs tmpfs {tmp}/merged && umount -n {tmp}/merged && "
        f"mount -n -t overlay overlay -o lowerdir={tmp}/lower,upperdir={tmp}/upper,"
        f"workdir={tmp}/work {tmp}/merged && "
        "ip link add dsprobe0 type bridge && ip link add dsprobe1 type veth peer name dsprobe2"
    )
    argv = ["unshare", "--mount", "--uts", "--net", "--propagation", "private", "sh", "-c"]
    try:
        proc = _run([*argv, script], check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create namespaces: {exc}"
    if proc.returncode != 0:
        return f"namespaces, overlayfs or veth unavailable: {proc.stderr.strip()}"
    return None


# --- bring up ------------------------------------------------------------------------------


def _sshd_config(d: Path, address: str) -> str:
    return f"""ListenAddress {address}:{SSH_PORT}
HostKey {d}/ssh_host_ed25519_key
PidFile {d}/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
UseDNS no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
"""


def _client_ssh_config(state_dir: Path, names: Sequence[str], net: Network) -> str:
    blocks = [f"Host {n}\n  HostName {net.address(i)}\n" for i, n in enumerate(names, 1)]
    return "".join(blocks) + (
        f"Host *\n  User root\n  IdentityFile {state_dir / CLIENT_KEY}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {state_dir / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 3\n  LogLevel ERROR\n"
        # ~90 ms faster per connection than the default post-quantum exchange, on 2 cores.
        "  KexAlgorithms curve25519-sha256\n"
    )


def _hosts_file(names: Sequence[str], net: Network, extra: Sequence[tuple[str, str]]) -> str:
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{net.address(i)} {n}" for i, n in enumerate(names, 1)]
    lines += [f"{address} {name}" for address, name in extra]
    return "\n".join(lines) + "\n"


def _prepare_host(state_dir: Path, name: str, index: int, net: Network) -> str:
    """Create a host's folders, keys and sshd config; return its public host key line."""
    d = state_dir / name
    for sub in ("root/.ssh", "srv", "home", "etc.upper", "etc.work", "var.upper", "var.work"):
        (d / sub).mkdir(parents=True)
    (d / "root").chmod(0o700)
    (d / "root/.ssh").chmod(0o700)
    _keygen(d / "ssh_host_ed25519_key", f"{name}-hostkey")
    (d / "sshd_config").write_text(_sshd_config(d, net.address(index)))
    return " ".join((d / "ssh_host_ed25519_key.pub").read_text().split()[:2])


def _write_shared_files(
    state_dir: Path, names: Sequence[str], keys: Sequence[str], net: Network, hosts_file: str
) -> None:
    """Client known_hosts; on every host: hosts file, authorized key, root's key and trust."""
    known = "".join(
        f"{n},{net.address(i)} {k}\n" for i, (n, k) in enumerate(zip(names, keys, strict=True), 1)
    )
    (state_dir / "known_hosts").write_text(known)
    (state_dir / "ssh_config").write_text(_client_ssh_config(state_dir, names, net))
    private = (state_dir / CLIENT_KEY).read_text()
    public = (state_dir / f"{CLIENT_KEY}.pub").read_text()
    files = {"authorized_keys": public, CLIENT_KEY: private, "known_hosts": known}
    files["config"] = "Host *\n  StrictHostKeyChecking yes\n  BatchMode yes\n"
    for name in names:
        (state_dir / name / "hosts").write_text(hosts_file)
        for fname, text in files.items():
            (state_dir / name / "root/.ssh" / fname).write_text(text)
            (state_dir / name / "root/.ssh" / fname).chmod(0o600)


def _create_network(names: Sequence[str], net: Network) -> None:
    root_side = [
        f"link add {net.bridge} type bridge",
        f"addr add {net.prefix}.1/24 dev {net.bridge}",
    ]
    root_side.append(f"link set {net.bridge} up")
    for i in range(1, len(names) + 1):
        ns, veth = net.namespace(i), net.veth(i)
        root_side += [f"netns add {ns}", f"link add {veth} type veth peer name eth0 netns {ns}"]
        root_side.append(f"link set {veth} master {net.bridge} up")
    _ip_batch(root_side)
    for i in range(1, len(names) + 1):  # no default route: nothing leaves the /24
        inside = ["link set lo up", f"addr add {net.address(i)}/24 dev eth0", "link set eth0 up"]
        _ip_batch(inside, netns=net.namespace(i))


def _launch(state_dir: Path, name: str, index: int, net: Network) -> subprocess.Popen[bytes]:
    d = state_dir / name
    sshd = shutil.which("sshd", path=_PATH) or "/usr/sbin/sshd"
    argv = ["ip", "netns", "exec", net.namespace(index), "unshare", "--mount", "--uts"]
    argv += ["--propagation", "private", "sh", "-euc", _LAUNCH_SCRIPT]
    env = {"PATH": _PATH, "D": str(d), "H": name, "SSHD": sshd}
    with (d / "launch.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
        )
    _LAUNCHED[proc.pid] = proc
    return proc


def _wait_ready(proc: subprocess.Popen[bytes], address: str, logs: Sequence[Path]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if tcp_probe(address, SSH_PORT, 0.2) == "open":
            return
        if proc.poll() is not None:
            raise TestHostsError(
                f"sshd on {address} exited ({proc.returncode}):\n{_read_logs(*logs)}"
            )
        time.sleep(0.01)
    raise TestHostsError(f"sshd on {address} not reachable after {READY_TIMEOUT} s")


def _start_host(lab: TestHosts, name: str, index: int, key: str) -> TestHost:
    proc = _launch(lab.state_dir, name, index, lab.network)
    d = lab.state_dir / name
    _wait_ready(proc, lab.network.address(index), [d / "launch.log", d / "sshd.log"])
    return TestHost(
        name=name,
        index=index,
        namespace=lab.network.namespace(index),
        veth=lab.network.veth(index),
        address=lab.network.address(index),
        port=SSH_PORT,
        host_key_public=key,
        host_key_path=d / "ssh_host_ed25519_key",
        root=d,
        ssh_config=lab.ssh_config,
        sshd_pid=proc.pid,
    )


def _init_state(state_dir: Path, names: Sequence[str], net: Network) -> None:
    """Written before any kernel object exists, so ``down`` always knows what to remove."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    state = {"version": 1, "network": asdict(net), "names": list(names)}
    (state_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def _load_state(state_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((state_dir / STATE_FILE).read_text())
    return loaded


def _bring_up(state_dir: Path, names: Sequence[str], net: Network, hosts_file: str) -> TestHosts:
    workers = min(32, len(names) + 1)
    with ThreadPoolExecutor(workers) as pool:
        client = pool.submit(_keygen, state_dir / CLIENT_KEY, "dagsync-testhosts-client")
        keys = list(
            pool.map(lambda a: _prepare_host(state_dir, a[1], a[0], net), enumerate(names, 1))
        )
        client.result()
        _write_shared_files(state_dir, names, keys, net, hosts_file)
        _create_network(names, net)
        lab = TestHosts(
            state_dir=state_dir,
            network=net,
            hosts=(),
            client_key=state_dir / CLIENT_KEY,
            client_key_pub=state_dir / f"{CLIENT_KEY}.pub",
            known_hosts=state_dir / "known_hosts",
            ssh_config=state_dir / "ssh_config",
        )
        args = [(lab, n, i, k) for i, (n, k) in enumerate(zip(names, keys, strict=True), 1)]
        hosts = list(pool.map(lambda a: _start_host(*a), args))
    return replace(lab, hosts=tuple(hosts))


def up(
    n: int | None = None,
    *,
    state_dir: Path,
    names: Sequence[str] | None = None,
    network: Network | None = None,
    extra_hosts_entries: Sequence[tuple[str, str]] = (),
) -> TestHosts:
    """Start ``n`` hosts (named h1..hN) or one per name; clean up and raise on any failure.

    ``network`` defaults to one of this run's own (``unique_network``).
    ``extra_hosts_entries`` are ``(address, name)`` pairs added to every host's /etc/hosts.
    """
    network = network or unique_network("th")
    host_names = list(names) if names is not None else [f"h{i}" for i in range(1, (n or 0) + 1)]
    if n is not None and names is not None and n != len(host_names):
        raise TestHostsError(f"n={n} but {len(host_names)} names given")
    state_dir = Path(state_dir).absolute()
    _validate(host_names, network, state_dir)
    _refuse_stale(host_names, network, state_dir)
    _init_state(state_dir, host_names, network)
    try:
        _claim(network, state_dir)
    except BaseException:
        _remove_state_dir(state_dir)
        raise
    hosts_file = _hosts_file(host_names, network, extra_hosts_entries)
    try:
        return _bring_up(state_dir, host_names, network, hosts_file)
    except BaseException:
        down(state_dir)
        raise


@contextmanager
def testhosts(
    n: int | None = None,
    *,
    state_dir: Path,
    names: Sequence[str] | None = None,
    network: Network | None = None,
    extra_hosts_entries: Sequence[tuple[str, str]] = (),
) -> Iterator[TestHosts]:
    """``up`` on entry, ``down`` on exit whatever happens in between."""
    lab = up(
        n,
        state_dir=state_dir,
        names=names,
        network=network,
        extra_hosts_entries=extra_hosts_entries,
    )
    try:
        yield lab
    finally:
        down(lab.state_dir)


testhosts.__test__ = False  # type: ignore[attr-defined]


# --- tear down -----------------------------------------------------------------------------


def _netns_inode(ns: str) -> tuple[int, int] | None:
    try:
        st = Path("/run/netns", ns).stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def netns_pids(namespaces: Sequence[str]) -> list[int]:
    """PIDs whose network namespace is one of ``namespaces`` (``ip netns pids``, in one pass)."""
    wanted = {inode for ns in namespaces if (inode := _netns_inode(ns)) is not None}
    pids: list[int] = []
    for entry in os.scandir("/proc") if wanted else ():
        if not entry.name.isdigit():
            continue
        try:
            st = Path(entry.path, "ns/net").stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in wanted:
            pids.append(int(entry.name))
    return pids


def _signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reap(pids: Sequence[int]) -> None:
    """Wait for those of ``pids`` that this process launched, so none stays a zombie."""
    for pid in pids:
        if (proc := _LAUNCHED.pop(pid, None)) is not None:
            proc.wait(timeout=5)


def _kill_namespaces(namespaces: Sequence[str]) -> None:
    killed: set[int] = set()
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        pids = netns_pids(namespaces)
        killed.update(pids)
        _signal_all(pids, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            time.sleep(0.01)
            pids = netns_pids(namespaces)
        if not pids:
            break
    if left := netns_pids(namespaces):
        raise TestHostsError(f"processes survive in test host namespaces: {left}")
    _reap(sorted(killed))


def _targets(state_dir: Path, net: Network | None) -> tuple[Network, list[str], list[str]]:
    """Namespaces and veths to delete: from the state file, else by name pattern."""
    if (state_dir / STATE_FILE).exists():
        state = _load_state(state_dir)
        net = net or Network(**state["network"])
        indexes = range(1, len(state["names"]) + 1)
        return net, [net.namespace(i) for i in indexes], [net.veth(i) for i in indexes]
    if net is None:  # no state and no network named: nothing is provably ours
        return Network(), [], []
    ns_re = re.compile(re.escape(net.ns_prefix) + r"\d+")
    namespaces = [ns for ns in _netns_list() if ns_re.fullmatch(ns)]
    veth_re = re.compile(re.escape(net.veth_prefix) + r"\d+")
    veths = [p.name for p in Path("/sys/class/net").iterdir() if veth_re.fullmatch(p.name)]
    return net, namespaces, veths


def down(state_dir: Path, network: Network | None = None) -> None:
    """Remove everything a test-host set made: processes, namespaces, links, state folder.

    Works from the state folder alone (after a crash); ``network`` overrides it, and is needed
    only when the state file is gone.  Safe to call twice.
    """
    state_dir = Path(state_dir).absolute()
    net, namespaces, veths = _targets(state_dir, network)
    listed = set(_netns_list())
    existing = [ns for ns in namespaces if ns in listed]
    _kill_namespaces(existing)
    # Unmounting the namespaces lets the kernel free them (and their veth pairs) in one batch,
    # far faster than deleting each veth; stragglers are deleted explicitly.
    _ip_batch([f"netns del {ns}" for ns in existing], force=True)
    _wait_links_gone(veths, 5.0)
    links = [v for v in veths if _link_exists(v)] + ([net.bridge] if namespaces or veths else [])
    if (state_dir / STATE_FILE).exists() or network is not None:
        links = [*dict.fromkeys([*links, net.bridge])]
    _ip_batch([f"link del {link}" for link in links if _link_exists(link)], force=True)
    if left := [link for link in links if _link_exists(link)]:
        raise TestHostsError(f"links survive teardown: {left}")
    _release(net, state_dir)
    _remove_state_dir(state_dir)


def _wait_links_gone(links: Sequence[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_link_exists(link) for link in links) and time.monotonic() < deadline:
        time.sleep(0.005)


def _remove_state_dir(state_dir: Path) -> None:
    if not state_dir.exists():
        return
    if not (state_dir / STATE_FILE).exists() and any(state_dir.iterdir()):
        raise TestHostsError(f"{state_dir} is not a test-hosts state folder; left in place")
    shutil.rmtree(state_dir)


# --- probes --------------------------------------------------------------------------------


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


# --- command line --------------------------------------------------------------------------
