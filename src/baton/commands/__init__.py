"""Subcommands of the ``baton`` CLI, one module each (see ``baton.cli``)."""
