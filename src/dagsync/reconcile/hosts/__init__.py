"""The client servers' driver: the host resource kinds (firewall, accounts, root access,
observer...), their desired state, and the engine that plans and applies them over SSH."""
