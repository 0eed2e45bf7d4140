"""What the override file adds beyond hosts (the sandbox's escrow folder and OVH emulator)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dagsync.errors import DagsyncError

ENVIRONMENT_KEY = "environment"  # the override file's variables for plan and apply
OVH_KEY = "ovh"  # the override file's OVH client settings (the sandbox's emulator)
SECURITY_KEY = "security"  # the override file's security settings (AIDE's folders)
# The only variables an override file may set (the sandbox's escrow folder and its OVH
# emulator); anything else (another endpoint, SSH settings, PATH...) is refused.
ALLOWED_ENVIRONMENT = frozenset(
    {
        "DAGSYNC_PASSPHRASE_ESCROW",
        "DAGSYNC_OVH_URL",
        "OVH_APPLICATION_KEY",
        "OVH_APPLICATION_SECRET",
        "OVH_CONSUMER_KEY",
    }
)
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Extras:
    """The override file's settings beyond hosts: `"environment"`, variables set while plan
    and apply run, and `"ovh"`, the client-side rate limit towards a local emulator."""

    environment: Mapping[str, str] = field(default_factory=dict)
    ovh_rate_per_minute: float | None = None
    ovh_poll_interval: float | None = None  # seconds between two reads of a pending state
    # `"security": {"aide_watched": [...]}`: the folders AIDE watches, when not a whole
    # server's (test hosts share /usr with the machine: they watch /etc only)
    aide_watched: tuple[str, ...] = ()


def read_extras(path: Path | None) -> Extras:
    if path is None:
        return Extras()
    try:
        data = json.loads(path.read_text())
        values = dict(data.get(ENVIRONMENT_KEY) or {})
        ovh = dict(data.get(OVH_KEY) or {})
        rate, interval = ovh.get("rate_per_minute"), ovh.get("poll_interval")
        watched = tuple(str(p) for p in dict(data.get(SECURITY_KEY) or {}).get("aide_watched", ()))
        environment = {str(k): str(v) for k, v in values.items()}
        _check_environment(environment)
        return Extras(
            environment,
            float(rate) if rate else None,
            float(interval) if interval else None,
            watched,
        )
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise DagsyncError(f"{path}: not a hosts override file ({exc})") from exc


def _check_environment(values: Mapping[str, str]) -> None:
    """Only the allowed variables, and an OVH URL on this machine (the emulator)."""
    refused = sorted(set(values) - ALLOWED_ENVIRONMENT)
    if refused:
        names = ", ".join(name[:40] for name in refused)
        raise ValueError(
            f"environment variable(s) {names} refused: an override file may only set "
            + ", ".join(sorted(ALLOWED_ENVIRONMENT))
        )
    url = values.get("DAGSYNC_OVH_URL")
    if url is not None:
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or parsed.hostname not in _LOCAL_HOSTS:
            raise ValueError(
                "DAGSYNC_OVH_URL refused: an override file may only point at an OVH emulator "
                "on this machine (http://127.0.0.1:PORT/...)"
            )


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set these variables for the length of a plan or an apply, then restore them.

    The override file describes the world plan and apply talk to (the sandbox's hosts, its
    escrow folder, its OVH emulator), so its values win over the caller's environment.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
