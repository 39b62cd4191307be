"""The REST API v1 edge: JSON over HTTP, described by OpenAPI, on the same services as the
legacy API (an entry written through one is visible at once through the other)."""
