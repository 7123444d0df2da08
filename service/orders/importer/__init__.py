"""Order history import: `huitou import orders FILE` (CSV or JSON Lines)."""

from service.orders.importer.cli import add_import_parser

__all__ = ["add_import_parser"]
