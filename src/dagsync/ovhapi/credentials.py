"""Where to find the OVH credentials, read like python-ovh does (no ``ovh`` import here).

Credentials come from the environment (``OVH_ENDPOINT``, ``OVH_APPLICATION_KEY``,
``OVH_APPLICATION_SECRET``, ``OVH_CONSUMER_KEY``) or from ``ovh.conf`` files, looked up in the
python-ovh order; never from the configuration repository, and they never appear in a
message, a log line or a ``repr``. ``DAGSYNC_OVH_URL`` (or ``url=``) points dagsync at another
base URL, e.g. the emulator of :mod:`dagsync.testing.ovh_api`.

The table of known endpoints belongs to python-ovh: :func:`read_credentials` receives it from
:func:`dagsync.ovhapi.client.resolve_credentials`.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from dagsync.ovhapi.errors import OvhCredentialsError

__all__ = [
    "CUSTOM_ENDPOINT",
    "ENV_VARS",
    "URL_ENV",
    "Credentials",
    "config_files",
    "read_credentials",
]

ENV_VARS: Final = {
    "endpoint": "OVH_ENDPOINT",
    "application_key": "OVH_APPLICATION_KEY",
    "application_secret": "OVH_APPLICATION_SECRET",
    "consumer_key": "OVH_CONSUMER_KEY",
}
URL_ENV: Final = "DAGSYNC_OVH_URL"
CUSTOM_ENDPOINT: Final = "dagsync"
"""The config section (and endpoint name) used when only a URL is given."""


@dataclass(frozen=True)
class Credentials:
    """Where to talk and with which keys; the keys never appear in ``repr``."""

    endpoint: str
    url: str
    application_key: str = field(repr=False)
    application_secret: str = field(repr=False)
    consumer_key: str | None = field(repr=False)

    def secrets(self) -> tuple[str, ...]:
        values = (self.application_key, self.application_secret, self.consumer_key)
        return tuple(v for v in values if v)


def config_files(config_file: Path | None = None) -> list[Path]:
    """The ``ovh.conf`` files python-ovh reads, lowest priority first, as of now."""
    files = [Path("/etc/ovh.conf"), Path.home() / ".ovh.conf", Path.cwd() / "ovh.conf"]
    return files + ([config_file] if config_file is not None else [])


def read_credentials(
    endpoint: str | None,
    *,
    url: str | None,
    config_file: Path | None,
    require_consumer_key: bool,
    endpoints: Mapping[str, str],
) -> Credentials:
    """Read the credentials like python-ovh: argument, then environment, then ``ovh.conf``.

    ``endpoints`` is python-ovh's table of endpoint names and base URLs.
    """
    if config_file is not None and not config_file.is_file():
        raise OvhCredentialsError(f"OVH config file {config_file} does not exist")
    files = [f for f in config_files(config_file) if f.is_file()]
    for path in files:
        if path in (Path.cwd() / "ovh.conf", config_file):
            _refuse_inside_repository(path)
    parser = _read_config(files)

    def lookup(section: str, name: str) -> str | None:
        value = os.environ.get(ENV_VARS[name]) or parser.get(section, name, fallback=None)
        return value.strip() if value and value.strip() else None

    url = url or os.environ.get(URL_ENV) or None
    name = endpoint or lookup("default", "endpoint") or (CUSTOM_ENDPOINT if url else None)
    if name is None:
        raise OvhCredentialsError(_missing_message(["endpoint"], "ovh-eu"))
    base = _base_url(name, url, endpoints)
    names = ["application_key", "application_secret"]
    names += ["consumer_key"] if require_consumer_key else []
    values = {key: lookup(name, key) for key in names}
    missing = [key for key, value in values.items() if value is None]
    if missing:
        raise OvhCredentialsError(_missing_message(missing, name))
    return Credentials(
        endpoint=name,
        url=base,
        application_key=values["application_key"] or "",
        application_secret=values["application_secret"] or "",
        consumer_key=values.get("consumer_key"),
    )


def _base_url(name: str, url: str | None, endpoints: Mapping[str, str]) -> str:
    if url is None:
        known = endpoints.get(name)
        if known is None or name.startswith(CUSTOM_ENDPOINT):
            valid = ", ".join(sorted(k for k in endpoints if "+" not in k))
            raise OvhCredentialsError(
                f"unknown OVH endpoint {name!r}: use one of {valid}, or set {URL_ENV}"
            )
        return str(known)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OvhCredentialsError(
            f"{URL_ENV} must be an http(s) URL such as http://127.0.0.1:8080/1.0"
        )
    return url.rstrip("/") if parts.path.strip("/") else url.rstrip("/") + "/1.0"


def _read_config(files: Sequence[Path]) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    for path in files:
        try:
            parser.read(path, encoding="utf-8")
        except configparser.ParsingError as error:
            lines = ", ".join(str(line) for line, _ in error.errors)
            raise OvhCredentialsError(f"{path}: not an INI file (line {lines})") from None
        except (configparser.Error, OSError, UnicodeDecodeError) as error:
            raise OvhCredentialsError(f"{path}: unreadable ({type(error).__name__})") from None
    return parser


def _refuse_inside_repository(path: Path) -> None:
    """A credentials file in the current directory (or given) must not sit in a git work tree."""
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            raise OvhCredentialsError(
                f"{path} is inside the git work tree {folder}: OVH credentials must never live "
                "in a repository; move the file to ~/.ovh.conf or use the OVH_* variables"
            )


def _missing_message(missing: Sequence[str], section: str) -> str:
    variables = ", ".join(ENV_VARS[name] for name in missing)
    keys = ", ".join(missing)
    where = "[default] endpoint=ovh-eu" if missing == ["endpoint"] else f"the [{section}] section"
    text = (
        f"OVH credentials are incomplete: missing {keys}. Set {variables} in the environment, "
        f"or {where} of ./ovh.conf, ~/.ovh.conf or /etc/ovh.conf (never in the configuration "
        f"repository; {URL_ENV} overrides the API base URL)."
    )
    if "consumer_key" in missing:
        text += " No consumer key yet? Run `dagsync ovh credentials --request`."
    return text
