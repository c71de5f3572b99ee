"""``baton otel``: export stored runs as OpenTelemetry traces, grade a system from its own spans,
and the export options ``run``/``compare`` share.

``baton otel export RUN_DIR --otel-file spans.jsonl`` (or ``--otel-endpoint URL``) sends a run
directory's runs as traces after the fact; ``baton run`` and ``baton compare`` export each run
while the matrix runs (:func:`exporting`) when ``[tool.baton.otel]`` or the flags name a
destination. ``baton otel grade
SPANS_FILE --system NAME`` grades the runs found in OTLP JSON lines into a run directory.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
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
    parser.add_argument("--otel-export", action="append", default=None, metavar="KIND=DEST",
                        help="also export to a registered exporter, e.g. jsonl-file=spans.jsonl or a plugin's "
                             "(repeatable; added to [tool.baton.otel.export])")


def otel_settings(args: argparse.Namespace, project_dir: Path) -> OtelSettings:
    """The export destinations of this command, checked before the run starts."""
    from baton.otel.settings import load_otel_settings

    return load_otel_settings(project_dir, endpoint=getattr(args, "otel_endpoint", None),
                              file=getattr(args, "otel_file", None), exporters=getattr(args, "otel_export", None))


def describe_destinations(settings: OtelSettings) -> str:
    """``http://collector:4318 and spans.jsonl and run-lines:runs.txt`` for the closing line."""
    return " and ".join(destination if kind in ("otlp-http", "jsonl-file") else f"{kind}:{destination}"
                        for kind, destination in settings.destinations())


@contextlib.contextmanager
def exporting(settings: OtelSettings, run_dir: Path) -> Iterator[None]:
    """The exporter of ``run``/``compare``: while the block runs the matrix, its runs are
    exported as they are stored (:mod:`baton.otel.stream`); nothing at all when export is off."""
    if not settings.enabled:
        yield
        return
    from baton.otel.stream import StreamingExport

    with StreamingExport(settings, run_dir) as stream:
        yield
    where = describe_destinations(settings)
    note = (f" (the runs this command added; every stored run: baton otel export {run_dir} --otel-file PATH)"
            if stream.resumed else "")
    print(f"opentelemetry: {stream.sent} spans exported to {where}{note}", file=sys.stderr)


def export_after_run(settings: OtelSettings, run_dir: Path) -> None:
    """Export a whole finished run directory if configured (``run``/``compare`` now stream with
    :func:`exporting`; kept for callers that export after the fact)."""
    if not settings.enabled:
        return
    from baton.otel.export import export_run_dir

    sent = export_run_dir(run_dir, settings)
    print(f"opentelemetry: {sent} spans exported to {describe_destinations(settings)}", file=sys.stderr)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("otel", help="OpenTelemetry: export runs as traces, grade systems from spans",
                                   description="Export stored runs as OpenTelemetry traces, or grade a "
                                               "system from its own OpenTelemetry spans.")
    sub = parser.add_subparsers(dest="otel_command", metavar="ACTION")
    export = sub.add_parser("export", help="export a run directory's runs as traces",
                            description="Export every run of RUN_DIR as an OpenTelemetry trace (one root "
                                        "span per run, one span per hop, grades as evaluation events).")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument("--project", type=Path, default=None,
                        help="project directory for [tool.baton.otel] (default: the nearest pyproject.toml)")
    add_otel_options(export)
    export.set_defaults(func=_export)

    grade = sub.add_parser("grade", help="grade a system from its own OpenTelemetry spans",
                           description="Read OTLP JSON lines (the Collector's file exporter, `baton otel "
                                       "export`), map each trace's spans to hops (GenAI conventions, "
                                       "OpenInference, OpenLLMetry, [tool.baton.otel.ingest.spans]) and grade "
                                       "them like native runs into a run directory (report it with baton report).")
    grade.add_argument("spans", type=Path, metavar="SPANS_FILE")
    grade.add_argument("--system", required=True, metavar="NAME", help="the name the system gets in the report")
    grade.add_argument("--source-system", default=None, metavar="NAME",
                       help="when the spans hold runs of several systems (baton.system), grade this one")
    grade.add_argument("--vendor", default="otel", metavar="NAME", help="the vendor label in the report (default: otel)")
    grade.add_argument("--tasks", type=Path, default=None, metavar="PATH",
                       help="golden set the traces ran (default: [tool.baton.run] tasks, else fixtures/)")
    grade.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="run directory to create (default: reports/<UTC timestamp>-otel)")
    grade.add_argument("--project", type=Path, default=None,
                       help="project directory (default: the nearest folder with a pyproject.toml)")
    grade.set_defaults(func=_grade)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def _export(args: argparse.Namespace) -> int:
    from baton.project import find_project_dir
    from baton.otel.export import export_run_dir
    from baton.otel.settings import load_otel_settings

    if not args.run_dir.is_dir():
        raise BatonError(f"{args.run_dir}: not a directory")
    project_dir = (args.project or find_project_dir()).resolve()
    settings = load_otel_settings(project_dir, endpoint=args.otel_endpoint, file=args.otel_file,
                                  exporters=args.otel_export)
    if not settings.enabled:
        raise BatonError("baton otel export: name a destination with --otel-file PATH or --otel-endpoint URL "
                         "(or --otel-export KIND=DEST, "
                         "or [tool.baton.otel] in pyproject.toml)")
    sent = export_run_dir(args.run_dir, settings)
    print(f"{sent} spans exported")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from baton.commands.run import timestamped_run_dir
    from baton.fixtures import load_tasks
    from baton.project import find_project_dir, tool_baton_table
    from baton.run_settings import load_settings
    from baton.otel.grade import grade_spans
    from baton.otel.ingest import parse_ingest_table, read_span_file

    project_dir = (args.project or find_project_dir()).resolve()
    settings = load_settings(project_dir)
    table, source = tool_baton_table(project_dir, "otel", "ingest")
    ingest_settings = parse_ingest_table(table, source)
    tasks_path = args.tasks if args.tasks is not None else project_dir / settings.tasks
    if not tasks_path.exists():
        raise BatonError(f"--tasks: {tasks_path} does not exist")
    run_dir = args.out or timestamped_run_dir(project_dir / settings.out, "-otel")
    if (run_dir / "manifest.json").exists():
        raise BatonError(f"--out: {run_dir} already holds a run; choose another directory")
    summary = grade_spans(read_span_file(args.spans), load_tasks(tasks_path), run_dir=run_dir, system=args.system,
                          vendor=args.vendor, settings=ingest_settings, source_system=args.source_system)
    print(f"run directory: {summary.run_dir}")
    print(summary.line())
    return 0
