"""OVH resources of the plan: inventory, OVH monitoring, edge firewall, backup storage, reverse DNS.

A driver in the shape of :mod:`dagsync.reconcile.backup.driver`: :func:`.driver.plan` and
:func:`.driver.apply` produce the engine's ``Plan`` and ``ApplyReport``, with one target per
declared dedicated server (``<client>/<server>@ovh``, transport ``ovh``) and one account
target (``dag/ovh-account``). The modules, by pipeline stage:

- :mod:`.layout`: the edge-firewall layout of a server and its rule count, shared with the
  validator's rule EDG001 (no ``ovh`` import, so validation stays light);
- :mod:`.desired`: the model -> the desired OVH state (pure);
- :mod:`.observe`: the OVH state read through :mod:`dagsync.ovhapi` (unreadable = unknown);
- :mod:`.firewall`: the ordered, safe edge-firewall diff (pure; its docstring has the
  algorithm); :mod:`.diff`: the other diffs and the per-server assembly (pure);
- :mod:`.apply`: the executor of the changes, with waits, access check and roll-back;
- :mod:`.planning`: the run's selected servers, their reads and their plan (no change);
- :mod:`.driver`: connect, plan and apply; :mod:`.sandbox`: an emulator account for a repository.

This ``__init__`` imports nothing, so that ``dagsync.rules.edge`` can import :mod:`.layout`
without loading python-ovh.
"""
