"""The legacy edge: the "CRM for Jira" remote API servlet, as docs/legacy-api.md describes it."""
