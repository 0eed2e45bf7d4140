"""Mutation testing with mutmut 3, one target at a time, in a scratch copy of the checkout.

    python bench/mutation.py calendar rules/backup_storage [--rev HEAD] [--keep DIR] [--show]
    python bench/mutation.py --list
    python bench/mutation.py rules/access --first tests/test_rule_findings_access.py
    python bench/mutation.py rules/mail --first tests/test_rule_findings_mail.py --first-only

For each target: copy the checkout (the working tree, or `git archive REV`) to a scratch
folder, add a `[tool.mutmut]` section for that target alone to the copy's pyproject.toml,
run `mutmut run --max-children 1` there (the machine's cores are shared: one worker), read
`mutmut results --all true`, and print the score per module: killed (a test failed, or the
mutant timed out) / all mutants counted.  The checkout itself is never written to.

A target may count only some functions of its modules (`functions`): the reconcile diff
functions live in modules that also hold their read commands and executors.

Targets (issue 22): >= 90% on rules and the contract calendar, >= 85% on diffs and
renderers.  The exit code is 0 only when every target run reaches its score.  Not part of
CI: a run takes minutes per module.  Survivors judged equivalent are listed, with the
reason, in bench/mutation-results.md.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ["clients", "policies", "schemas", "docs", "bench"]  # besides src/, tests/: read by tests
KILLED = {"killed", "timeout"}
COUNTED = KILLED | {"survived", "no tests", "suspicious"}


@dataclass(frozen=True)
class Target:
    name: str
    sources: tuple[str, ...]  # files to mutate, relative to the checkout
    tests: tuple[str, ...]  # test files that may kill them
    goal: float  # percent
    functions: str | None = None  # regex on function names: count only those
    undecorate: bool = False  # apply top-level decorators by assignment (see `undecorate`)


RULE_TESTS = (
    "tests/test_rules_cases.py",
    "tests/test_rules_catalogue.py",
    "tests/test_rules_backup_mutants.py",
)
RULES = (
    "access_accounts",
    "access_root",
    "advice",
    "backup_schedule",
    "backup_storage",
    "contract_common",
    "contract_grounds",
    "contract_payment",
    "contract_prices",
    "contract_term",
    "contract_termination",
    "edge",
    "mail",
    "repository",
    "secrets",
    "secrets_patterns",
    "security_firewall",
    "security_protections",
    "structural",
    "supervision",
    "supply",
)

TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target(
            "calendar",
            ("src/dagsync/contract/calendar.py",),
            (
                "tests/test_calendar.py",
                "tests/test_calendar_mutants.py",
                "tests/test_contracts.py",
                "tests/test_deadlines.py",
            ),
            90.0,
        ),
        Target(
            "contracts",
            ("src/dagsync/contract/lifecycle.py",),
            ("tests/test_contracts.py", "tests/test_contracts_mutants.py"),
            90.0,
        ),
        Target(
            "deadlines",
            ("src/dagsync/contract/deadlines.py",),
            (
                "tests/test_deadlines.py",
                "tests/test_deadlines_mutants.py",
                "tests/test_contracts.py",
            ),
            90.0,
        ),
        *[
            Target(
                f"rules/{name}",
                (f"src/dagsync/rules/{name}.py",),
                RULE_TESTS
                + (f"tests/test_rule_findings_{name.split('_')[0]}.py",)  # the area's, if any
                + (("tests/test_rules_secrets.py",) if name.startswith("secrets") else ()),
                90.0,
                undecorate=True,
            )
            for name in RULES
        ],
        Target(
            "diffs",
            (
                "src/dagsync/reconcile/hosts/firewall.py",
                "src/dagsync/reconcile/hosts/accounts.py",
                "src/dagsync/reconcile/hosts/rootaccess.py",
            ),
            (
                "tests/test_reconcile_resources.py",
                "tests/test_reconcile_plan.py",
                "tests/test_diffs_mutants.py",
            ),
            85.0,
            functions=r"diff|_details|_chain_details|_declared|_undeclared|_user_details|_change",
        ),
        Target(
            "report",
            ("src/dagsync/validate/report.py",),
            (
                "tests/test_report.py",
                "tests/test_validate_cli.py",
                "tests/test_report_mutants.py",
            ),
            85.0,
        ),
        Target(
            "render",
            ("src/dagsync/reconcile/render.py",),
            ("tests/test_reconcile_plan.py", "tests/test_render_mutants.py"),
            85.0,
        ),
        Target(
            "renderers",
            ("src/dagsync/reconcile/render.py", "src/dagsync/validate/report.py"),
            (
                "tests/test_reconcile_plan.py",
                "tests/test_report.py",
                "tests/test_validate_cli.py",
                "tests/test_render_mutants.py",
            ),
            85.0,
        ),
    ]
}

_RESULT = re.compile(r"^\s*(\S+__mutmut_\d+): (.+)$")
_FUNCTION = re.compile(r"\.x[_ǁ](.+?)__mutmut_\d+$")


def _module_of(mutant: str) -> str:
    return mutant.split(".x_")[0].split(".xǁ")[0]


def export(rev: str | None, into: Path) -> None:
    """The checkout's files (tracked and untracked, not ignored), or those of `rev`."""
    if rev is not None:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
        ).stdout
        with tempfile.TemporaryFile() as tmp:
            tmp.write(archive)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp) as tar:
                tar.extractall(into, filter="data")
        return
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / rel)


