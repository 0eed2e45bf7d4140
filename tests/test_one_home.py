"""Every dagsync name has one home: it is imported from the module that defines it.

A re-export (a package `__init__` or a module that imports a name only to hand it on) gives a
name two homes; after a split, readers then find it in one place and edit it in another. The
check reads the source with `ast` (no import): every `from dagsync.X import name` and every
`module.name` on a dagsync module bound in the same scope must name a module that defines
`name` at its top level (a def, a class or an assignment) or a submodule called `name`.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from functools import cache
from pathlib import Path

PROJECT = Path(__file__).parents[1]
SOURCE = PROJECT / "src"
CHECKED = (SOURCE / "dagsync", PROJECT / "tests", PROJECT / "bench")
MODULE_DUNDERS = {"__doc__", "__file__", "__name__", "__path__", "__version__"}


def _file(module: str) -> Path | None:
    base = SOURCE / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


@cache
def _defined(module: str) -> frozenset[str]:
    path = _file(module)
    assert path is not None, module
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try):  # a definition that depends on a version
            for inner in ast.walk(node):
                if isinstance(inner, ast.FunctionDef | ast.ClassDef):
                    names.add(inner.name)
                elif isinstance(inner, ast.Assign):
                    names.update(t.id for t in inner.targets if isinstance(t, ast.Name))
    return frozenset(names)


def _has(module: str, name: str) -> bool:
    return (
        name in _defined(module) or _file(f"{module}.{name}") is not None or name in MODULE_DUNDERS
    )


def _scopes(tree: ast.Module) -> Iterator[tuple[ast.AST, list[ast.AST]]]:
    """Each scope (the module, each function) with the nodes that belong to it alone."""
    pending: list[ast.AST] = [tree]
    while pending:
        scope = pending.pop()
        own: list[ast.AST] = []
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                pending.append(node)
                continue
            own.append(node)
            stack.extend(ast.iter_child_nodes(node))
        yield scope, own


def _second_homes(path: Path, root: Path = PROJECT) -> Iterator[str]:
    tree = ast.parse(path.read_text())
    where = path.relative_to(root)
    module_bound: dict[str, str] = {}
    for scope, nodes in _scopes(tree):
        bound = dict(module_bound) if scope is not tree else module_bound
        if scope is not tree:  # a local or an argument hides the module's name
            arguments = (
                scope.args
                if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                else None
            )
            hidden = (
                {a.arg for a in ast.walk(arguments) if isinstance(a, ast.arg)}
                if arguments
                else set()
            )
            hidden |= {
                n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            for name in hidden:
                bound.pop(name, None)
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if not node.module.startswith("dagsync"):
                    continue
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if _file(full) is not None:
                        bound[alias.asname or alias.name] = full
                    elif not _has(node.module, alias.name):
                        yield f"{where}:{node.lineno}: {alias.name} is not defined in {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("dagsync.") and alias.asname:
                        bound[alias.asname] = alias.name
        for node in nodes:
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and not _has(bound[node.value.id], node.attr)
            ):
                module = bound[node.value.id]
                yield f"{where}:{node.lineno}: {node.attr} is not defined in {module}"


def _snippets(path: Path) -> Iterator[tuple[int, str]]:
    """Python programs written as strings (scripts a test runs in a child interpreter)."""
    for node in ast.walk(ast.parse(path.read_text())):
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and ("from dagsync" in text or "import dagsync" in text):
            code = textwrap.dedent(text)
            try:
                ast.parse(code)
            except SyntaxError:  # prose or a shell line that names a module
                continue
            yield node.lineno, code


def test_programs_written_as_strings_import_from_the_defining_module_too(tmp_path: Path) -> None:
    found = []
    for folder in CHECKED:
        for path in sorted(folder.rglob("*.py")):
            if path.name == Path(__file__).name:  # its own samples are re-exports on purpose
                continue
            for lineno, code in _snippets(path):
                snippet = tmp_path / "snippet.py"
                snippet.write_text(code)
                found += [
                    f"{path.relative_to(PROJECT)}:{lineno}+{line}"
                    for line in _second_homes(snippet, tmp_path)
                ]
    assert found == []


def test_every_dagsync_name_is_imported_from_the_module_that_defines_it() -> None:
    found = [
        line
        for folder in CHECKED
        for path in sorted(folder.rglob("*.py"))
        for line in _second_homes(path)
    ]
    assert found == []


def test_a_re_export_is_found(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from dagsync.reconcile.drivers import plan_all\n"  # defined in reconcile.combine
        "from dagsync.reconcile import drivers\n\n\n"
        "def f() -> object:\n    return drivers.Combined\n"
    )
    assert list(_second_homes(sample, tmp_path)) == [
        "sample.py:1: plan_all is not defined in dagsync.reconcile.drivers",
        "sample.py:6: Combined is not defined in dagsync.reconcile.drivers",
    ]


def test_a_name_from_its_own_module_passes(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from dagsync.reconcile.combine import plan_all\n"
        "from dagsync.reconcile import drivers\n\n\n"
        "def f() -> object:\n    return drivers.DRIVERS, plan_all\n"
    )
    assert list(_second_homes(sample, tmp_path)) == []
