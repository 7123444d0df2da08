from fastapi import APIRouter

from service.api import (
    calendar,
    gateways,
    journeys,
    keys,
    members,
    message_templates,
    orders,
    products,
    webhooks,
)

api_router = APIRouter()
ROUTERS = (
    keys,
    members,
    products,
    orders,
    webhooks,
    calendar,
    message_templates,
    gateways,
    journeys,
)
for module in ROUTERS:
    api_router.include_router(module.router)
