"""Use cases: one function each. They take the acting user, check rights, record history,
and run inside the one transaction their caller (an edge) opened. They never commit."""
