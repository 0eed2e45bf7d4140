"""Reading the configuration repository: strict YAML with positions, YAML edits that keep
comments, the documents of a client, and a loaded repository (no validation here)."""
