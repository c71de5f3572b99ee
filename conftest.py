"""Repository-level pytest configuration: paths only. The Baton pytest plugin is installed as an
entry point (``baton.pytest_plugin``); the test suites' own fixtures live in tests/conftest.py."""

from pathlib import Path

REPO_ROOT = Path(__file__).parent
FIXTURES_DIR = REPO_ROOT / "fixtures"

import sys  # noqa: E402

sys.path.insert(0, str(REPO_ROOT / "tests"))  # shared test helpers (tests/sim_taskgen.py) import by name
