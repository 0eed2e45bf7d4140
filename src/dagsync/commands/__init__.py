"""Click commands, one module per area; cli.py registers them.

A command module imports the engine it drives inside the command function, not at the top:
`dagsync --help`, shell completion and `dagsync validate` then never load SSH, OVH, git or
the drivers they do not use. This is the one place (with cli.py's command table and
reconcile/drivers.py's driver rows) where function-level imports are the rule; elsewhere
each one says, in a `# lazy:` comment, what it keeps out (tests/test_lazy_imports.py).
"""
