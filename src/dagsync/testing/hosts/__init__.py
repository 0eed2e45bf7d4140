"""Real SSH test hosts on one machine, each in its own network, mount and UTS namespace.

A test host is a network namespace on a private bridge (no default route, so nothing leaves
the machine) running its own ``sshd``, with private ``/etc`` and ``/var`` overlays, its own
``/root``, ``/srv`` and ``/home`` and tmpfs ``/run`` and ``/tmp``.  Writes made on a host
(user accounts, nftables rulesets, files) stay on that host.  Everything on disk lives in a
state folder; the only other objects are the kernel ones (namespaces, veths, bridge) and the
``/run/netns`` mount that ``ip netns add`` creates.  Needs root, iproute2, util-linux and
openssh-server.  See docs/testhosts.md (shape, reaching them, traps).

    with testhosts(3, state_dir=tmp_path / "th") as lab:
        lab.hosts[0].ssh("hostname")

After a crash, ``python -m dagsync.testing.hosts down --state DIR`` cleans up.

Any number of runs share a machine: ``unique_network(tag)`` gives each set of hosts link and
namespace names of its own (a random run id) and a /24 that no address or route of the machine
uses; ``up`` claims that /24 (a file under ``/run/dagsync-testhosts``) before creating anything,
and ``down`` removes only what its own state folder lists.

The modules: ``network`` (names, the /24 and its claim), ``host`` (one host and its sshd),
``lab`` (``up``, ``testhosts``: several hosts), ``checks`` (before they come up), ``teardown``
(``down``), ``probes`` (TCP connects), ``outside`` (addresses from outside the /24, e.g. an
office range, held by one host and routed on the link by the others: docs/sandbox-reach.md)
and ``system`` (the commands they run).
"""
