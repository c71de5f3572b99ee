"""The golden set as a CI gate: one test per (task, system, vendor), run by the baton plugin.

Which tasks, systems and vendors, how many trials and which gates come from ``--baton-*``
options, ``baton_*`` ini keys and ``[tool.baton.run]`` / ``[[tool.baton.gates]]`` in
pyproject.toml. A failed task is reported as xfail with what went wrong (``--baton-strict`` makes
it a failure); the gates decide the exit status.
"""


def test_golden_set(baton_case):
    baton_case.check()
