"""The validation pipeline: `run` (discovery, cache, workers, report), `checker` (every rule
over one loaded client), `invariants` (what spans clients), `report` (text, JSON, SARIF,
GitHub); `speed/` keeps it fast (cache, worker processes)."""
