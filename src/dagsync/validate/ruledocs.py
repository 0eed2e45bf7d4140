"""Rule documentation: the fixed docstring sections, and the catalogue as text or Markdown.

A rule's docstring is its documentation: a one-line title, then these sections, in order::

    What it checks:        the exact condition, in English
    Why:                   the CGV clause it enforces, and what breaking it costs
    Failing example (F):   a YAML fragment of file F (of the example repository) that fails
    Passing example (F):   the same fragment, passing
    Fix:                   what to change

A rule may add, after its passing example, any number of::

    Also passing example (F):   another legitimate configuration the rule accepts

so that each kind of configuration the CGV allows has a passing example (tested like the
others). The catalogue ends with the CGV sentences no rule checks
(`dagsync.rules.uncheckable`), each with the reason or the place it is enforced instead.

The French clause comes from the rule's policy terms (`policies/cgv/<version>.yaml`, the
latest version unless told) or, for a rule no term backs, from the rule's `clause`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dagsync.model.policy import CgvPolicy
from dagsync.rules.base import Rule
from dagsync.rules.structural import STRUCTURAL
from dagsync.rules.uncheckable import NOT_CHECKABLE

SECTIONS = ("What it checks", "Why", "Failing example", "Passing example", "Fix")
ALSO_PASSING = "Also passing example"
_HEADING = re.compile(r"^(?P<name>[A-Z][A-Za-z ]+?)(?: \((?P<file>[^)]+)\))?:$")


@dataclass(frozen=True)
class Example:
    file: str
    yaml: str


@dataclass(frozen=True)
class RuleDoc:
    title: str
    sections: Mapping[str, str]
    failing: Example | None
    passing: Example | None
    also_passing: tuple[Example, ...] = ()

    @property
    def missing(self) -> tuple[str, ...]:
        """The fixed sections this documentation lacks (empty when complete)."""
        return tuple(s for s in SECTIONS if not self.sections.get(s))


def parse(doc: str) -> RuleDoc:
    """Split a rule docstring into its title and fixed sections."""
    lines = doc.splitlines()
    title = lines[0].strip() if lines else ""
    sections: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    also: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in lines[1:]:
        heading = _HEADING.match(line)
        if heading and heading["name"] == ALSO_PASSING and heading["file"]:
            current = []
            also.append((heading["file"], current))
        elif heading and heading["name"] in SECTIONS:
            current = sections.setdefault(heading["name"], [])
            if heading["file"]:
                files[heading["name"]] = heading["file"]
        elif current is not None:
            current.append(line)
    text = {name: textwrap.dedent("\n".join(body)).strip("\n") for name, body in sections.items()}
    return RuleDoc(
        title,
        text,
        _example(text, files, "Failing example"),
        _example(text, files, "Passing example"),
        tuple(
            Example(file, textwrap.dedent("\n".join(body)).strip("\n") + "\n")
            for file, body in also
        ),
    )


def _example(text: Mapping[str, str], files: Mapping[str, str], name: str) -> Example | None:
    if name not in text or name not in files:
        return None
    return Example(files[name], text[name] + "\n")


def clause(rule: Rule, policy: CgvPolicy | None) -> str | None:
    """The French clause a rule enforces: its policy terms' quotes, else its own `clause`."""
    if rule.terms and policy is not None:
        quotes = [getattr(policy, term).quote for term in rule.terms]
        return " […] ".join(dict.fromkeys(quotes))
    return rule.clause


def explain(rule: Rule, policy: CgvPolicy | None) -> str:
    """`dagsync rules ID`: the rule, its French clause and its documentation, as text."""
    doc = parse(rule.doc)
    french = clause(rule, policy)
    out = [f"{rule.id}  {rule.severity}  CGV Art. {rule.article}", doc.title, ""]
    out += [_clause_heading(rule, policy) + ":", textwrap.indent(_clause_text(french), "    "), ""]
    for name in SECTIONS:
        if name in doc.sections:
            example = doc.failing if name == "Failing example" else doc.passing
            where = f" ({example.file})" if name.endswith("example") and example else ""
            out += [f"{name}{where}:", textwrap.indent(doc.sections[name], "    "), ""]
        if name == "Passing example":
            for extra in doc.also_passing:
                out += [f"{ALSO_PASSING} ({extra.file}):", textwrap.indent(extra.yaml, "    ")]
    return "\n".join(out).rstrip() + "\n"


