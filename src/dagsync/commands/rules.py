"""`dagsync rules [RULE-ID]`: list the catalogue, or explain one rule with its French clause."""

from __future__ import annotations

from pathlib import Path

import click

from dagsync.commands.completion import complete_rule
from dagsync.errors import DagsyncError, UsageError
from dagsync.model.policy import CgvPolicy


def _policy(repo: str | None) -> CgvPolicy | None:
    """The latest CGV version of the repository (for the French quotes), if there is one."""
    from dagsync.config.locate import find_repo
    from dagsync.validate.ruledocs import latest_policy

    if repo is not None:
        return latest_policy(Path(repo).resolve())
    try:
        return latest_policy(find_repo(Path.cwd()))
    except DagsyncError:
        return None  # outside a repository: the catalogue still lists, without quotes


@click.command("rules")
@click.argument("rule_id", required=False, metavar="[RULE-ID]", shell_complete=complete_rule)
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="markdown: the whole catalogue, as docs/rules.md.",
)
def rules(rule_id: str | None, repo: str | None, fmt: str) -> None:
    """List the rule catalogue, or explain one rule with its CGV article and examples."""
    from dagsync.rules.registry import BY_ID, RULES
    from dagsync.rules.structural import STRUCTURAL
    from dagsync.validate import ruledocs as docs

    if fmt == "markdown":
        click.echo(docs.markdown(RULES, _policy(repo)), nl=False)
    elif rule_id is None:
        click.echo(docs.listing(RULES), nl=False)
    elif rule_id.upper() in BY_ID:
        click.echo(docs.explain(BY_ID[rule_id.upper()], _policy(repo)), nl=False)
    else:
        structural = {s.id: s for s in STRUCTURAL}.get(rule_id.upper())
        if structural is None:
            raise UsageError(f"no rule `{rule_id}`: `dagsync rules` lists them all")
        click.echo(
            f"{structural.id}  {structural.severity}\n{structural.title}\n\n"
            f"    {structural.explanation}\n",
            nl=False,
        )
