"""What every benchmark shares: options, fresh databases, and the RESULT line."""

from __future__ import annotations

import resource
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from service.migrate import upgrade_to_head


@dataclass(frozen=True)
class BenchOptions:
    quick: bool
    databases: list[str] = field(default_factory=lambda: ["sqlite", "postgresql"])
    pg_server: str = "postgresql://postgres@127.0.0.1:5432"


def fresh_database(kind: str, name: str, options: BenchOptions) -> str:
    """An empty database migrated to head: a new SQLite file, or PostgreSQL `bench_<name>`."""
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-")) / "huitou.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        database = f"bench_{name}"
        with psycopg.connect(f"{options.pg_server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        url = f"{options.pg_server.replace('postgresql://', 'postgresql+psycopg://')}/{database}"
    upgrade_to_head(url)
    return url


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    return (
        statistics.quantiles(samples, n=100, method="inclusive")[int(pct) - 1]
        if len(samples) > 1
        else samples[0]
    )


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def result_line(name: str, *, ratio: float, target: str, **figures: object) -> str:
    """`RESULT <name> ratio=<ours/baseline> target=<op><t> k=v …`, printed and returned."""
    rendered = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    line = f"RESULT {name} ratio={ratio:.3f} target={target} {rendered}".rstrip()
    print(line, flush=True)
    return line
