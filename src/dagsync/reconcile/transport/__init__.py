"""SSH as every SSH driver uses it: the inventory (where a host is, its pinned key), sessions,
one-round-trip fact reading, and the errors that name the host."""
