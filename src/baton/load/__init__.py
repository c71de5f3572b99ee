"""``baton load``: a system driven at a rising open-loop (Poisson) arrival rate, with end-to-end
and per-hop latency percentiles, CPU per hop, errors and the saturation point per offered rate.

Modules: :mod:`~baton.load.cpu` (event-loop CPU attributed to runs and hops),
:mod:`~baton.load.driver` (Poisson arrivals, one step per offered rate),
:mod:`~baton.load.stats` (percentiles and saturation), :mod:`~baton.load.page` (the HTML page),
:mod:`~baton.load.vendor` (the simulated vendor in its own process).
"""
