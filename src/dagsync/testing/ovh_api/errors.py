"""Errors the emulator raises to its Python callers (never sent over HTTP)."""

from __future__ import annotations

from dagsync.errors import DagsyncError

__all__ = ["EmulatorError", "FixtureError"]


class EmulatorError(DagsyncError):
    """Misuse of the emulator: unknown key, not started, bad configuration."""


class FixtureError(EmulatorError):
    """An account fixture that does not describe a valid OVH account."""
