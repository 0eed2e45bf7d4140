"""The configuration model (pydantic v2): what git declares about clients, servers and policies."""
