"""Backup rules on when, how long and what (CGV Art. 4, and 6.1 for the dev space): daily, in the
window, kept long enough, the whole server, the dev space left out, BKP001 to BKP005."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.server import BackupScope
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.common import ask_for_request, minutes


@rule(id="BKP001", severity=ERROR, article="4", terms=("backup_frequency",))
def backup_daily(ctx: ClientContext) -> Iterator[Violation]:
    """Backups run daily unless the client asked otherwise.

    What it checks:
        `backup.frequency` equals `backup_frequency` of the CGV version, unless the `backup`
        section cites a client request.

        Accepted: daily backups; another frequency when the `backup` section cites the
        client's request.

    Why:
        Article 4: "Périodicité : Journalière [...] hors demande spécifique du client".

    Failing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          frequency: weekly

    Passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          frequency: daily

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          frequency: weekly
          request: REQ-2025-001

    Fix:
        Back up daily, or cite the client's request in `backup.request`.
    """
    expected = ctx.policy.backup_frequency.value
    for entry in ctx.servers:
        backup = entry.model.backup
        if backup.frequency != expected and backup.request is None:
            yield Violation(
                entry.doc,
                ("backup", "frequency"),
                f"backups run `{backup.frequency}`, the CGV default is `{expected}`: set "
                f"`frequency: {expected}`, or " + ask_for_request(ctx, "backup"),
                server=entry.name,
            )


@rule(id="BKP002", severity=ERROR, article="4", terms=("backup_window",))
def backup_window(ctx: ClientContext) -> Iterator[Violation]:
    """Backups start inside the night window unless the client asked otherwise.

    What it checks:
        `backup.schedule` (the start time, Europe/Paris) lies in `backup_window` of the CGV
        version, `[from, to]`: from `from` included to `to` excluded, so that a backup that
        starts at 06:00 (running in the morning) is refused. Unless the `backup` section cites
        a client request.

        Accepted: any start inside the window; any start when the `backup` section cites the
        client's request.

    Why:
        Article 4: "Journalière (entre 1h et 6h du matin, hors demande spécifique du
        client)": backups load the server while its sites are quiet.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          schedule: "06:00"

    Passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          schedule: "01:00"

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          schedule: "22:00"
          request: REQ-2025-001

    Fix:
        Start the backup inside the window, or cite the client's request in `backup.request`.
    """
    begin, end = ctx.policy.backup_window.value
    for entry in ctx.servers:
        backup = entry.model.backup
        start = minutes(backup.schedule)
        if not minutes(begin) <= start < minutes(end) and backup.request is None:
            yield Violation(
                entry.doc,
                ("backup", "schedule"),
                f"backups start at {backup.schedule}, outside the CGV window {begin}-{end}: "
                f"start between {begin} and before {end}, or " + ask_for_request(ctx, "backup"),
                server=entry.name,
            )


@rule(id="BKP003", severity=ERROR, article="4", terms=("backup_retention_days",))
def backup_retention(ctx: ClientContext) -> Iterator[Violation]:
    """Backups are kept the CGV's number of rolling days unless the client asked otherwise.

    What it checks:
        `backup.retention_days` equals `backup_retention_days` of the CGV version, unless the
        `backup` section cites a client request. Any other value, shorter or longer, is a
        derogation: longer costs storage, shorter breaks the promise.

        Accepted: exactly the CGV's days; any other number when the `backup` section cites
        the client's request.

    Why:
        Article 4: "Conservation : sur 7 jours glissants [...] hors demande spécifique du
        client".

    Failing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          retention_days: 3

    Passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          retention_days: 7

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          retention_days: 14
          request: REQ-2025-001

    Fix:
        Keep the CGV's number of days, or cite the client's request in `backup.request`.
    """
    days = ctx.policy.backup_retention_days.value
    for entry in ctx.servers:
        backup = entry.model.backup
        if backup.retention_days != days and backup.request is None:
            yield Violation(
                entry.doc,
                ("backup", "retention_days"),
                f"backups are kept {backup.retention_days} days; CGV {ctx.policy.version} keeps "
                f"{days} rolling days: set `retention_days: {days}`, or "
                + ask_for_request(ctx, "backup"),
                server=entry.name,
            )


@rule(id="BKP004", severity=ERROR, article="4", terms=("backup_scope",))
def backup_scope(ctx: ClientContext) -> Iterator[Violation]:
    """Backups cover system, files and databases unless the client asked otherwise.

    What it checks:
        `backup.scope` contains every item of `backup_scope` of the CGV version, unless the
        `backup` section cites a client request.

        Accepted: the CGV's scope plus any other item; less when the `backup` section cites
        the client's request.

    Why:
        Article 4: "Conservation : sur 7 jours glissants (Système + Fichiers + Base de
        données)".

    Failing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          scope: [system, files]

    Passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          scope: [system, files, databases]

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          scope: [system, files]
          request: REQ-2025-001

    Fix:
        Add the missing items, or cite the client's request in `backup.request`.
    """
    wanted = ctx.policy.backup_scope.value
    for entry in ctx.servers:
        backup = entry.model.backup
        missing = [s for s in wanted if s not in backup.scope]
        if missing and backup.request is None:
            yield Violation(
                entry.doc,
                ("backup", "scope"),
                "backups must also cover " + ", ".join(f"`{s}`" for s in missing) + ": add "
                f"{'it' if len(missing) == 1 else 'them'} to `scope`, or "
                + ask_for_request(ctx, "backup"),
                server=entry.name,
            )


@rule(id="BKP005", severity=ERROR, article="6.1", terms=("dev_space_backed_up",))
def dev_space_not_backed_up(ctx: ClientContext) -> Iterator[Violation]:
    """The dev space is not backed up unless the client asked for it.

    What it checks:
        When the CGV version does not back up the dev space: `dev_space.backed_up: true`
        needs `dev_space.request`, and `dev_space` in a server's `backup.scope` needs
        `backup.request`.

        Accepted: a dev space left out of backups; backed up when the section that backs it
        up cites the client's request.

    Why:
        Article 6.1: "Cet espace de développement externalisé n'est pas inclus dans la
        sauvegarde par défaut"; backing it up is extra storage the client asked for.

    Failing example (clients/alpine-books/client.yaml):
        dev_space:
          backed_up: true

    Passing example (clients/alpine-books/client.yaml):
        dev_space:
          backed_up: false

    Also passing example (clients/alpine-books/client.yaml):
        dev_space:
          backed_up: true
          request: REQ-2025-001

    Fix:
        Leave the dev space out of backups, or cite the client's request.
    """
    if ctx.policy.dev_space_backed_up.value:
        return
    dev = ctx.client.dev_space
    if dev is not None and dev.backed_up and dev.request is None:
        yield Violation(
            ctx.client_doc,
            ("dev_space", "backed_up"),
            "the dev space is not backed up by default: " + ask_for_request(ctx, "dev_space"),
        )
    for entry in ctx.servers:
        backup = entry.model.backup
        if BackupScope.DEV_SPACE in backup.scope and backup.request is None:
            yield Violation(
                entry.doc,
                ("backup", "scope"),
                "the dev space is not backed up by default: remove `dev_space` from `scope`, or "
                + ask_for_request(ctx, "backup"),
                server=entry.name,
            )
