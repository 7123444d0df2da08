"""`huitou import orders FILE`: a progress bar on stderr, problems as `file:line: field: reason`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from service.clock import SystemClock
from service.migrate import upgrade_to_head
from service.orders.importer.reader import ImportFailed
from service.orders.importer.run import ImportOptions, ImportReport, Listener, import_file
from service.settings import Settings

KINDS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def add_import_parser(sub: Any) -> None:
    imp = sub.add_parser("import", help="import history from a file").add_subparsers()
    orders = imp.add_parser(
        "orders",
        help="CSV or JSON Lines of native orders (see the README for the format)",
        description="Import order history. Resumes from FILE.checkpoint; importing a file again "
        "changes nothing. Exits 1 if any order was rejected.",
    )
    orders.add_argument("file", type=Path)
    orders.add_argument("--format", choices=["csv", "jsonl"], help="default: from the extension")
    orders.add_argument("--strict", action="store_true", help="stop at the first bad order")
    orders.add_argument("--restart", action="store_true", help="ignore FILE.checkpoint")
    orders.add_argument(
        "--chunk-size", type=int, default=10_000, help="orders per transaction (default 10000)"
    )
    orders.set_defaults(run=cmd_import_orders)


def cmd_import_orders(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    kind = args.format or KINDS.get(path.suffix.lower())
    refusal = _refusal(path, kind, args.chunk_size)
    if refusal or kind is None:
        _say(f"{path}: {refusal}")
        return 2
    upgrade_to_head(settings.database_url)
    options = ImportOptions(
        kind=kind,
        region=settings.country,
        chunk_size=args.chunk_size,
        strict=args.strict,
        restart=args.restart,
    )
    size = path.stat().st_size
    with tqdm(
        total=size, unit="B", unit_scale=True, file=sys.stderr, disable=None, desc=path.name
    ) as bar:
        listener = Listener(
            problem=lambda line: bar.write(line, file=sys.stderr),
            progress=lambda done: _progress(bar, done, size),
        )
        try:
            report = asyncio.run(
                import_file(
                    settings.database_url, path, options, clock=SystemClock(), listener=listener
                )
            )
        except ImportFailed as exc:
            bar.write(f"{path.name}:{exc}", file=sys.stderr)
            return 2
    _say(summary(path, report))
    return 1 if report.counts.orders_rejected or report.stopped else 0


def _progress(bar: tqdm[Any], done: int, size: int) -> None:
    if bar.disable:  # not a terminal: a line per committed chunk, for logs
        if done:
            _say(f"{done / max(size, 1):6.1%} {done} of {size} bytes")
    else:
        bar.update(done - bar.n)


def summary(path: Path, report: ImportReport) -> str:
    if report.already_done:
        return f"{path.name}: already imported ({path.name}.checkpoint; --restart reads it again)"
    c = report.counts
    resumed = f", resumed at line {report.resumed_at.line + 1}" if report.resumed_at else ""
    text = (
        f"{path.name}: {c.orders_created} orders created, {c.orders_updated} updated, "
        f"{c.orders_unchanged} unchanged, {c.members_created} members created, "
        f"{c.orders_rejected} orders rejected{resumed}"
    )
    return text + (" — stopped at the first bad order (--strict)" if report.stopped else "")


def _refusal(path: Path, kind: str | None, chunk_size: int) -> str | None:
    if not path.is_file():
        return "no such file"
    if kind is None:
        return "unknown format: pass --format csv or --format jsonl"
    return "--chunk-size must be positive" if chunk_size < 1 else None


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
