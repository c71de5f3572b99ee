"""``baton sim serve``: run the simulated vendor standalone (OpenAI-compatible, loopback by default),
answering for the tasks of ``--fixtures`` directories."""

from __future__ import annotations

import argparse
from pathlib import Path

from baton.errors import ConfigError
from baton.vendor_config import load_profiles


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help="the simulated vendor")
    sim_sub = parser.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    serve = sim_sub.add_parser("serve", help="serve every simulated profile over HTTP (OpenAI wire format)")
    serve.add_argument("--port", type=int, required=True, help="port to listen on")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    serve.add_argument("--project", type=Path, default=Path("."), help="project directory with vendor profiles")
    serve.add_argument("--vendors-file", type=Path, default=None, help="an extra vendor profile file")
    serve.add_argument("--fixtures", type=Path, action="append", default=[], metavar="DIR",
                       help="a golden-set directory whose tasks it answers for (repeatable); every request "
                            "names its task in the X-Baton-Run header")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from baton.fixtures import load_tasks
    from baton.sim.server import serve_forever, sim_models

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port: expected 1-65535, got {args.port}")
    models = sim_models(load_profiles(args.project, args.vendors_file))
    if not models:
        raise ConfigError("no simulated vendor profiles (kind = \"sim\") to serve")
    tasks = [task for folder in args.fixtures for task in load_tasks(folder)]
    print(f"baton sim: serving {', '.join(sorted(models))} for {len(tasks)} task(s) at "
          f"http://{args.host}:{args.port}/v1", flush=True)
    if not tasks:
        print("baton sim: no --fixtures given: every request will be refused until tasks are loaded", flush=True)
    serve_forever(models, args.host, args.port, tasks)
    return 0
