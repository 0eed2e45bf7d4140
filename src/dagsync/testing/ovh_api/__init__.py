"""An OVH API v1 emulator for tests and demos: ``dagsync.testing.ovh_api``.

A real HTTP server on 127.0.0.1 that python-ovh talks to through an ``ENDPOINTS`` entry
(:meth:`OvhEmulator.client` does it), seeded from an account fixture (:func:`seed_account`,
:func:`load_account`). It reproduces the OVH API behaviours dagsync relies on, each proved by
``tests/test_ovh_emulator.py`` with the real python-ovh client: signatures, consumer keys and
access rules, error shapes and status codes, dedicated servers, the edge firewall and
mitigation state machines, reverse DNS, backup storage, injectable faults and an optional
rate limit.

Where OVH's behaviour is unknown, the emulator makes a documented choice:

- a timestamp outside the window (default 300 s) gets 400 ``QUERY_TIME_OUT``
  "Query out of time" (python-ovh: ``BadParametersError``);
- a missing consumer key, and one still ``pendingValidation``, get 403 ``NOT_CREDENTIAL``;
  an unknown, expired or refused one gets 403 ``INVALID_CREDENTIAL``; a call from outside
  the key's ``allowedIPs`` gets 403 ``FORBIDDEN``;
- a known path with an unsupported method (e.g. ``PUT`` on a firewall rule) gets 405
  ``Client::MethodNotAllowed``; an unknown path gets 404 ``Client::NotFound``;
- ``{ip}`` must be a ``%2F``-escaped CIDR block of the account; a bare address, an unknown
  or foreign block gets 404;
- a rule at an occupied sequence (even ``removalPending``), a second firewall or mitigation
  entry for the same address, a PUT while a firewall change is pending, and a duplicate
  backup ACL get 409 ``Client::Conflict``;
- rule responses: ``source`` is ``"any"`` when none was given, port ranges render as
  ``"range A B"``, ``destination`` is ``"A.B.C.D/32"``, ``tcpOption`` and ``fragments`` are
  ``null`` when not given, ``l3PacketLength`` is echoed as ``{"from", "to"}``;
- ``DELETE /ip/{ip}/firewall/{ipOnFirewall}`` answers the address (a string) and removes
  its rules at once;
- a reverse is stored lower case with a trailing dot and mirrored in the server's
  ``reverse`` when it is the main address; automatic mitigation entries cannot be deleted;
- a service whose ``serviceInfos.status`` is ``expired`` answers 460 on every
  ``/dedicated/server/{name}/...`` call except ``serviceInfos``;
- backup storage: ``quota.unit`` is ``"GB"``, ``usage.unit`` is ``"%"``; ACL POST and PUT run
  an ``applyBackupFtpAcls`` task (``isApplied`` is false until it is done), an ACL DELETE
  runs ``removeBackupFtpAcl`` and the ACL disappears when it is done;
- 429 (rate limit) bodies are ``{"class": "Client::TooManyRequests", "message": ...}``.
"""
