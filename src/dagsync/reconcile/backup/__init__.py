"""Backups (CGV Art. 4): borg jobs on each server, repositories on DAG's storage hosts.

- `job`: the pure renderers (job script, cron file, storage `authorized_keys` line,
  `known_hosts` line) and the paths they use on a server;
- `borgjson`: parsers of `borg list --json` / `borg info --json`;
- `retention`: the newest archive's age and what `borg prune` keeps, as pure functions;
- `escrow`: where the recovery copy of a repository passphrase goes;
- `resource`: a server's side (desired, read, parse, diff), and `apply`: its changes applied;
- `storage`: the storage hosts' side (the `borg` user and its restricted keys);
- `targets`: DAG's own hosts (storages, mail hosts) as targets, and plan/report merging;
- `driver`: plan and apply across servers and storage hosts (the key a server generates
  must be authorised on its storage before the repository is initialised);
- `verify`: `dagsync backup verify`, proof from the archives themselves.
"""
