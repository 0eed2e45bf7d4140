"""The configuration model (pydantic v2): what git declares about clients, servers and policies."""

from __future__ import annotations

from .client import Client
from .policy import CgvPolicy, DagSettings
from .requests import Request, Requests
from .server import Server

__all__ = ["CgvPolicy", "Client", "DagSettings", "Request", "Requests", "Server"]
