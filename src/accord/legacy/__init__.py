"""The legacy edge: the "CRM for Jira" remote API servlet, as spec/legacy-api.md defines it."""
