"""The configuration model (pydantic v2): what git declares about clients, servers and policies."""

from __future__ import annotations

from dagsync.model.client import Client
from dagsync.model.policy import CgvPolicy, DagSettings
from dagsync.model.requests import Request, Requests
from dagsync.model.server import Server

__all__ = ["CgvPolicy", "Client", "DagSettings", "Request", "Requests", "Server"]
