"""A stateful Jira REST simulator on a real loopback port (Data Center 9 and 10, Cloud),
with its replies checked against Atlassian's OpenAPI documents (`openapi`)."""
