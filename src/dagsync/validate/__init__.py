"""The validation pipeline: `run` (discovery, cache, workers, report), `reading` (a document read
strictly into findings), `checker` (every rule over one loaded client), `invariants` (what spans
clients), `report` (text, JSON, SARIF, GitHub); `speed/` keeps it fast (cache, worker processes)."""
