"""Pure rules of Accord: directories, fields, values, rights and errors.

Nothing here imports a database driver or a web framework (an import-linter contract
checks it), so every rule is unit-tested without either.
"""
