"""Access rules on secrets and reserved accounts (CGV Art. 6): no secret in the client's files,
root and DAG Technologies' accounts kept theirs, DAG's keys not reused: ACC004, ACC005, ACC007,
ACC008."""

from __future__ import annotations

from collections.abc import Iterator

from dagsync.config.document import Document
from dagsync.model.reserved import RESERVED_ACCOUNT_NAMES
from dagsync.rules.base import ERROR, ClientContext, Violation, rule
from dagsync.rules.secrets import scan_text

_PASSWORD_CLAUSE = (
    "Le Client est le responsable entier et exclusif des mots de passe nécessaires à "
    "l'utilisation de son espace Internet. […] La fourniture des mots de passe est "
    "considérée comme confidentielle."
)


@rule(id="ACC004", severity=ERROR, article="6", clause=_PASSWORD_CLAUSE)
def no_secrets(ctx: ClientContext) -> Iterator[Violation]:
    """No password or private key anywhere in the repository.

    What it checks:
        The raw text of client.yaml, requests.yaml and every server file, comments included:
        private keys (`-----BEGIN ... PRIVATE KEY-----`, OpenSSH and PuTTY keys), password-like
        keys with a value (`password`, `passwd`, `secret`, `token`, `api_key`,
        `application_secret`, `consumer_key`...), long random-looking values of key-like
        fields, and URLs with a password (`scheme://user:password@host`). References such as
        `${VAR}` or `vault://...` are fine. The finding never repeats the secret. Files
        outside clients/ are scanned by `dagsync.rules.secrets.scan_repository`, where a line
        marked `dagsync: allow-secret` (documentation, test data) is skipped; the marker is
        not honoured in client files.

        Accepted: public keys, references to a vault (`vault://...`, `${VAR}`) and ordinary
        text.

    Why:
        Article 6 makes passwords confidential and the client responsible for them; a secret
        in git is readable by everyone with a clone, forever (history keeps it).

    Failing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          uptime_urls: ["https://monitor:Xk9vQ2mT7pLw@www.alpine-books.example/"]  # dagsync: allow-secret

    Passing example (clients/alpine-books/servers/shop1.yaml):
        supervision:
          uptime_urls: ["https://www.alpine-books.example/"]

    Fix:
        Remove the secret, rotate it (git history keeps the old value) and keep it in the
        vault; reference it by name if a tool needs it.
    """
    docs: list[tuple[Document, str | None]] = [(ctx.client_doc, None)]
    if ctx.requests_doc is not None:
        docs.append((ctx.requests_doc, None))
    docs.extend((entry.doc, entry.name) for entry in ctx.servers)
    for doc, server in docs:
        for line, column, message in scan_text(doc.rel, doc.text):
            yield Violation.at_position(doc, line, column, message, server=server)


_ROOT_RESERVED_CLAUSE = (
    "En effet l'accès ROOT étant réservé à l'infogérance, tout accès ROOT de la part du client "
    "entraîne automatiquement la suspension des garanties d'intervention et de rétablissement "
    "pendant le temps de mise à disposition de l'accès ROOT au Client."
)


@rule(id="ACC005", severity=ERROR, article="6", clause=_ROOT_RESERVED_CLAUSE)
def root_reserved(ctx: ClientContext) -> Iterator[Violation]:
    """Root is reserved to DAG: no client account is named root.

    What it checks:
        No `accounts[].name` of a server is `root`, whatever its kind (ssh, sftp, ftp).

        Accepted: root access for the client through a `contract.root_access` window (ACC001
        to ACC003), which the reconciler opens and closes on its days and hours with the keys
        of the accounts the window's `granted_to` owns; any other account name (the
        reconciler refuses other system accounts when it applies).

    Why:
        Article 6: "l'accès ROOT étant réservé à l'infogérance"; root given to the client is
        exceptional, recorded with its days and hours, and suspends the guarantees. A
        permanent `root` account would give it with no window and no suspension.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        accounts:
          - name: root
            kind: sftp
            owner: Claire Martin
            keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr claire@alpine-books

    Passing example (clients/alpine-books/servers/shop1.yaml):
        accounts:
          - name: claire
            kind: sftp
            owner: Claire Martin
            keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr claire@alpine-books

    Fix:
        Give the client an account of its own name; for root, record a `contract.root_access`
        window backed by the client's request.
    """
    for entry in ctx.servers:
        for index, account in enumerate(entry.model.accounts):
            if account.name == "root":
                yield Violation(
                    entry.doc,
                    ("accounts", index, "name"),
                    "root is reserved to DAG (CGV Art. 6): name the account after its holder, and "
                    "record root access as a `contract.root_access` window in client.yaml",
                    server=entry.name,
                )


