from fastapi import APIRouter

from service.api import (
    calendar,
    gateways,
    keys,
    members,
    message_templates,
    orders,
    products,
    webhooks,
)

api_router = APIRouter()
for module in (keys, members, products, orders, webhooks, calendar, message_templates, gateways):
    api_router.include_router(module.router)
