"""`FILE.checkpoint`: where the next chunk starts, for these bytes into this database only, and
from where the committed chunks still await their members' stats."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from service.orders.importer.reader import Position

HEAD_BYTES = 65_536


@dataclass(frozen=True)
class Identity:
    """What a checkpoint must match to be resumed; a rewritten file of the same size has
    another mtime or other first bytes, and the same file into another database starts over."""

    size: int
    mtime_ns: int
    head_sha256: str
    database: str


@dataclass(frozen=True)
class Checkpoint:
    position: Position  # where the next chunk starts
    done: bool  # the whole file is in
    # The chunks from here up to `position` are committed but their members' stats are not
    # recomputed yet (a run does that once at its end); None when nothing waits.
    stats_from: Position | None = None


def checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint")


def identify(path: Path, url: str) -> Identity:
    stat = path.stat()
    with path.open("rb") as file:
        head = hashlib.sha256(file.read(HEAD_BYTES)).hexdigest()
    return Identity(
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        head_sha256=head,
        database=make_url(url).render_as_string(hide_password=True),
    )


def load(path: Path, identity: Identity) -> Checkpoint | None:
    """The checkpoint an earlier run left for this file and database, if any."""
    try:
        saved = json.loads(checkpoint_path(path).read_text())
        if Identity(**saved["file"]) != identity:
            return None
        pending = saved.get("stats_from")
        return Checkpoint(
            Position(int(saved["offset"]), int(saved["line"])),
            bool(saved["done"]),
            None if pending is None else Position(int(pending[0]), int(pending[1])),
        )
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return None


def save(
    path: Path,
    identity: Identity,
    position: Position,
    *,
    done: bool,
    stats_from: Position | None = None,
) -> None:
    """Replace the checkpoint atomically: a crash leaves the old one or the new one."""
    target = checkpoint_path(path)
    temporary = target.with_name(target.name + ".tmp")
    state: dict[str, object] = {"offset": position.offset, "line": position.line, "done": done}
    state["stats_from"] = None if stats_from is None else list(stats_from)
    with temporary.open("w") as file:
        json.dump(state | {"file": asdict(identity)}, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, target)
