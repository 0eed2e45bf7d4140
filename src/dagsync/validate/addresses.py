"""IP addresses and networks as integers, for range look-ups over every server address of the
repository (REP015). `inet_pton` is ten times faster than `ipaddress`, and the invariants read
every server address."""

from __future__ import annotations

from socket import AF_INET, AF_INET6, inet_pton


def address_number(text: str) -> tuple[int, int] | None:
    """(IP version, integer) of an address in canonical text, or None."""
    for family, version in ((AF_INET, 4), (AF_INET6, 6)):
        try:
            return version, int.from_bytes(inet_pton(family, text), "big")
        except OSError:
            continue
    return None


def network_span(text: str) -> tuple[int, int, int] | None:
    """(IP version, first, last) of a network in canonical text (`str(ip_network(...))`)."""
    address, _, prefix = text.partition("/")
    found = address_number(address)
    if found is None:
        return None
    version, first = found
    bits = 32 if version == 4 else 128
    try:
        width = bits - int(prefix or bits)
    except ValueError:
        return None
    if not 0 <= width <= bits:
        return None
    return version, first, first | ((1 << width) - 1)
