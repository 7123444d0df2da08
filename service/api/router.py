from fastapi import APIRouter

from service.api import (
    analytics,
    calendar,
    gateways,
    journeys,
    keys,
    members,
    message_templates,
    messages,
    orders,
    products,
    reports,
    webhooks,
)

api_router = APIRouter()
ROUTERS = (keys, members, products, orders, webhooks, calendar, message_templates, gateways)
for module in (*ROUTERS, messages, journeys, analytics, reports):
    api_router.include_router(module.router)
