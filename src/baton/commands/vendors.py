"""``baton vendors list``: the resolved vendor profiles (key variable names only, never values)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from baton.vendor_config import load_profiles


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("vendors", help="vendor profiles")
    vendors_sub = parser.add_subparsers(dest="vendors_command", metavar="ACTION", required=True)
    lister = vendors_sub.add_parser("list", help="show the resolved vendor profiles")
    lister.add_argument("--project", type=Path, default=Path("."), help="project directory (default: .)")
    lister.add_argument("--vendors-file", type=Path, default=None, help="an extra vendor profile file")
    lister.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    profiles = load_profiles(args.project, args.vendors_file)
    table = Table(title="Vendor profiles")
    for column in ("name", "kind", "model", "endpoint", "structured", "$/Mtok in", "$/Mtok out",
                   "concurrency", "key env var"):
        table.add_column(column, no_wrap=True)
    for profile in profiles.values():
        if profile.api_key_env is None:
            key = "-"
        else:
            key = f"{profile.api_key_env} ({'set' if os.environ.get(profile.api_key_env) else 'not set'})"
        endpoint = profile.base_url or {"sim": "embedded (simulated)", "local": "embedded (local)"}.get(
            profile.kind, "-")
        table.add_row(profile.name, profile.kind + (" (simulated)" if profile.simulated else ""), profile.model,
                      endpoint, profile.structured_output, f"{profile.price_input_per_mtok:g}",
                      f"{profile.price_output_per_mtok:g}", str(profile.max_concurrency), key)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    return 0
