"""`dagsync sandbox`: the repository's world on this machine (test hosts and the OVH API
emulator), for trying a change before a pull request."""
