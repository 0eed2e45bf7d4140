"""Backup rules (CGV Art. 4, and 6.1 for the dev space): when, how long, what, and where."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.policy import BackupStorage
from dagsync.model.server import BackupScope
from dagsync.rules.base import ERROR, ClientContext, ServerEntry, Violation, rule
from dagsync.rules.common import ask_for_request, minutes, site


def _storage(ctx: ClientContext, entry: ServerEntry) -> BackupStorage | None:
    name = entry.model.backup.storage
    return next((s for s in ctx.dag.backup_storages if s.name == name), None)


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


@rule(id="BKP006", severity=ERROR, article="4", terms=("backup_country",))
def backup_storage_known(ctx: ClientContext) -> Iterator[Violation]:
    """Backups go to a backup storage DAG runs.

    What it checks:
        `backup.storage` names an entry of `backup_storages` in policies/dag.yaml.

        Accepted: any storage of policies/dag.yaml.

    Why:
        Article 4 stores backups "sur un serveur externalisé": one of DAG's backup servers,
        whose location the next rules check.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          storage: my-nas

    Passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          storage: sbg-backup-1

    Fix:
        Use a storage of policies/dag.yaml.
    """
    for entry in ctx.servers:
        if _storage(ctx, entry) is None:
            known = ", ".join(f"`{s.name}`" for s in ctx.dag.backup_storages)
            yield Violation(
                entry.doc,
                ("backup", "storage"),
                f"backup storage `{entry.model.backup.storage}` is not in policies/dag.yaml: "
                f"use one of {known}",
                server=entry.name,
            )


@rule(id="BKP007", severity=ERROR, article="4", terms=("backup_country",))
def backup_storage_country(ctx: ClientContext) -> Iterator[Violation]:
    """Backups are stored in an OVH datacenter in France.

    What it checks:
        The datacenter of the `backup.storage` (its site prefix, e.g. `sbg` of `sbg3`) is a
        `datacenters` entry of policies/dag.yaml whose `country` is `backup_country` of the
        CGV version.

        Accepted: any storage whose datacenter site is listed with the CGV's country.

    Why:
        Article 4: "Stockage sur un serveur externalisé dans un autre Datacenter (OVH /
        France)".

    Failing example (policies/dag.yaml):
        backup_storages:
          - name: sbg-backup-1
            host: backup1.lim.dagtechnologies.example
            datacenter: lim1
          - name: rbx-backup-1
            host: backup1.rbx.dagtechnologies.example
            datacenter: rbx8

    Passing example (policies/dag.yaml):
        backup_storages:
          - name: sbg-backup-1
            host: backup1.sbg.dagtechnologies.example
            datacenter: sbg3
          - name: rbx-backup-1
            host: backup1.rbx.dagtechnologies.example
            datacenter: rbx8

    Fix:
        Use a storage in a French datacenter.
    """
    country = ctx.policy.backup_country.value
    countries = {d.code: d.country for d in ctx.dag.datacenters}
    for entry in ctx.servers:
        storage = _storage(ctx, entry)
        if storage is None:
            continue
        found = countries.get(site(storage.datacenter))
        if found != country:
            where = f"in {found}" if found else "in a datacenter policies/dag.yaml does not list"
            yield Violation(
                entry.doc,
                ("backup", "storage"),
                f"backup storage `{storage.name}` is in {storage.datacenter}, {where}; the CGV "
                f"stores backups in {country}: use a storage there",
                server=entry.name,
            )


@rule(id="BKP008", severity=ERROR, article="4", terms=("backup_country",))
def backup_storage_elsewhere(ctx: ClientContext) -> Iterator[Violation]:
    """Backups are stored in another datacenter than the server they protect.

    What it checks:
        The site of the `backup.storage` datacenter differs from the site of `ovh.datacenter`.
        Sites are the 3-letter prefix of OVH datacenter codes: `gra2` and `gra3` are both
        Gravelines, so a server in gra3 backed up to gra2 is refused (one fire, flood or
        power failure takes both).

        Accepted: any storage at another site than the server's.

    Why:
        Article 4: "Stockage sur un serveur externalisé dans un autre Datacenter".

    Failing example (clients/cime-conseil/servers/prod1.yaml):
        backup:
          storage: rbx-backup-1

    Passing example (clients/cime-conseil/servers/prod1.yaml):
        backup:
          storage: sbg-backup-1

    Fix:
        Use a storage at another site.
    """
    for entry in ctx.servers:
        storage = _storage(ctx, entry)
        here = site(entry.model.ovh.datacenter)
        if storage is not None and site(storage.datacenter) == here:
            yield Violation(
                entry.doc,
                ("backup", "storage"),
                f"backup storage `{storage.name}` ({storage.datacenter}) is at the same site as "
                f"the server ({entry.model.ovh.datacenter}): use a storage at another site",
                server=entry.name,
            )


@rule(id="BKP009", severity=ERROR, article="4", terms=("backup_site",))
def backup_storage_site(ctx: ClientContext) -> Iterator[Violation]:
    """Backups are stored at the CGV's backup site unless the client asked otherwise.

    What it checks:
        The site of the `backup.storage` datacenter (its 3-letter prefix: `sbg` of `sbg3`) is
        `backup_site` of the CGV version. A storage outside `backup_country` is BKP007's
        finding only.

        Accepted: a server that itself stands at `backup_site` backs up to another French
        site (BKP008 forbids its own site); any site when the `backup` section cites a client
        request.

    Why:
        Article 4: "la géolocalisation des sauvegardes se trouve à Strabourg" (Strasbourg,
        OVH's `sbg` site). A client told its backups are in Strasbourg must find them there.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          storage: rbx-backup-1

    Passing example (clients/alpine-books/servers/shop1.yaml):
        backup:
          storage: sbg-backup-1

    Also passing example (clients/alpine-books/servers/shop1.yaml):
        ovh:
          datacenter: sbg5
        backup:
          storage: rbx-backup-1

    Fix:
        Use a storage at the backup site, or cite the client's request in `backup.request`.
    """
    wanted = ctx.policy.backup_site.value
    countries = {d.code: d.country for d in ctx.dag.datacenters}
    for entry in ctx.servers:
        storage = _storage(ctx, entry)
        if storage is None or entry.model.backup.request is not None:
            continue
        if countries.get(site(storage.datacenter)) != ctx.policy.backup_country.value:
            continue  # BKP007
        at_site = site(entry.model.ovh.datacenter) == wanted
        if site(storage.datacenter) != wanted and not at_site:
            yield Violation(
                entry.doc,
                ("backup", "storage"),
                f"backup storage `{storage.name}` is in {storage.datacenter}; CGV "
                f"{ctx.policy.version} stores backups at `{wanted}`: use a storage there, or "
                + ask_for_request(ctx, "backup"),
                server=entry.name,
            )
