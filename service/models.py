"""Every model, imported in one place so Alembic and the tests see the whole schema."""

from service.analytics.models import (
    AnalyticsRun,
    LifecycleSnapshot,
    MemberAnalytics,
    ReplenishmentCycle,
)
from service.events.models import Event, EventCursor
from service.instance import InstanceSecret
from service.journeys.models import (
    Enrolment,
    EnrolmentStep,
    Journey,
    JourneyVersion,
    TriggerWatermark,
)
from service.keys.models import ApiKey
from service.members.models import ConsentChange, Member, MemberConsent, MemberTag, Suppression
from service.messaging.models import MessageTemplate
from service.messaging.outbox import Message, MessageStatus
from service.orders.models import Order, OrderItem, WebhookDelivery
from service.products.models import Product

__all__ = [
    "AnalyticsRun",
    "ApiKey",
    "ConsentChange",
    "Enrolment",
    "EnrolmentStep",
    "Event",
    "EventCursor",
    "InstanceSecret",
    "Journey",
    "JourneyVersion",
    "LifecycleSnapshot",
    "Member",
    "MemberAnalytics",
    "MemberConsent",
    "MemberTag",
    "Message",
    "MessageStatus",
    "MessageTemplate",
    "Order",
    "OrderItem",
    "Product",
    "ReplenishmentCycle",
    "Suppression",
    "TriggerWatermark",
    "WebhookDelivery",
]
