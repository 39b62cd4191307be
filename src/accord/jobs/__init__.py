"""The jobs edge: background work (the Jira user sync) claimed from the jobs table."""
