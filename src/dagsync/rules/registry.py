"""The one table of rules: which rules exist and which CGV article backs each."""

from __future__ import annotations

from .base import Rule

RULES: tuple[Rule, ...] = ()
