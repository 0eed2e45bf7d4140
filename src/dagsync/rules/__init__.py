"""The CGV policy catalogue: one module per CGV area, listed in `registry.RULES`."""
