"""The OVH API boundary: the one dagsync package that imports ``ovh`` (in :mod:`.client` only).

Everything above it speaks dagsync's types: :class:`OvhApi` (a python-ovh client plus a rate
limiter and a retry policy, built by :func:`connect`), the :class:`OvhError` hierarchy, the
value types (:class:`EdgeRule`, :class:`DedicatedServer`, ...) and thin typed calls such as
:func:`firewall_rules` or :func:`set_monitoring`. Callers import from here
(``from dagsync import ovhapi``); the modules are:

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

from __future__ import annotations

from dagsync.ovhapi.access import (
    ACCESS_RULES,
    READ_ONLY_RULES,
    AccessRule,
    ConsumerKeyRequest,
    request_consumer_key,
    required_rule,
)
from dagsync.ovhapi.backup import (
    activate_backup_storage,
    add_backup_access,
    delete_backup_access,
    get_backup_access,
    get_backup_storage,
    list_backup_access,
    update_backup_access,
    wait_backup_access_applied,
    wait_backup_access_gone,
    wait_backup_storage,
)
from dagsync.ovhapi.client import CREDENTIALS_HINT, OvhApi, connect, resolve_credentials
from dagsync.ovhapi.credentials import CUSTOM_ENDPOINT, ENV_VARS, URL_ENV, Credentials, config_files
from dagsync.ovhapi.errors import (
    OvhBadRequest,
    OvhConflict,
    OvhCredentialsError,
    OvhError,
    OvhNotFound,
    OvhNotGranted,
    OvhRateLimited,
    OvhReverseNotResolved,
    OvhServerError,
    OvhServiceExpired,
    OvhTransportError,
    OvhUnexpectedResponse,
    OvhWaitTimeout,
    Retry,
)
from dagsync.ovhapi.firewall import (
    create_firewall,
    create_rule,
    delete_rule,
    firewall_rules,
    get_firewall,
    get_mitigation,
    get_rule,
    list_firewalls,
    list_mitigations,
    rule_numbers,
    set_firewall_enabled,
    wait_firewall_ok,
    wait_rule_gone,
    wait_rule_ok,
)
from dagsync.ovhapi.limits import Clock, Jitter, RateLimiter, RetryPolicy, Sleep, full_jitter
from dagsync.ovhapi.reverse import (
    delete_reverse,
    get_reverse,
    list_reverses,
    same_reverse,
    set_reverse,
)
from dagsync.ovhapi.servers import (
    get_server,
    get_task,
    list_servers,
    server_ips,
    server_tasks,
    service_info,
    set_monitoring,
    wait_task,
)
from dagsync.ovhapi.shapes import (
    MAX_EDGE_RULES,
    RULE_ACTIONS,
    RULE_PROTOCOLS,
    TASK_FAILED,
    TCP_OPTIONS,
    BackupAccess,
    BackupProtocols,
    BackupStorage,
    DedicatedServer,
    EdgeRule,
    Firewall,
    Mitigation,
    ObservedRule,
    PortRange,
    ReverseDns,
    ServiceInfo,
    Task,
    parse_rule,
    quote_block,
)

__all__ = [
    "ACCESS_RULES",
    "CREDENTIALS_HINT",
    "CUSTOM_ENDPOINT",
    "ENV_VARS",
    "MAX_EDGE_RULES",
    "READ_ONLY_RULES",
    "RULE_ACTIONS",
    "RULE_PROTOCOLS",
    "TASK_FAILED",
    "TCP_OPTIONS",
    "URL_ENV",
    "AccessRule",
    "BackupAccess",
    "BackupProtocols",
    "BackupStorage",
    "Clock",
    "ConsumerKeyRequest",
    "Credentials",
    "DedicatedServer",
    "EdgeRule",
    "Firewall",
    "Jitter",
    "Mitigation",
    "ObservedRule",
    "OvhApi",
    "OvhBadRequest",
    "OvhConflict",
    "OvhCredentialsError",
    "OvhError",
    "OvhNotFound",
    "OvhNotGranted",
    "OvhRateLimited",
    "OvhReverseNotResolved",
    "OvhServerError",
    "OvhServiceExpired",
    "OvhTransportError",
    "OvhUnexpectedResponse",
    "OvhWaitTimeout",
    "PortRange",
    "RateLimiter",
    "Retry",
    "RetryPolicy",
    "ReverseDns",
    "ServiceInfo",
    "Sleep",
    "Task",
    "activate_backup_storage",
    "add_backup_access",
    "config_files",
    "connect",
    "create_firewall",
    "create_rule",
    "delete_backup_access",
    "delete_reverse",
    "delete_rule",
    "firewall_rules",
    "full_jitter",
    "get_backup_access",
    "get_backup_storage",
    "get_firewall",
    "get_mitigation",
    "get_reverse",
    "get_rule",
    "get_server",
    "get_task",
    "list_backup_access",
    "list_firewalls",
    "list_mitigations",
    "list_reverses",
    "list_servers",
    "parse_rule",
    "quote_block",
    "request_consumer_key",
    "required_rule",
    "resolve_credentials",
    "rule_numbers",
    "same_reverse",
    "server_ips",
    "server_tasks",
    "service_info",
    "set_firewall_enabled",
    "set_monitoring",
    "set_reverse",
    "update_backup_access",
    "wait_backup_access_applied",
    "wait_backup_access_gone",
    "wait_backup_storage",
    "wait_firewall_ok",
    "wait_rule_gone",
    "wait_rule_ok",
    "wait_task",
]
