from fastapi import APIRouter

from service.api import (
    analytics,
    calendar,
    keys,
    members,
    message_templates,
    orders,
    products,
    reports,
    webhooks,
)

api_router = APIRouter()
for module in (
    keys,
    members,
    products,
    orders,
    webhooks,
    calendar,
    message_templates,
    analytics,
    reports,
):
    api_router.include_router(module.router)
