from fastapi import APIRouter

from service.api import calendar, keys, members, orders, products, webhooks

api_router = APIRouter()
for module in (keys, members, products, orders, webhooks, calendar):
    api_router.include_router(module.router)
