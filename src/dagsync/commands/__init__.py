"""Click commands, one module per area; cli.py registers them."""
