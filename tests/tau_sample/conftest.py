"""The sample benchmark is data for tests/test_import_tau_bench.py, not tests: its tasks_test.py
names a file of that benchmark's format, which pytest would otherwise collect."""

collect_ignore_glob = ["minibench/*", "minibench"]
