"""One test host: its folders, keys and ``sshd`` config, the launch of its ``sshd`` in fresh
mount and UTS namespaces, and the ``TestHost`` that acts in it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dagsync.testing.hosts.network import Network
from dagsync.testing.hosts.probes import tcp_probe
from dagsync.testing.hosts.system import _PATH, TestHostsError, _keygen, _read_logs, _run

SSH_PORT = 22
CLIENT_KEY = "id_ed25519"
READY_TIMEOUT = 10.0
_LAUNCHED: dict[int, subprocess.Popen[bytes]] = {}  # sshd children of this process, to reap


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
