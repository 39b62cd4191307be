"""The Jira connector: a REST client that behaves well (`client`), and one adapter each
for Data Center (REST v2) and Cloud (REST v3) behind `services.jira.JiraGateway`."""
