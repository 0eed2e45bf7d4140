"""Options several commands share."""

from __future__ import annotations

import click

repo_option = click.option(
    "--repo",
    metavar="DIR",
    default=None,
    help="The configuration repository (default: found upward).",
)
