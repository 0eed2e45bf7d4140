"""`dagsync block ADDR --client C --reason R`: add an address to a client's blocklist in git.

The change is written into `clients/C/client.yaml` (comments and layout kept) for review;
`dagsync apply` then propagates it (CGV Art. 4).  The block is also pushed to CrowdSec's local
APIs at once (`reconcile.security.remote`), by default when policies/dag.yaml declares a
security host: a push that cannot start (no endpoint, no connection, the local APIs not
deployed yet) is then a warning, the git change being the record; with `--now` it is an
error (exit 1); `--no-now` writes git only.  Refused: an address that does not parse
or has host bits set, one already blocked for that client, one that overlaps DAG's
management ranges (DAG would lock itself out) or one of the network's own servers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from ipaddress import ip_network
from pathlib import Path

import click

from dagsync.commands.completion import complete_client
from dagsync.errors import EXIT_USAGE, DagsyncError
from dagsync.model.reserved import blocked_problem
from dagsync.reconcile.resource import Net
from dagsync.validate.repository import Repository, load_repository


def parse_address(text: str) -> Net:
    try:
        return ip_network(text.strip(), strict=True)
    except ValueError as exc:
        hint = ""
        with contextlib.suppress(ValueError):
            hint = f" (did you mean {ip_network(text.strip(), strict=False)}?)"
        raise DagsyncError(f"`{text}` is not an IP address or network{hint}: {exc}") from exc


def refusal(repo: Repository, client_id: str, network: Net) -> str | None:
    """Why `network` cannot join `client_id`'s blocklist, or None."""
    config = repo.client(client_id)
    for entry in config.client.network.blocklist:
        if entry.address.version == network.version and (
            network == entry.address or network.subnet_of(entry.address)  # type: ignore[arg-type]
        ):
            return f"{network} is already blocked for {client_id} ({entry.address}: {entry.reason})"
    for managed in repo.settings.management_ranges:
        if managed.version == network.version and managed.overlaps(network):
            return (
                f"{network} overlaps DAG's management range {managed} "
                "(policies/dag.yaml): DAG would block itself"
            )
    for owner, server in repo.servers():
        for ip in server.ips:
            if ip.version == network.version and ip in network:
                return f"{network} contains {ip}, server {owner.id}/{server.name} of the network"
    # what validation refuses in a blocklist entry (width, DAG's hosts, IPv4 written as IPv6):
    # refused here too, so that git never receives an entry CI then rejects
    return blocked_problem(network, repo.settings)


def _write_checked(root: Path, client_id: str, text: str) -> None:
    """Replace the client's YAML with `text` only if the result is a valid client."""
    from dagsync.model.client import Client
    from dagsync.validate.reading import Collector, read_document, validate_model

    path = root / f"clients/{client_id}/client.yaml"
    tmp = path.with_name(f".{path.name}.dagsync-tmp")
    tmp.write_text(text)
    out = Collector(client_id)
    doc = read_document(root, tmp.relative_to(root).as_posix(), out)
    if doc is None or validate_model(Client, doc, out) is None:
        tmp.unlink()
        first = out.findings[0].message if out.findings else "invalid"
        raise DagsyncError(f"the edited {path.relative_to(root)} would not be valid ({first})")
    tmp.replace(path)


def add_block(
    root: Path,
    client_id: str,
    address: str,
    reason: str,
    *,
    request: str | None = None,
    today: dt.date | None = None,
) -> str:
    """Append the entry to the client's YAML; returns a message for the user."""
    from dagsync.config.yamledit import append_to_list

    network = parse_address(address)
    if len(reason.strip()) < 3:
        raise DagsyncError("give a reason of at least 3 characters (--reason)")
    why = refusal(load_repository(root, validate=False), client_id, network)
    if why:
        raise DagsyncError(f"refused: {why}")
    entry: dict[str, object] = {
        "address": str(network),
        "reason": reason.strip(),
        "added_on": today or dt.date.today(),
    }
    if request:
        entry["request"] = request
    rel = f"clients/{client_id}/client.yaml"
    _write_checked(
        root, client_id, append_to_list((root / rel).read_text(), ("network", "blocklist"), entry)
    )
    return (
        f"{network} added to the blocklist of {client_id} in {rel}: review and commit it, "
        "then `dagsync apply` blocks it on every server it reaches"
    )


# --- the command ---------------------------------------------------------------------------


@click.command("block")
@click.argument("address")
@click.option(
    "--client",
    required=True,
    metavar="C",
    help="The client whose blocklist grows.",
    shell_complete=complete_client,
)
@click.option("--reason", required=True, metavar="R", help="Why (kept in the YAML).")
@click.option("--request", default=None, metavar="REQ-...", help="The client request, if any.")
@click.option("--repo", metavar="DIR", default=None, help="The configuration repository.")
@click.option(
    "--now/--no-now",
    default=None,
    help="Push the block to CrowdSec's local APIs at once (docs/security-services.md) "
    "[default: when a security host is declared; a push that cannot start is then a warning].",
)
def block(
    address: str, client: str, reason: str, request: str | None, repo: str | None, now: bool | None
) -> None:
    """Add ADDRESS to a client's blocklist in clients/C/client.yaml, for review and apply."""
    from dagsync.config.locate import repo_path

    root = repo_path(repo)
    try:
        message = add_block(root, client, address, reason, request=request)
    except DagsyncError as exc:
        click.echo(f"dagsync: error: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from exc
    click.echo(message)
    if now is not False:
        _push_now(root, client, address, reason, required=bool(now))


def _push_now(root: Path, client: str, address: str, reason: str, *, required: bool) -> None:
    """The git change is written; a failed push says so and exits 1; a push that cannot
    start (or no security host) is a warning unless `required` (`--now`)."""
    from dagsync.reconcile.security.remote import NotReached, push_block
    from dagsync.reconcile.transport.inventory import load_overrides, overrides_path

    try:
        repo = load_repository(root, validate=False)
        if not repo.settings.security_hosts:
            raise NotReached("no security_hosts in policies/dag.yaml")
        overrides = load_overrides(overrides_path(root))
        lines = push_block(repo, client, address, reason, overrides)
    except NotReached as exc:
        if required:
            click.echo(f"dagsync: error: not pushed ({exc}); the git change is written", err=True)
            raise SystemExit(1) from exc
        click.echo(
            f"dagsync: warning: not pushed at once ({exc}); the git change is written", err=True
        )
        return
    except DagsyncError as exc:
        click.echo(f"dagsync: error: the push failed ({exc}); the git change is written", err=True)
        raise SystemExit(1) from exc
    for line in lines:
        click.echo(line)
