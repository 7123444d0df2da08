from fastapi import APIRouter

from service.api import (
    calendar,
    keys,
    members,
    message_templates,
    messages,
    orders,
    products,
    webhooks,
)

api_router = APIRouter()
for module in (keys, members, products, orders, webhooks, calendar, message_templates, messages):
    api_router.include_router(module.router)
