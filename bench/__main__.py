"""Run one benchmark: `python -m bench NAME [--quick] [--db sqlite|postgresql]`.

Each benchmark is a module `bench/<name>.py` with `run(options: BenchOptions) -> None` that
measures ours and a baseline in the same run and ends with one RESULT line per database. A name
that cannot be a module name (`import` is a keyword) maps to its module in MODULES.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bench
from bench.common import BenchOptions

MODULES = {"import": "import_orders"}


def available() -> list[str]:
    modules = {
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    }  # _parts are helpers
    return sorted((modules - {"common", "__main__", *MODULES.values()}) | MODULES.keys())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=available())
    parser.add_argument("--quick", action="store_true", help="a small size, about two minutes")
    parser.add_argument(
        "--db", action="append", choices=["sqlite", "postgresql"], help="default: both"
    )
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="server URL")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"bench.{MODULES.get(args.name, args.name)}")
    module.run(
        BenchOptions(
            quick=args.quick, databases=args.db or ["sqlite", "postgresql"], pg_server=args.pg
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
