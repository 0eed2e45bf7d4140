"""The OVH API v1 request signature, computed exactly as python-ovh and go-ovh do."""

from __future__ import annotations

import hashlib

__all__ = ["compute_signature"]


def compute_signature(
    secret: str,
    consumer_key: str,
    method: str,
    url: str,
    body: str | bytes,
    timestamp: str | int,
) -> str:
    """Return ``"$1$" + sha1_hex(AS+"+"+CK+"+"+METHOD+"+"+url+"+"+body+"+"+timestamp)``.

    ``url`` is the full URL as sent (scheme, host, port, ``/1.0`` prefix, escaped path and
    query string) and ``body`` the raw body, never re-serialised JSON.
    """
    raw_body = body if isinstance(body, bytes) else body.encode("utf-8")
    head = "+".join((secret, consumer_key, method.upper(), url)).encode("utf-8")
    digest = hashlib.sha1(head + b"+" + raw_body + b"+" + str(timestamp).encode("ascii"))
    return "$1$" + digest.hexdigest()
