"""The web UI: server-rendered pages (Jinja2) over the services, made livelier by htmx.

Every page works without JavaScript (links and forms). A browser signs in with a login
and password and holds a session cookie; every form POST carries the session's CSRF token.
"""