def undecorate(source: str) -> str:
    """`@rule(...)` on `def f` becomes `f = rule(...)(f)` after it: the same module once
    imported, but mutmut 3 mutates only undecorated functions (a rule's check is decorated)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in reversed(tree.body):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.decorator_list:
            continue
        applied = node.name
        for decorator in reversed(node.decorator_list):
            applied = f"({ast.get_source_segment(source, decorator)})({applied})"
        assert node.end_lineno is not None
        lines.insert(node.end_lineno, f"{node.name} = {applied}\n")
        first = node.decorator_list[0].lineno - 1  # the line of the first `@`
        del lines[first : node.lineno - 1]
    return "".join(lines)


def configure(copy: Path, target: Target) -> None:
    def toml_list(items: tuple[str, ...] | list[str]) -> str:
        return "[" + ", ".join(f'"{i}"' for i in items) + "]"

    if target.undecorate:
        for rel in target.sources:
            (copy / rel).write_text(undecorate((copy / rel).read_text()))
    tests = tuple(t for t in target.tests if (copy / t).is_file())
    section = (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f"also_copy = {toml_list(COPY)}\n"
        f"only_mutate = {toml_list(target.sources)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not hosts", "-q"]\n'
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
    )
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    if "[tool.mutmut]" in text:
        raise SystemExit(f"{pyproject}: already has a [tool.mutmut] section")
    pyproject.write_text(text + section)


def results(copy: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {m[1]: m[2].strip() for line in out.splitlines() if (m := _RESULT.match(line))}


def show(copy: Path, mutant: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", mutant],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "\n".join(
        line
        for line in out.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def _selection(copy: Path, tests: tuple[str, ...]) -> None:
    """Make `tests` (those that exist in the copy) mutmut's test selection in the copy."""
    listed = ", ".join(f'"{t}"' for t in tests if (copy / t).is_file())
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(
        re.sub(
            r"(?m)^pytest_add_cli_args_test_selection = \[.*\]$",
            lambda _: f"pytest_add_cli_args_test_selection = [{listed}]",
            pyproject.read_text(),
        )
    )


def _mutmut_run(copy: Path, names: list[str], log: Path) -> int:
    with log.open("a") as sink:
        return subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", "1", *names],
            cwd=copy,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode


