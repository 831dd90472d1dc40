"""CLI verbs, one module each.

Every module in this package defines ``register(subparsers) -> None``, which adds
its sub-command to the ``tightbalance`` parser and sets ``func`` (called with
the parsed arguments).  ``tightbalance.cli`` discovers the modules, so adding a
verb means adding a module here and nothing else.
"""