def _clause_heading(rule: Rule, policy: CgvPolicy | None) -> str:
    version = f"CGV {policy.version}, " if rule.terms and policy is not None else ""
    return f"Clause ({version}Art. {rule.article})"


def _clause_text(french: str | None) -> str:
    if french is None:
        return "(run inside the configuration repository to read it from policies/cgv/)"
    return f"« {french} »"


def listing(rules: Iterable[Rule]) -> str:
    """`dagsync rules`: one line per rule ID, CGV rules then structural checks."""
    rows = [(r.id, str(r.severity), r.article, r.title) for r in rules]
    rows += [(s.id, str(s.severity), s.article or "-", s.title) for s in STRUCTURAL]
    return "".join(f"{i:<8} {sev:<8} {art:<4} {title}\n" for i, sev, art, title in rows)


def markdown(rules: Iterable[Rule], policy: CgvPolicy | None) -> str:
    """The whole catalogue as Markdown (docs/rules.md), generated: never edit it by hand."""
    rules = tuple(rules)
    version = f" (quotes from CGV {policy.version})" if policy is not None else ""
    out = [
        "# Rule catalogue",
        "",
        "<!-- Generated by `dagsync rules --format markdown`; do not edit by hand. -->",
        "",
        f"Every check `dagsync validate` runs, with its CGV article{version}. Severity `error`"
        " fails validation; `warning` reports.",
        "",
        "| ID | Severity | Article | Rule |",
        "|----|----------|---------|------|",
        *(f"| [{r.id}](#{r.id.lower()}) | {r.severity} | {r.article} | {r.title} |" for r in rules),
        *(f"| {s.id} | {s.severity} | - | {s.title} |" for s in STRUCTURAL),
        "",
    ]
    for r in rules:
        out += _markdown_rule(r, policy)
    out += _markdown_uncheckable()
    return "\n".join(out).rstrip() + "\n"


def _markdown_uncheckable() -> list[str]:
    out = [
        "## Not checkable here",
        "",
        "The CGV sentences no rule above checks: what a configuration repository cannot know,"
        " or where it is enforced instead (`dagsync contracts`, the calendar, the reconciler)."
        " Every other sentence is quoted by a rule above.",
        "",
        "| Article | Clause | Why not here, or where |",
        "|---------|--------|------------------------|",
    ]
    for item in NOT_CHECKABLE:
        out.append(f"| {item.article} | « {_cell(item.sentence)} » | {_cell(item.reason)} |")
    return [*out, ""]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown_rule(rule: Rule, policy: CgvPolicy | None) -> list[str]:
    doc = parse(rule.doc)
    french = clause(rule, policy)
    out = [f"## {rule.id}", "", f"**{rule.title}** · {rule.severity} · CGV Art. {rule.article}", ""]
    if french is not None:
        out += [f"> « {french} »", ""]
    for name in SECTIONS:
        body = doc.sections.get(name, "")
        example = doc.failing if name == "Failing example" else doc.passing
        if name.endswith("example") and example is not None:
            out += [f"*{name}* (`{example.file}`):", "", "```yaml", body, "```", ""]
        elif body:
            out += [f"*{name}*: " + " ".join(body.split()), ""]
        if name == "Passing example":
            for extra in doc.also_passing:
                yaml = extra.yaml.rstrip("\n")
                out += [f"*{ALSO_PASSING}* (`{extra.file}`):", "", "```yaml", yaml, "```", ""]
    return out


def latest_policy(root: Path) -> CgvPolicy | None:
    """The most recent valid CGV version of the repository at `root`, if any."""
    # lazy: importing it here keeps cython_runtime, dagsync.config, dagsync.validate (+1) out of this module's load
    from dagsync.validate.reading import Collector, load_policies

    if not (root / "policies" / "cgv").is_dir():
        return None
    cgv = load_policies(root, Collector(None)).cgv
    if not cgv:
        return None
    return max(cgv.values(), key=lambda p: (p.effective_from, p.version))
