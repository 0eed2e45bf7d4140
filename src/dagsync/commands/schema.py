"""`dagsync schema`: regenerate schemas/ from the model, or check that it is up to date."""

from __future__ import annotations

import click

from dagsync.commands.options import repo_option
from dagsync.config.locate import repo_path


@click.command()
@repo_option
@click.option("--check", is_flag=True, help="Fail if schemas/ is stale instead of writing it.")
def schema(repo: str | None, check: bool) -> None:
    """Regenerate schemas/ from the model (or check that it is up to date)."""
    from dagsync.model import schema as schemas

    root = repo_path(repo)
    if check:
        stale = schemas.stale(root)
        for name in stale:
            click.echo(f"schemas/{name} is stale: run `dagsync schema` and commit it", err=True)
        raise SystemExit(1 if stale else 0)
    changed = schemas.write(root)
    click.echo(
        f"wrote {len(changed)} schema file(s)" + (f": {', '.join(changed)}" if changed else "")
    )
