"""Repository-level pytest configuration: paths only. The Baton pytest plugin is installed as an
entry point (``baton.pytest_plugin``); the test suites' own fixtures live in tests/conftest.py."""

from pathlib import Path

REPO_ROOT = Path(__file__).parent
FIXTURES_DIR = REPO_ROOT / "fixtures"
