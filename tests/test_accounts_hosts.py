"""A client user's own files cannot turn dagsync's root into theirs: the reviewer's attacks on
the accounts resource, replayed on a real test host.

The user `deploy` controls its home: it replaces `~/.ssh` or `~/.ssh/authorized_keys` with a
link (to /etc, /etc/shadow, /root/.ssh), a FIFO or /dev/zero.  Plans (text, JSON, Markdown)
and the observer's read must leak nothing of what the link points to, must not hang, and must
refuse that account with a note; applies must change nothing outside the user's home, and
DAG's root keys survive.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import read_yaml, write_yaml
from dagsync.commands.reconcile import Scope, run_apply, run_plan
from dagsync.reconcile import observer_reads as obs_reads
from dagsync.reconcile.hosts import accounts
from dagsync.reconcile.hosts.accounts_read import KEYS_CAP
from dagsync.reconcile.resource import CommandResult
from dagsync.reconcile.transport.inventory import (
    HOSTS_FILE_ENV,
    SANDBOX_ENV,
    SSH_KEY_ENV,
    SSH_USER_ENV,
)
from dagsync.testing.hosts.checks import skip_reason
from dagsync.testing.hosts.host import TestHost
from dagsync.testing.hosts.lab import TestHosts, testhosts
from dagsync.testing.hosts.network import unique_network

pytestmark = [pytest.mark.hosts, pytest.mark.xdist_group("hosts-accounts")]

REPO = Path(__file__).resolve().parents[1]
NET = unique_network("acc")
# A password hash planted in the host's /etc/shadow: it must never reach a plan.
MARKER = "$6$leakmarker$Zq8vLm3Rt7wSecretHashThatMustNeverLeave"
SERVERS = Path("clients/velo-savoie/servers")


@dataclass
class World:
    lab: TestHosts
    root: Path
    deploy_key: Path

    @property
    def web1(self) -> TestHost:
        return self.lab["web1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if reason := skip_reason():
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("accounts")
    with pytest.MonkeyPatch.context() as mp:
        for var in (HOSTS_FILE_ENV, SSH_KEY_ENV, SSH_USER_ENV):
            mp.delenv(var, raising=False)
        mp.setenv(SANDBOX_ENV, "1")
        with testhosts(names=("web1",), state_dir=base / "th", network=NET) as lab:
            root = base / "repo"
            for folder in ("policies", "schemas"):
                shutil.copytree(REPO / folder, root / folder)
            shutil.copytree(REPO / "clients/velo-savoie", root / "clients/velo-savoie")
            key = base / "deploy"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploy@t", "-f", str(key)],
                check=True,
            )
            web1 = root / SERVERS / "web1.yaml"
            data = read_yaml(web1)
            data["accounts"] = [
                {
                    "name": "deploy",
                    "kind": "ssh",
                    "owner": "Vélo Savoie IT",
                    "keys": [key.with_suffix(".pub").read_text().strip()],
                }
            ]
            write_yaml(web1, data)
            host = lab["web1"]
            overrides = {
                "version": 1,
                "hosts": {
                    "velo-savoie/web1": {
                        "address": host.address,
                        "port": 22,
                        "host_key": host.host_key_public,
                    }
                },
                "ssh_key": str(lab.client_key),
            }
            (root / ".dagsync-sandbox").mkdir()
            (root / ".dagsync-sandbox/hosts.json").write_text(json.dumps(overrides))
            host.run(f"useradd -M -p '{MARKER}' victim", check=True)
            yield World(lab, root, key)


def scope(w: World, **changes: Any) -> Scope:
    return Scope(
        w.root, **{"servers": ("web1",), "kinds": ("accounts",), "connect_timeout": 3.0, **changes}
    )


def apply(w: World, **changes: Any) -> int:
    return run_apply(scope(w, **changes), yes=True, record=False)


def as_deploy(w: World, command: str) -> None:
    """What the client can do in its own home over SSH or SFTP, done as that user."""
    w.web1.run(f"runuser -u deploy -- sh -c {shlex.quote('cd && ' + command)}", check=True)


def ssh_login(w: World, user: str, key: Path) -> int:
    argv = [
        "ssh", "-F", "/dev/null", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o",
        "BatchMode=yes", "-o", f"UserKnownHostsFile={w.lab.known_hosts}", "-o",
        "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=3", "-l", user, w.web1.address, "true",
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, timeout=30).returncode


@pytest.fixture
def converged(world: World, capsys: pytest.CaptureFixture[str]) -> Iterator[World]:
    """deploy declared and converged; afterwards its home is repaired and converged again."""
    assert apply(world) == 0, capsys.readouterr()
    capsys.readouterr()
    assert ssh_login(world, "deploy", world.deploy_key) == 0
    yield world
    world.web1.run(
        "rm -rf /home/deploy/.ssh /home/deploy/f && usermod -U -e '' deploy; true", check=True
    )
    assert apply(world) == 0
    assert ssh_login(world, "deploy", world.deploy_key) == 0
    capsys.readouterr()


def plans(w: World, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The plan in every format, each given the time it took."""
    out = {}
    for fmt in ("text", "json", "markdown"):
        run_plan(scope(w), fmt, detailed_exitcode=True)
        out[fmt] = capsys.readouterr().out
    return out


