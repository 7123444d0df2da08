"""Stream an order file in chunks of whole orders, each ending at a byte offset to resume from."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO, NamedTuple

from service.orders.importer.checks import check_csv, check_json
from service.orders.importer.records import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ImportOrder,
    Problem,
)

Checked = ImportOrder | list[Problem]


class ImportFailed(Exception):
    """The file cannot be imported at all (unreadable header, unknown format)."""


class Position(NamedTuple):
    offset: int  # byte offset of the next order's first line
    line: int  # lines before that offset


@dataclass
class Chunk:
    start: Position
    end: Position
    orders: list[ImportOrder] = field(default_factory=list)
    starts: list[Position] = field(default_factory=list)  # where each order begins
    problems: list[Problem] = field(default_factory=list)
    rejected: int = 0
    stopped: bool = False  # --strict met a bad order, which starts at `end`


def read_chunks(
    file: BinaryIO, *, kind: str, start: Position, size: int, strict: bool
) -> Iterator[Chunk]:
    """Chunks of up to `size` orders from `start`; the file must be opened in binary mode."""
    if kind == "csv":
        canonical = _header(file)
        if start.offset == 0:
            start = Position(file.tell(), 1)
        file.seek(start.offset)
        checked = _csv_orders(file, start, canonical)
    else:
        file.seek(start.offset)
        checked = _json_orders(file, start)
    return _chunks(checked, start, size=size, strict=strict)


def _chunks(
    checked: Iterator[tuple[Checked, Position]], start: Position, *, size: int, strict: bool
) -> Iterator[Chunk]:
    chunk = Chunk(start, start)
    for result, end in checked:
        if isinstance(result, list):
            chunk.problems.extend(result)
            chunk.rejected += 1
            if strict:
                chunk.stopped = True
                yield chunk
                return
        else:
            chunk.orders.append(result)
            chunk.starts.append(chunk.end)
        chunk.end = end
        if len(chunk.orders) + chunk.rejected >= size:
            yield chunk
            chunk = Chunk(end, end)
    if chunk.orders or chunk.rejected or chunk.start == start:
        yield chunk


def _json_orders(file: BinaryIO, start: Position) -> Iterator[tuple[Checked, Position]]:
    offset, line = start
    for raw in file:
        offset, line = offset + len(raw), line + 1
        if raw.isspace():
            continue
        try:
            order = json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            yield [Problem(line, "line", f"not a JSON order: {exc}")], Position(offset, line)
            continue
        yield check_json(order, line), Position(offset, line)


def _header(file: BinaryIO) -> Callable[[list[str]], list[str] | None]:
    """How to put a row's cells in the documented column order (missing columns are empty)."""
    file.seek(0)
    try:
        first = file.readline().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"1: header: not UTF-8 ({exc})") from None
    names = next(csv.reader([first]), [])
    unknown = [n for n in names if n not in COLUMNS]
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise ImportFailed(
            f"1: header: needs the columns {', '.join(REQUIRED_COLUMNS)} and may have "
            f"{', '.join(c for c in COLUMNS if c not in REQUIRED_COLUMNS)}, each once"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    width = len(names)
    if tuple(names) == COLUMNS:
        return lambda row: row if len(row) == width else None
    index = {name: i for i, name in enumerate(names)}
    picks = [index.get(c, width) for c in COLUMNS]

    def reorder(row: list[str]) -> list[str] | None:
        if len(row) != width:
            return None
        padded = [*row, ""]
        return [padded[i] for i in picks]

    return reorder


def _csv_orders(
    file: BinaryIO, start: Position, canonical: Callable[[list[str]], list[str] | None]
) -> Iterator[tuple[Checked, Position]]:
    """Consecutive rows with the same order_id, checked as one order."""
    for key, rows, lines, end, problems in _csv_groups(file, start, canonical):
        if problems:
            yield problems, end
        elif key:
            yield check_csv(rows, lines), end
        else:
            yield [Problem(lines[0], "order_id", "Field required")], end


def _csv_groups(
    file: BinaryIO, start: Position, canonical: Callable[[list[str]], list[str] | None]
) -> Iterator[tuple[str, list[list[str]], list[int], Position, list[Problem]]]:
    offset, undecodable = [start.offset], set[int]()

    def lines() -> Iterator[str]:
        for raw in file:
            offset[0] += len(raw)
            try:
                yield raw.decode()
            except UnicodeDecodeError:
                undecodable.add(start.line + reader.line_num + 1)
                yield raw.decode(errors="replace")

    reader = csv.reader(lines(), strict=True)
    key, rows, numbers, problems = "", list[list[str]](), list[int](), list[Problem]()
    end_offset, last = start.offset, start.line
    while True:
        try:
            raw_row: list[str] | str = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raw_row = str(exc)
        first, last = last + 1, start.line + reader.line_num
        if not raw_row:
            end_offset = offset[0]  # a blank line
            continue
        if raw_row[0] != key and isinstance(raw_row, list):
            if rows or problems:
                yield key, rows, numbers, Position(end_offset, first - 1), problems
                rows, numbers, problems = [], [], []
            key = raw_row[0]
        row = canonical(raw_row) if isinstance(raw_row, list) else None
        if row is None or undecodable:
            problems.extend(_row_problems(raw_row, row, undecodable, first, last))
        if row is not None:
            rows.append(row)
            numbers.append(first)
        end_offset = offset[0]
    if rows or problems:
        yield key, rows, numbers, Position(end_offset, last), problems


def _row_problems(
    raw_row: list[str] | str, row: list[str] | None, undecodable: set[int], first: int, last: int
) -> list[Problem]:
    if isinstance(raw_row, str):
        return [Problem(first, "row", f"is not valid CSV: {raw_row}")]
    if row is None:
        return [Problem(first, "row", f"has {len(raw_row)} cells, unlike the header")]
    if not undecodable.isdisjoint(range(first, last + 1)):
        return [Problem(first, "row", "is not valid UTF-8")]
    return []
