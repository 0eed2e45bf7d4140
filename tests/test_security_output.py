"""What the security services print: server-supplied names (AIDE's and ClamAV's reports) are
escaped in every output format, so a hostile file name cannot forge a line of dagsync's
output (a GitHub workflow command such as `::error::`, an ANSI escape, a bidi override)."""

from __future__ import annotations

import json

import pytest

from dagsync.reconcile.security import aide, antivirus
from dagsync.reconcile.security.text import visible

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
