"""Execution backends besides the in-process engine (:mod:`baton.engine`): :mod:`~baton.backends.ray_backend`
runs a matrix's units as Ray tasks across a cluster, writing to the same results store."""
