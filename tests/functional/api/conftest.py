"""The REST API's fixtures (defined in tests/functional/api_support.py)."""

from tests.functional.api_support import admin, api, client_of, clients, token

__all__ = ["admin", "api", "client_of", "clients", "token"]
