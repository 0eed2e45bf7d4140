"""The README's two set-up commands are what CI runs, as written."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_the_readme_has_exactly_two_set_up_commands_main_job_then_tests() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    main_job, tests = commands
    assert "\n" not in main_job and "\n" not in tests
    assert main_job.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert main_job.endswith("dagsync validate")
    assert tests.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert "python3 -m pytest" in tests


def test_ci_runs_both_readme_commands_verbatim_in_order() -> None:
    lines = [line.strip() for line in (PROJECT / ".ci" / "run").read_text().splitlines()]
    positions = [lines.index(command) for command in _setup_commands()]
    assert positions == sorted(positions)
    assert positions[-1] == max(
        i for i, line in enumerate(lines) if line and not line.startswith("#")
    )