def outside_state(host: TestHost) -> str:
    """What the attacks aim at: /etc's and /root/.ssh's owners and DAG's root keys."""
    return host.run(
        "stat -c '%n %U:%G %a' /etc /etc/shadow /root/.ssh /root/.ssh/authorized_keys;"
        " ls /etc/authorized_keys* 2>&1; sha256sum /etc/group /root/.ssh/authorized_keys;"
        " grep -v '^deploy:' /etc/shadow | sha256sum",
        check=True,
    ).stdout


def observer_read(host: TestHost) -> str:
    """The accounts read the observer's wrapper runs for `accounts deploy` (`sh -c`, root)."""
    script = obs_reads.table()["accounts"].render(["deploy"])
    return host.run(script, check=True, timeout=30).stdout


def test_ssh_linked_to_etc_is_refused_and_apply_leaves_etc_alone(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    before = outside_state(w.web1)
    as_deploy(w, "rm .ssh/authorized_keys && rmdir .ssh && ln -s /etc .ssh")
    shown = plans(w, capsys)
    note = "refused: deploy: ~/.ssh is a symbolic link; its keys are neither read nor written"
    assert note in shown["text"]
    assert note in shown["markdown"]
    assert note in shown["json"]
    for text in shown.values():
        assert "+ key" not in text and "root:" not in text
    assert apply(w) == 0
    assert outside_state(w.web1) == before
    assert "cannot access '/etc/authorized_keys*'" in before


def test_keys_linked_to_shadow_leak_nothing_into_any_plan_or_the_observer_read(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    before = outside_state(w.web1)
    as_deploy(w, "rm .ssh/authorized_keys && ln -s /etc/shadow .ssh/authorized_keys")
    shown = plans(w, capsys)
    for text in [*shown.values(), observer_read(w.web1)]:
        assert "leakmarker" not in text and "victim" not in text and "root:" not in text
    assert "refused: deploy: ~/.ssh/authorized_keys is a symbolic link" in shown["text"]
    assert "refused\tdeploy\tkeys-link\n" in observer_read(w.web1)
    assert apply(w) == 0
    assert outside_state(w.web1) == before


def test_a_fifo_or_dev_zero_as_the_keys_file_neither_hangs_nor_exhausts_the_plan(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    as_deploy(w, "rm .ssh/authorized_keys && mkfifo .ssh/authorized_keys")
    started = time.monotonic()
    shown = plans(w, capsys)
    assert time.monotonic() - started < 30
    assert (
        "refused: deploy: ~/.ssh/authorized_keys is not a regular file owned by the user"
        in shown["text"]
    )
    as_deploy(w, "rm .ssh/authorized_keys && ln -s /dev/zero .ssh/authorized_keys")
    shown = plans(w, capsys)
    assert "refused: deploy: ~/.ssh/authorized_keys is a symbolic link" in shown["text"]
    # A file swapped after the checks is read as the user, at most KEYS_CAP bytes, in time:
    # an oversized file (what /dev/zero would give) is refused whole, none of it shown.
    as_deploy(w, "rm .ssh/authorized_keys && head -c 300000 /dev/zero > .ssh/authorized_keys")
    shown = plans(w, capsys)
    assert f"authorized_keys is larger than {KEYS_CAP} bytes" in shown["text"]


def test_lines_that_are_not_keys_are_counted_never_shown(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    as_deploy(w, "printf 'secret-passphrase-Zq8vLm3Rt7w\\n' >> .ssh/authorized_keys")
    shown = plans(w, capsys)
    assert "- 1 line(s) of the keys file that are not key lines" in shown["text"]
    assert all("Zq8vLm3Rt7w" not in text for text in shown.values())
    assert apply(w) == 0
    assert "Zq8v" not in w.web1.run("cat /home/deploy/.ssh/authorized_keys", check=True).stdout


def test_locking_through_a_link_to_root_ssh_keeps_dags_root_keys(
    converged: World, capsys: pytest.CaptureFixture[str]
) -> None:
    w = converged
    before = outside_state(w.web1)
    as_deploy(w, "rm -r .ssh && ln -s /root/.ssh .ssh")
    web1 = w.root / SERVERS / "web1.yaml"
    original = web1.read_text()
    data = read_yaml(web1)
    data["accounts"] = []
    write_yaml(web1, data)
    try:
        assert apply(w) == 0
        out = capsys.readouterr().out
        assert "lock user deploy" in out
    finally:
        web1.write_text(original)
    assert outside_state(w.web1) == before
    assert w.web1.run("test -e /home/deploy/.ssh").returncode == 1  # the link itself is gone
    assert ssh_login(w, "root", w.lab.client_key) == 0  # DAG keeps its access
    shadow = w.web1.run("getent shadow deploy", check=True).stdout
    assert shadow.split(":")[1].startswith("!")


def test_the_read_flags_users_in_admin_groups_or_sudoers(world: World) -> None:
    world.web1.run(
        "useradd -m -G adm ops1 && useradd -m ops2 && useradd -m ops3 && mkdir -p /etc/sudoers.d"
        " && echo 'ops2 ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/90-ops2",
        check=True,
    )
    specs = [accounts.AccountSpec(n, "ssh", "/bin/bash", (), "") for n in ("ops1", "ops2", "ops3")]
    result = world.web1.run(accounts.read(specs), check=True)
    observed = accounts.parse(CommandResult(0, result.stdout, ""))
    assert isinstance(observed, accounts.AccountsObserved)
    assert {u.name: u.privileged for u in observed.users if u.name.startswith("ops")} == {
        "ops1": "in a privileged group",
        "ops2": "named in sudoers",
        "ops3": None,
    }
