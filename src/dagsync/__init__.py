"""dagsync: GitOps policy-as-code for DAG Technologies' managed hosting."""

from __future__ import annotations

__version__ = "0.1.0"
