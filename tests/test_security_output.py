"""What the security services print: server-supplied names (AIDE's and ClamAV's reports) are
escaped in every output format, so a hostile file name cannot forge a line of dagsync's
output (a GitHub workflow command such as `::error::`, an ANSI escape, a bidi override)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.reconcile.run import RunOptions, Selection
from dagsync.reconcile.security import aide, antivirus
from dagsync.reconcile.security import driver as security_driver
from dagsync.reconcile.security.credentials import SECRET_ENV
from dagsync.reconcile.security.decisions import BEGIN, END, Decision, parse, proposals, seconds
from dagsync.reconcile.security.scope import scopes
from dagsync.reconcile.security.text import visible
from dagsync.reconcile.transport.inventory import HOSTS_FILE_ENV, Overrides
from dagsync.validate.repository import load_repository

REPO = Path(__file__).resolve().parents[1]

HOSTILE = (
    "/var/www/up\n::error title=forged::all clean",
    "/var/www/up\r::set-output name=x::y",
    "/var/www/\x1b[2J\x1b[1;1Hclean",
    "/var/www/invoice\u202efdp.exe",
    "/var/www/a\\nb",
    "/var/www/\x00\x07\x7f\x85\u2028z",
)


def _safe(line: str) -> bool:
    return line.isprintable() and "\n" not in line and "\x1b" not in line


@pytest.mark.parametrize("name", HOSTILE)
def test_visible_text_is_one_printable_line_that_tells_names_apart(name: str) -> None:
    shown = visible(name)
    assert _safe(shown)
    assert shown.startswith("/var/www/")
    others = {visible(n) for n in HOSTILE if n != name}
    assert shown not in others


def test_a_backslash_is_escaped_so_an_escape_cannot_be_faked() -> None:
    assert visible("a\\nb") == "a\\\\nb"
    assert visible("a\nb") == "a\\nb"
    assert visible("a\\nb") != visible("a\nb")


def test_aide_names_are_escaped_in_its_status_lines_and_json() -> None:
    report = json.dumps(
        {"number_of_entries": {"total": 9}, "added": dict.fromkeys(HOSTILE, "f+++"), "changed": {}}
    )
    found = aide.parse_report(report)
    lines = found.lines("alpha/a1")
    assert len(lines) == len(HOSTILE)
    for line in lines:
        assert _safe(line), line
        assert not line.startswith("::")
    assert "alpha/a1: file added since the last apply: /var/www/up\\n::error" in "\n".join(lines)
    for path in found.added:  # what a JSON output holds is escaped the same way
        assert _safe(path)


def test_clamav_names_are_escaped_even_across_line_breaks() -> None:
    """clamscan prints a name raw: a newline in it splits the FOUND line in two; the name is
    put back together, then escaped."""
    report = "".join(f"{n}: Eicar-Signature FOUND\n" for n in HOSTILE) + "exit 1\n"
    found = antivirus.parse_scan(report)
    assert [sig for _, sig in found.found] == ["Eicar-Signature"] * len(HOSTILE)
    assert found.found[0][0] == "/var/www/up\\n::error title=forged::all clean"
    for line in found.lines("alpha/a1"):
        assert _safe(line), line


def test_a_report_whose_infected_files_cannot_be_named_is_an_error() -> None:
    assert antivirus.parse_scan("LibClamAV Warning: old db\nexit 1\n").error == (
        "clamscan found infected files that its report does not name"
    )


def test_clamscans_own_warnings_do_not_hide_the_next_detection() -> None:
    report = "LibClamAV Warning: old db\n/srv/x: Eicar FOUND\nexit 1\n"
    assert antivirus.parse_scan(report).found == (("/srv/x", "Eicar"),)


# --- the live decisions ---------------------------------------------------------------------


def _alerts(*decisions: dict[str, str], machine: str = "alpha.a1") -> str:
    return json.dumps([{"machine_id": machine, "decisions": list(decisions)}])


def _ban(value: str, duration: str = "719h59m58.5s", **extra: str) -> dict[str, str]:
    base = {"type": "ban", "value": value, "duration": duration, "origin": "cscli"}
    return {**base, "scenario": "manual", **extra}


def test_go_durations_are_read_and_junk_is_unknown() -> None:
    assert seconds("719h59m58.5s") == 719 * 3600 + 59 * 60 + 58.5
    assert seconds("3m2s") == 182
    assert seconds("-1m") == -60
    assert seconds("12ms") is None and seconds("") is None and seconds("soon") is None


def test_the_listing_keeps_bans_of_addresses_and_escapes_every_text() -> None:
    out = (
        f"{BEGIN} network\n"
        + _alerts(
            _ban("203.0.113.7", scenario="ssh-bf\n::error::forged"),
            _ban("not-an-address\n::warning::x"),
            _ban("198.51.100.0/24", type="captcha"),
            machine="alpha.a1\x1b[2J",
        )
        + f"\n{END}\n{BEGIN} client.delta\nnull\n\n{END}\n{BEGIN} server.c.c1\nerror\n\n{END}\n"
    )
    found, failed = parse(out)
    assert [(d.scope, d.value) for d in found] == [("network", "203.0.113.7/32")]
    assert found[0].scenario == "ssh-bf\\n::error::forged"
    assert found[0].machine == "alpha.a1\\x1b[2J"
    assert failed == ["server.c.c1"]


def test_only_long_lived_decisions_not_in_git_and_allowed_in_a_blocklist_are_proposed(
    tmp_path: Path,
) -> None:
    shutil.copytree(REPO / "clients", tmp_path / "clients")
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    repo = load_repository(tmp_path, validate=False)
    (client,) = [c for c in repo.clients if c.client.network.blocklist][:1]
    listed = client.client.network.blocklist[0].address
    server_ip = str(next(s for _, s in repo.servers()).ips[0])
    scope = next(s for s in scopes(repo.clients, 8080) if s.has(client.id, client.servers[0].name))
    member = next(m for m in scope.members if m.client == client.id)
    live = [
        Decision(scope.key, "203.0.113.192/28", "cscli", "SOC", member.name, 30 * 86400),
        Decision(scope.key, "203.0.113.197/32", "cscli", "SOC", member.name, 30 * 86400),  # inside
        Decision(scope.key, "203.0.113.250/32", "crowdsec", "ssh-bf", member.name, 4 * 3600),
        Decision(scope.key, "203.0.113.251/32", "crowdsec", "ssh-bf", member.name, None),
        Decision(scope.key, f"{server_ip}/32", "cscli", "typo", member.name, 30 * 86400),
        Decision(scope.key, str(listed), "cscli", "again", member.name, 30 * 86400),
        Decision(scope.key, "192.0.2.5/32", "cscli", "DAG's own", member.name, 30 * 86400),
    ]
    found = proposals(repo, live)
    assert [(p.client, str(p.network)) for p in found] == [(member.client, "203.0.113.192/28")]
    assert found[0].reason.startswith("CrowdSec decision (cscli: SOC), 720 h left")
    assert [str(p.network) for p in proposals(repo, live, min_hours=3)] == [
        "203.0.113.192/28",
        "203.0.113.250/32",
    ]


# --- `dagsync block`'s push by default ------------------------------------------------------


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("clients", "policies", "schemas"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    monkeypatch.delenv(HOSTS_FILE_ENV, raising=False)
    return tmp_path


def _block(example: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    argv = ["block", "203.0.113.222", "--client", "alpine-books", "--reason", "scan", *extra]
    code = main([*argv, "--repo", str(example)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_block_tries_the_push_by_default_and_warns_when_it_cannot_start(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _block(example, capsys)
    assert code == 0, out
    assert "dagsync: warning: not pushed at once (security host sec1: no address" in out
    assert "203.0.113.222/32" in (example / "clients/alpine-books/client.yaml").read_text()


def test_block_now_fails_when_the_push_cannot_start_and_no_now_does_not_try(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _block(example, capsys, "--now")
    assert code == 1 and "dagsync: error: not pushed (security host sec1" in out
    (example / "clients/alpine-books/client.yaml").write_text(
        (REPO / "clients/alpine-books/client.yaml").read_text()
    )
    code, out = _block(example, capsys, "--no-now")
    assert code == 0 and "pushed" not in out


def test_without_the_master_secret_the_plan_says_so_on_the_security_host_and_reads_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    repo = load_repository(REPO, validate=False)
    plan = security_driver.plan(repo, Selection(), Overrides(), RunOptions())
    (target,) = plan.targets
    assert target.target.key == "dag/sec1" and not target.changes and not target.reads
    assert [n.text for n in target.notes] == [
        f"security services not planned: set {SECRET_ENV} (at least 32 bytes)"
    ]
