"""A fully cached validation run stays light: it imports neither pydantic nor ruamel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from pathlib import Path
from dagsync.validate.run import validate_repository
result = validate_repository(Path(sys.argv[1]))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "ruamel"))
print(json.dumps({"heavy": heavy, "errors": result.summary.errors, "clients": result.clients}))
"""


def _run(repo: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo)], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out))


def test_a_second_run_with_nothing_changed_imports_neither_pydantic_nor_ruamel(
    tmp_path: Path,
) -> None:
    for part in ("clients", "policies"):
        shutil.copytree(ROOT / part, tmp_path / part)
    first = _run(tmp_path)
    assert first["heavy"]  # the first run really validated (and so loaded the model)
    second = _run(tmp_path)
    assert second == {"heavy": [], "errors": 0, "clients": first["clients"]}
