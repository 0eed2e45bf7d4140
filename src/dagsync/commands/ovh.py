"""`dagsync ovh`: the OVH API set-up (access rules and consumer keys)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from dagsync.ovhapi.access import ACCESS_RULES, READ_ONLY_RULES, AccessRule, request_consumer_key
from dagsync.ovhapi.client import connect


@click.group("ovh")
def ovh() -> None:
    """OVH API set-up: the access rules dagsync needs, and a consumer key with them."""


@ovh.command("credentials")
@click.option(
    "--request",
    "request_key",
    is_flag=True,
    help="Ask OVH for a consumer key with exactly these rules and print its validation URL.",
)
@click.option(
    "--allowed-ip",
    "allowed_ips",
    multiple=True,
    metavar="CIDR",
    help="With --request: the key only works from these addresses (repeatable).",
)
@click.option(
    "--endpoint", default=None, help="OVH endpoint name (default: OVH_ENDPOINT or ovh.conf)."
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Only the GET rules: the key of plans (pull requests, drift), which cannot change "
    "anything.",
)
def credentials(
    request_key: bool, allowed_ips: tuple[str, ...], endpoint: str | None, read_only: bool
) -> None:
    """Print the minimal OVH access rules of dagsync; with --request, ask for a consumer key.

    With --read-only, only the GET rules of the same table: a consumer key for plans.
    The request needs the application key and secret (OVH_APPLICATION_KEY and
    OVH_APPLICATION_SECRET, or ovh.conf), never a consumer key.
    """
    rules = READ_ONLY_RULES if read_only else ACCESS_RULES
    click.echo(render_rules(rules, read_only=read_only))
    if request_key:
        click.echo(_request(endpoint, allowed_ips, read_only=read_only))


def render_rules(rules: Sequence[AccessRule], *, read_only: bool = False) -> str:
    """One rule a line: method, path, and why dagsync needs it."""
    width = max(len(rule.path) for rule in rules)
    lines = [f"{rule.method:<7} {rule.path:<{width}}  {rule.why}".rstrip() for rule in rules]
    title = (
        "OVH access rules of a read-only consumer key (dagsync plan):"
        if read_only
        else "OVH access rules dagsync needs:"
    )
    return "\n".join([title, *lines])


def _request(endpoint: str | None, allowed_ips: Sequence[str], *, read_only: bool) -> str:
    try:
        api = connect(endpoint, require_consumer_key=False)
        granted = request_consumer_key(api, allowed_ips=allowed_ips, read_only=read_only)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--allowed-ip") from error
    kind = "Read-only consumer key" if read_only else "Consumer key"
    return "\n".join(
        [
            "",
            f"{kind} requested from {api.url}: {granted.state}.",
            "1. Open this URL, log in with the OVH account and validate the key:",
            f"   {granted.validation_url}",
            "2. Then store the key where dagsync reads it (the environment or ovh.conf, "
            "never the configuration repository):",
            f"   export OVH_CONSUMER_KEY={granted.consumer_key}",
            *(
                ["   (in CI: the repository secret OVH_READONLY_CONSUMER_KEY, for plans only)"]
                if read_only
                else []
            ),
        ]
    )