@rule(id="ACC007", severity=ERROR, article="6", clause=_ROOT_RESERVED_CLAUSE)
def reserved_account_name(ctx: ClientContext) -> Iterator[Violation]:
    """No client account takes a reserved name (a cloud image's admin user, DAG's own).

    What it checks:
        No `accounts[].name` of a server is one of the reserved names: the default users of
        cloud images (`debian`, `ubuntu`, `centos`, `ec2-user`, `admin`...), administrative
        group names (`sudo`, `wheel`, `adm`, `docker`, `lxd`, `disk`) and DAG's own accounts
        (`dagsync`, `dagsync-observer`, `borg`...). `root` is ACC005's.

        Accepted: any other name; the reconciler also refuses, on each host, to adopt an
        existing user that is privileged there (a sudo, adm, wheel, root, docker, lxd or disk
        member, or named in sudoers).

    Why:
        Article 6: "l'accès ROOT étant réservé à l'infogérance". OVH's images create such a
        user with passwordless sudo: declaring its name would adopt it and give the client
        root without a window and without suspending the guarantees.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        accounts:
          - name: debian
            kind: sftp
            owner: Claire Martin
            keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr claire@alpine-books

    Passing example (clients/alpine-books/servers/shop1.yaml):
        accounts:
          - name: claire
            kind: sftp
            owner: Claire Martin
            keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr claire@alpine-books

    Fix:
        Name the account after its holder; root access is a `contract.root_access` window.
    """
    for entry in ctx.servers:
        for index, account in enumerate(entry.model.accounts):
            if account.name in RESERVED_ACCOUNT_NAMES:
                yield Violation(
                    entry.doc,
                    ("accounts", index, "name"),
                    f"the account name {account.name} is reserved (a cloud image's "
                    "administrator or DAG's own account; root is reserved to DAG, CGV Art. 6): "
                    "name the account after its holder",
                    server=entry.name,
                )


def dag_keys(ctx: ClientContext) -> dict[tuple[str, str], str]:
    """DAG's keys in policies/dag.yaml (type and base64 blob) -> where each is declared."""
    found: dict[tuple[str, str], str] = {}
    where = [("observer.key", ctx.dag.observer.key if ctx.dag.observer else None)]
    where += [
        (f"backup_storages[{i}].host_key", s.host_key)
        for i, s in enumerate(ctx.dag.backup_storages)
    ]
    where += [(f"mail_hosts[{i}].host_key", m.host_key) for i, m in enumerate(ctx.dag.mail_hosts)]
    for path, key in where:
        if key is not None:
            parts = key.split()
            found.setdefault((parts[0], parts[1]), f"policies/dag.yaml ({path})")
    return found


@rule(id="ACC008", severity=ERROR, article="6", clause=_ROOT_RESERVED_CLAUSE)
def dag_key_reused(ctx: ClientContext) -> Iterator[Violation]:
    """No client key is one of DAG's keys (the observer's, a storage's or a mail host's).

    What it checks:
        No `accounts[].keys[]` of a server has the type and base64 key of a key declared in
        policies/dag.yaml: `observer.key`, a `backup_storages[].host_key` or a
        `mail_hosts[].host_key` (the comment does not matter). Root access windows give the
        keys of the client's accounts, so they are covered too.

        Accepted: any key of the client's own.

    Why:
        Article 6: root is reserved to DAG. The observer's private key is held by CI and
        pull requests' plans: declared as a client account key, whoever holds it would get
        that account (an SFTP account's write access), and DAG's key would open a client's
        door.

    Failing example (clients/alpine-books/servers/shop1.yaml):
        accounts:
          - name: claire
            kind: sftp
            owner: Claire Martin
            keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAl2b6C+hUtHkBGgz+VC9NBaL2Jrc/6ii9JQIaNPbfA2 claire@alpine-books

    Passing example (clients/alpine-books/servers/shop1.yaml):
        accounts:
          - name: claire
            kind: sftp
            owner: Claire Martin
            keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKz3Y+sEfkWUjbQqUw6yzZaJl3MXdNQvIGK99dm0z/Mr claire@alpine-books

    Fix:
        Declare the client's own public key; never copy a key of policies/dag.yaml.
    """
    dag = dag_keys(ctx)
    for entry in ctx.servers:
        for index, account in enumerate(entry.model.accounts):
            for k, key in enumerate(account.keys):
                parts = key.split()
                where = dag.get((parts[0], parts[1])) if len(parts) > 1 else None
                if where is not None:
                    yield Violation(
                        entry.doc,
                        ("accounts", index, "keys", k),
                        f"this key of {account.name} is DAG's key declared in {where}: a "
                        "client account never holds one of DAG's keys; declare the client's "
                        "own key",
                        server=entry.name,
                    )
