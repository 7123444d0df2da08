"""create_app: settings, engine, clock and clients are built here and held on app.state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api.health import router as health_router
from service.api.journeys import add_rule_schema
from service.api.router import api_router
from service.api.unsubscribe import router as unsubscribe_router
from service.clock import Clock, SystemClock
from service.db import make_engine, make_sessionmaker
from service.errors import add_error_handlers
from service.instance import load_secrets
from service.job_context import JobContext
from service.messaging import service as template_service
from service.messaging.gateways import open_gateways
from service.messaging.render import renderer_for
from service.metrics import Metrics
from service.middleware import RequestMiddleware
from service.migrate import head_revisions, upgrade_to_head
from service.scheduler import run_scheduler
from service.settings import Settings

DESCRIPTION = """Huitou (回头) keeps a shop's members and orders, runs marketing journeys
declared as JSON rules, sends the messages, honours opt-outs, and measures the revenue they
bring back.

Authenticate with `Authorization: Bearer <API key>`. Webhooks and gateway callbacks are signed
instead. Errors have one shape: `{"error": code, "detail": [{"loc": [...], "msg": ...}]}`."""


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, *, migrate: bool = True
) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await asyncio.to_thread(upgrade_to_head, settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.settings, app.state.clock, app.state.metrics = (
            settings,
            clock or SystemClock(),
            metrics,
        )
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.migration_heads = head_revisions(settings.database_url)
        async with app.state.sessions() as session, session.begin():
            app.state.secrets = await load_secrets(session, now=app.state.clock.now())
        app.state.renderer = renderer_for(settings)
        await template_service.load_shipped_templates(
            app.state.sessions,
            renderer=app.state.renderer,
            settings=settings,
            now=app.state.clock.now(),
        )
        async with open_gateways(settings, app.state.clock) as app.state.gateways:
            ctx = JobContext(
                app.state.sessions,
                app.state.clock,
                settings,
                app.state.secrets,
                gateways=app.state.gateways,
                renderer=app.state.renderer,
            )
            async with run_scheduler(ctx, enabled=settings.scheduler_enabled):
                yield
        await engine.dispose()

    app = FastAPI(title="Huitou", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    add_error_handlers(app)
    app.include_router(health_router)
    app.include_router(api_router, prefix="/v1")
    add_rule_schema(app)
    app.include_router(unsubscribe_router)  # links in messages: no /v1, no bearer auth
    return app