def run_target(
    target: Target,
    rev: str | None,
    keep: Path | None,
    verbose: bool,
    first: tuple[str, ...] | None = None,
    first_only: bool = False,
) -> bool:
    """Run `target`; with `first`, those tests over every mutant, then the target's whole
    selection over the survivors only (a mutant a subset kills, the whole selection kills).
    With `first_only`, no second pass: the score is a lower bound (the whole selection can
    only kill more), printed as such."""
    copy = (keep / target.name.replace("/", "-")) if keep else Path(tempfile.mkdtemp())
    if keep and copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True, exist_ok=True)
    try:
        export(rev, copy)
        configure(copy, replace(target, tests=first) if first else target)
        started = time.monotonic()
        log = copy / "mutmut-run.log"
        log.write_text("")
        code = _mutmut_run(copy, [], log)
        found = results(copy)
        survivors = [m for m, v in found.items() if v not in KILLED]
        if first and survivors and not first_only:
            # mutmut forgets every result when the test selection changes: keep the first
            # pass's verdicts and take the second's for the survivors it re-ran.
            _selection(copy, target.tests)
            code = _mutmut_run(copy, survivors, log)
            again = results(copy)
            found = {m: again.get(m, v) if m in survivors else v for m, v in found.items()}
        seconds = time.monotonic() - started
        if code != 0 and not any(v in COUNTED for v in found.values()):
            tail = log.read_text(errors="replace")[-2000:]
            print(f"{target.name}: mutmut failed (exit {code}):\n{tail}")
            return False
        if target.functions is not None:
            wanted = re.compile(target.functions)
            found = {
                k: v
                for k, v in found.items()
                if (f := _FUNCTION.search(k)) and wanted.search(f[1].split("ǁ")[-1])
            }
        if first and first_only:
            print(f"(lower bound: only {' '.join(first)} was run)")
        return report(target, found, seconds, copy, verbose)
    finally:
        if keep is None:
            shutil.rmtree(copy, ignore_errors=True)


def report(
    target: Target, found: dict[str, str], seconds: float, copy: Path, verbose: bool
) -> bool:
    by_module: dict[str, Counter[str]] = {}
    for mutant, status in found.items():
        by_module.setdefault(_module_of(mutant), Counter())[status] += 1
    ok = bool(found)
    print(f"## {target.name} ({seconds:.0f} s, goal {target.goal:.0f}%)")
    for module, counts in sorted(by_module.items()):
        counted = sum(n for s, n in counts.items() if s in COUNTED)
        killed = sum(n for s, n in counts.items() if s in KILLED)
        score = 100.0 * killed / counted if counted else 0.0
        ok = ok and score >= target.goal
        others = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in KILLED)
        print(
            f"{module}: {score:.1f}% ({killed} of {counted} killed{'; ' if others else ''}{others})"
        )
    survivors = sorted(m for m, s in found.items() if s not in KILLED)
    for mutant in survivors:
        print(f"  {found[mutant]}: {mutant}")
        if verbose:
            for line in show(copy, mutant).splitlines():
                print(f"      {line}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", help="targets to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--rev", help="mutate this git revision instead of the working tree")
    parser.add_argument("--keep", type=Path, help="keep each scratch copy under this folder")
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument(
        "--first",
        nargs="+",
        metavar="FILE",
        help="run these test files over every mutant first, then the target's whole selection "
        "over their survivors only (the same score, much faster when these files kill most)",
    )
    parser.add_argument(
        "--first-only",
        action="store_true",
        help="with --first: skip the second pass; the score is then a lower bound",
    )
    args = parser.parse_args(argv)
    if args.list or not args.targets:
        for t in TARGETS.values():
            print(f"{t.name:18} goal {t.goal:.0f}%  {' '.join(t.sources)}")
        return 0
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)} (see --list)")
    if shutil.which("git") is None:
        parser.error("git is needed to copy the checkout")
    try:
        import mutmut  # noqa: F401
    except ImportError:
        parser.error("mutmut is not installed: pip install -e '.[bench]'")
    first = tuple(args.first) if args.first else None
    outcomes = [
        run_target(TARGETS[name], args.rev, args.keep, args.show, first, args.first_only)
        for name in args.targets
    ]
    return 0 if all(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
