"""``baton otel``: OpenTelemetry export of stored runs, and the options ``run``/``compare`` share.

``baton otel export RUN_DIR --otel-file spans.jsonl`` (or ``--otel-endpoint URL``) sends a run
directory's runs as traces after the fact; ``baton run`` and ``baton compare`` do the same at the
end of a run when ``[tool.baton.otel]`` or the flags name a destination.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from baton.errors import BatonError
from baton.otel.settings import OtelSettings


def add_otel_options(parser: argparse.ArgumentParser) -> None:
    """``--otel-endpoint`` and ``--otel-file`` (both off by default)."""
    parser.add_argument("--otel-endpoint", default=None, metavar="URL",
                        help="export every run as an OpenTelemetry trace to this OTLP/HTTP collector, e.g. "
                             "http://localhost:4318 (default: [tool.baton.otel] endpoint; off)")
    parser.add_argument("--otel-file", type=Path, default=None, metavar="PATH",
                        help="append every run as OTLP JSON lines to this file (default: [tool.baton.otel] "
                             "file; off)")


def otel_settings(args: argparse.Namespace, project_dir: Path) -> OtelSettings:
    """The export destinations of this command, checked before the run starts."""
    from baton.otel.settings import load_otel_settings

    return load_otel_settings(project_dir, endpoint=getattr(args, "otel_endpoint", None),
                              file=getattr(args, "otel_file", None))


def export_after_run(settings: OtelSettings, run_dir: Path) -> None:
    """The exporter hook of ``run``/``compare``: export the run directory if configured."""
    if not settings.enabled:
        return
    from baton.otel.export import export_run_dir

    sent = export_run_dir(run_dir, settings)
    where = " and ".join(str(w) for w in (settings.endpoint, settings.file) if w is not None)
    print(f"opentelemetry: {sent} spans exported to {where}", file=sys.stderr)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("otel", help="export stored runs as OpenTelemetry traces",
                                   description="OpenTelemetry export of stored runs.")
    sub = parser.add_subparsers(dest="otel_command", metavar="ACTION")
    export = sub.add_parser("export", help="export a run directory's runs as traces",
                            description="Export every run of RUN_DIR as an OpenTelemetry trace (one root "
                                        "span per run, one span per hop, grades as evaluation events).")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument("--project", type=Path, default=None,
                        help="project directory for [tool.baton.otel] (default: the nearest pyproject.toml)")
    add_otel_options(export)
    export.set_defaults(func=_export)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def _export(args: argparse.Namespace) -> int:
    from baton.matrix import find_project_dir
    from baton.otel.export import export_run_dir
    from baton.otel.settings import load_otel_settings

    if not args.run_dir.is_dir():
        raise BatonError(f"{args.run_dir}: not a directory")
    project_dir = (args.project or find_project_dir()).resolve()
    settings = load_otel_settings(project_dir, endpoint=args.otel_endpoint, file=args.otel_file)
    if not settings.enabled:
        raise BatonError("baton otel export: name a destination with --otel-file PATH or --otel-endpoint URL "
                         "(or [tool.baton.otel] in pyproject.toml)")
    sent = export_run_dir(args.run_dir, settings)
    print(f"{sent} spans exported")
    return 0
