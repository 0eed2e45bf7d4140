"""The names of the host resource kinds, in the order they are applied.

Kept apart from `registry` (which imports every resource and, through them, the model) so that
shell completion of `--only` and the driver table know the kinds without loading them (0.4 s).
A new host resource adds its kind here and its module to `registry.HOST_RESOURCES`;
tests/test_reconcile_drivers.py checks that both list the same kinds in the same order.
"""

HOST_KINDS: tuple[str, ...] = (
    "firewall",
    "accounts",
    "root-access",
    "os",
    "vhosts",
    "tls",
    "databases",
    "exporters",
)
