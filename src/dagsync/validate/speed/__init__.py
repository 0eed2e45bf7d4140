"""What makes validation fast without changing its answer: the per-client cache and the
worker processes."""
