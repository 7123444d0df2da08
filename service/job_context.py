"""What every periodic job is given: sessions, the clock, settings, secrets, and the gateways."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import Clock
from service.instance import InstanceSecrets
from service.messaging.gateways import Gateways
from service.messaging.render import Renderer
from service.messaging.setup import worker_name
from service.settings import Settings


@dataclass(frozen=True)
class JobContext:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings
    secrets: InstanceSecrets
    gateways: Gateways | None = None  # jobs that send need them; None: those jobs skip
    renderer: Renderer | None = None  # shared so compiled templates are reused across ticks
    worker: str = field(default_factory=worker_name)  # this process, in leases
