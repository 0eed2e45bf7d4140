"""The validation pipeline: `run` (discovery, cache, workers, report), `reading` (a document read
strictly into findings), `checker` (every rule over one loaded client), `invariants` and `tenancy`
(what spans clients, over `places`), `report` (text, JSON, SARIF, GitHub); `speed/` keeps it fast
(cache, worker processes)."""
