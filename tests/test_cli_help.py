"""`dagsync --help` lists every command with its whole first sentence, never cut with "..."."""

from __future__ import annotations

import pytest

from dagsync.cli import LAZY_COMMANDS, main


def test_the_command_list_keeps_each_summary_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    commands = out.split("Commands:\n", 1)[1]
    assert "..." not in commands
    listed = [
        line.split()[0]
        for line in commands.splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == sorted({*LAZY_COMMANDS, "validate", "schema"})
    flat = " ".join(commands.split())
    assert (
        "validate Check client files against the model, the CGV rules and the repository invariants."
        in flat
    )
    assert (
        "plan Show what apply would change: servers, backups, shared mail, OVH (nothing is changed)."
        in flat
    )
