"""Test infrastructure: the OVH API emulator and the network-namespace test hosts."""
