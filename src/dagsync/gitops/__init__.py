"""GitOps on GitPython: changed clients, commit trailers, apply notes and the audit trail.

Each name is imported from the submodule that defines it (`changes`, `history`, `notes`,
`repo`, `trail`, `trailers`), so that `validate --changed-since` (which needs only
`changes`) does not load the audit trail and the model behind it.
"""
