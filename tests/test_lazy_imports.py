"""Imports inside functions stay only where they pay, and say so.

Outside the command modules, cli.py and the driver table, every import inside a function has a
`# lazy:` comment on the line before it, and really keeps its module out: importing the
module that contains it (in a fresh interpreter) does not load the module it imports.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT = Path(__file__).parents[1]
SOURCE = PROJECT / "src"
LAZY_BY_DESIGN = ("dagsync/commands/", "dagsync/cli.py", "dagsync/reconcile/drivers.py")


def _module(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _function_imports(path: Path) -> dict[int, ast.Import | ast.ImportFrom]:
    found: dict[int, ast.Import | ast.ImportFrom] = {}
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    found[node.lineno] = node
    return found


def _checked() -> dict[Path, dict[int, ast.Import | ast.ImportFrom]]:
    files = {}
    for path in sorted((SOURCE / "dagsync").rglob("*.py")):
        if str(path.relative_to(SOURCE)).startswith(LAZY_BY_DESIGN):
            continue
        if imports := _function_imports(path):
            files[path] = imports
    return files


def test_every_import_inside_a_function_says_why_it_is_there() -> None:
    missing = []
    for path, imports in _checked().items():
        lines = path.read_text().splitlines()
        for lineno in imports:
            if not lines[lineno - 2].strip().startswith("# lazy:"):
                missing.append(f"{path.relative_to(PROJECT)}:{lineno}")
    assert missing == []


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert node.level == 0 and node.module, "relative imports are not used"
    base = SOURCE / node.module.replace(".", "/")
    return [
        f"{node.module}.{alias.name}"
        if (base / f"{alias.name}.py").exists() or (base / alias.name / "__init__.py").exists()
        else node.module
        for alias in node.names
    ]


def test_every_lazy_import_keeps_its_module_out_of_its_importers_load() -> None:
    wanted: dict[str, set[str]] = defaultdict(set)
    for path, imports in _checked().items():
        for node in imports.values():
            wanted[_module(path)].update(_targets(node))
    program = (
        "import importlib, json, sys\n"
        "wanted = json.loads(sys.argv[1])\n"
        "loaded = {}\n"
        "for module, targets in wanted.items():\n"
        "    importlib.import_module(module)\n"
        "    loaded[module] = sorted(t for t in targets if t in sys.modules)\n"
        "print(json.dumps(loaded))\n"
    )

    def loaded(module: str) -> list[str]:  # in a fresh interpreter of its own
        run = subprocess.run(
            [sys.executable, "-c", program, json.dumps({module: sorted(wanted[module])})],
            capture_output=True,
            text=True,
            check=True,
        )
        result: list[str] = json.loads(run.stdout)[module]
        return result

    with ThreadPoolExecutor(4) as pool:
        already = dict(zip(sorted(wanted), pool.map(loaded, sorted(wanted)), strict=True))
    pointless = {module: names for module, names in already.items() if names}
    assert pointless == {}
