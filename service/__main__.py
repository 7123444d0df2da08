"""The huitou command: serve, migrate, keys, import, tick, demo-data."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock, FakeClock, SystemClock
from service.db import make_engine, make_sessionmaker
from service.keys.models import Scope
from service.migrate import upgrade_to_head
from service.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    result: int = args.run(args, Settings())
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huitou", description="Campaign automation for e-commerce shops."
    )
    sub = parser.add_subparsers()

    serve = sub.add_parser("serve", help="migrate, then run the API and the scheduler")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--demo", action="store_true", help="seed demo members, products and orders first"
    )
    serve.set_defaults(run=cmd_serve)

    sub.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(
        run=cmd_migrate
    )
    sub.add_parser("demo-data", help="seed demo data into an empty database").set_defaults(
        run=cmd_demo
    )

    tick = sub.add_parser("tick", help="run every periodic job once (cron-style deployments)")
    tick.add_argument("--at", type=_aware, help="ISO 8601 instant to run as of (default: now)")
    tick.add_argument(
        "--job", action="append", metavar="NAME", help="run only this job (repeatable)"
    )
    tick.set_defaults(run=cmd_tick)

    keys = sub.add_parser("keys", help="create, list and revoke API keys").add_subparsers()
    create = keys.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, choices=[s.value for s in Scope])
    create.set_defaults(run=cmd_keys_create)
    keys.add_parser("list").set_defaults(run=cmd_keys_list)
    revoke = keys.add_parser("revoke")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(run=cmd_keys_revoke)

    from service.orders.importer import add_import_parser

    add_import_parser(sub)
    return parser


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-11-11T10:00:00+08:00")
    return parsed


def in_session(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]], *, migrate: bool = True
) -> Any:
    """Run one unit of work in one committed transaction."""
    if migrate:
        upgrade_to_head(settings.database_url)

    async def run() -> Any:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.app import create_app
    from service.logs import configure_logging

    configure_logging(settings.log_level)
    if args.demo:
        cmd_demo(args, settings)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    upgrade_to_head(settings.database_url)
    print("database is at the newest schema")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from service.demo import seed_demo, seed_demo_journeys, seed_demo_live
    from service.instance import load_secrets
    from service.messaging.render import renderer_for
    from service.messaging.service import load_from_disk

    async def work(session: AsyncSession) -> tuple[int, bool]:
        now = SystemClock().now()
        # the history, then the journeys going live, then today's orders they react to
        history_at, live_at = now - timedelta(seconds=2), now - timedelta(seconds=1)
        secrets = await load_secrets(session, now=now)
        await load_from_disk(
            session,
            directory=Path(settings.templates_dir),
            renderer=renderer_for(settings),
            brand=settings.brand,
            now=now,
        )
        seeded = await seed_demo(
            session, now=history_at, region=settings.country, salt=secrets.contact_salt
        )
        journeys = await seed_demo_journeys(
            session, now=live_at, directory=Path(settings.rule_templates_dir)
        )
        if seeded:
            await seed_demo_live(session, now=now, region=settings.country)
        return journeys, seeded

    journeys, seeded = in_session(settings, work)
    print(f"{journeys} demo journeys activated" if journeys else "journeys exist; none added")
    print("demo data seeded" if seeded else "database already has members; demo data not added")
    return 0


def cmd_tick(args: argparse.Namespace, settings: Settings) -> int:
    from service.instance import load_secrets
    from service.job_context import JobContext
    from service.messaging import service as template_service
    from service.messaging.gateways import open_gateways
    from service.messaging.render import renderer_for
    from service.scheduler import jobs_named, periodic_jobs, run_once

    try:
        jobs = jobs_named(periodic_jobs(settings), args.job)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    upgrade_to_head(settings.database_url)
    clock: Clock = FakeClock(args.at) if args.at else SystemClock()

    async def run() -> dict[str, object]:
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        renderer = renderer_for(settings)
        try:
            async with sessions() as session, session.begin():
                secrets = await load_secrets(session, now=clock.now())
            # cron-style deployments may never start the API: the shipped copy loads here too
            await template_service.load_shipped_templates(
                sessions, renderer=renderer, settings=settings, now=clock.now()
            )
            async with open_gateways(settings, clock) as gateways:
                ctx = JobContext(
                    sessions, clock, settings, secrets, gateways=gateways, renderer=renderer
                )
                return await run_once(ctx, jobs)
        finally:
            await engine.dispose()

    print(json.dumps(asyncio.run(run()), default=str))
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from service.keys.service import create_key

    async def work(session: AsyncSession) -> str:
        _, plaintext = await create_key(
            session, name=args.name, scopes=[Scope(s) for s in args.scope], now=SystemClock().now()
        )
        return plaintext

    print(in_session(settings, work))
    return 0


def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    from service.keys.service import list_keys

    async def work(session: AsyncSession) -> list[str]:
        return [
            f"{k.id}\t{k.prefix}…\t{k.name}\t{','.join(k.scopes)}\t"
            f"{'revoked ' + k.revoked_at.isoformat() if k.revoked_at else 'active'}"
            for k in await list_keys(session)
        ]

    print("\n".join(in_session(settings, work)) or "no keys")
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from service.errors import NotFound
    from service.keys.service import revoke_key

    async def work(session: AsyncSession) -> None:
        await revoke_key(session, key_id=args.key_id, now=SystemClock().now())

    try:
        in_session(settings, work)
    except NotFound as exc:
        print(exc.msg, file=sys.stderr)
        return 1
    print(f"key {args.key_id} revoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
