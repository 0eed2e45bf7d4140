"""Backup rules on where (CGV Art. 4): a known storage, in the contract's country, away from the
server, at the contract's site, BKP006 to BKP009."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.model.policy import BackupStorage
from dagsync.rules.base import ERROR, ClientContext, ServerEntry, Violation, rule
from dagsync.rules.common import ask_for_request, site


def _storage(ctx: ClientContext, entry: ServerEntry) -> BackupStorage | None:
    name = entry.model.backup.storage
    return next((s for s in ctx.dag.backup_storages if s.name == name), None)


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
