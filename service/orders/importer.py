"""Order history import (`huitou import orders FILE`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_import_parser(sub: Any) -> None:
    imp = sub.add_parser("import", help="import history from a file").add_subparsers()
    orders = imp.add_parser("orders", help="CSV or JSON Lines of native orders")
    orders.add_argument("file")
    orders.set_defaults(run=cmd_import_orders)


def cmd_import_orders(args: argparse.Namespace, settings: Any) -> int:  # noqa: ARG001
    raise SystemExit("import is being built")
