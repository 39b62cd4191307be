"""Accord: an API-first CRM server, drop-in compatible with the CRM for Jira remote API."""
