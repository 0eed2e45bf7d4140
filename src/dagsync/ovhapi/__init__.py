"""The OVH API boundary: the one dagsync package that imports ``ovh`` (in :mod:`.client` only).

Everything above it speaks dagsync's types: :class:`OvhApi` (a python-ovh client plus a rate
limiter and a retry policy, built by :func:`connect`), the :class:`OvhError` hierarchy, the
value types (:class:`EdgeRule`, :class:`DedicatedServer`, ...) and thin typed calls such as
:func:`firewall_rules` or :func:`set_monitoring`. Callers import each name from the
module that defines it (no re-exports); the modules are:

- :mod:`.errors`: the :class:`OvhError` hierarchy;
- :mod:`.access`: :data:`ACCESS_RULES`, the one table of the consumer-key rules dagsync
  needs, and :func:`request_consumer_key`;
- :mod:`.credentials`: where credentials come from (environment or ``ovh.conf``, never the
  configuration repository; ``DAGSYNC_OVH_URL`` for another base URL);
- :mod:`.limits`: the client-side :class:`RateLimiter` and the :class:`RetryPolicy`;
- :mod:`.client`: :class:`OvhApi` and :func:`connect`, with the retry and POST idempotency
  rules; the only ``import ovh``;
- :mod:`.waits`: the waits for asynchronous states, mixed into :class:`OvhApi`;
- :mod:`.shapes`: value types, :func:`parse_rule`, path quoting;
- :mod:`.servers`, :mod:`.firewall`, :mod:`.reverse`, :mod:`.backup`: the typed calls.
"""
