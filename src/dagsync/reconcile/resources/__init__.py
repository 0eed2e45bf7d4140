"""Resource kinds reconciled on servers over SSH, one module each (see `..registry`)."""
