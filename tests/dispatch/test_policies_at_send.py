"""Policies re-checked when the message goes out: quiet hours, caps, consent, expiry, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import FakeClock
from service.members import service as member_service
from service.members.models import Channel
from service.messaging.outbox import MessageStatus
from service.messaging.policies import Purpose
from tests.dispatch.kit import Harness, add_member, add_template, messages, queue, statuses
from tests.gateway_server import FakeSmsGateway

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
T = Purpose.TRANSACTIONAL


OTHER = "test/other"


async def add_other_template(session: AsyncSession, harness: Harness, clock: FakeClock) -> None:
    await add_template(session, harness.renderer, now=clock.now(), name=OTHER, zh="新品上架啦")


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=SH)


async def test_quiet_hours_defer_to_eight_in_the_members_zone(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    clock.set(sh(18, 22, 30))
    async with harness.sessions() as session, session.begin():
        shanghai = await add_member(session, now=clock.now())
        new_york = await add_member(
            session, now=clock.now(), external_id="m-ny", phone="+12025550123",
            timezone="America/New_York",
        )  # fmt: skip
        await queue(session, shanghai, now=clock.now(), key="sh")
        await queue(session, new_york, now=clock.now(), key="ny")  # 10:30 in New York
    assert await harness.tick() == {"claimed": 2, "queued": 1, "reaped": 0, "sent": 1}
    deferred = (await messages(harness.sessions))["sh"]
    assert (deferred.status, deferred.status_reason) == (MessageStatus.QUEUED, "quiet_hours")
    assert deferred.send_after_at == sh(19, 8)
    assert deferred.attempts == 0
    clock.set(sh(19, 7, 59))
    assert await harness.tick() == {}
    clock.set(sh(19, 8))
    assert (await harness.tick())["sent"] == 1
    assert set(fake.delivered) == {"sh", "ny"}


async def test_quiet_hours_in_new_york_wait_for_eight_there(
    harness: Harness, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 6, 18, 23, 0, tzinfo=NY))
    async with harness.sessions() as session, session.begin():
        member = await add_member(
            session, now=clock.now(), phone="+12025550123", timezone="America/New_York"
        )
        await queue(session, member, now=clock.now(), key="ny")
    await harness.tick()
    message = (await messages(harness.sessions))["ny"]
    assert message.send_after_at == datetime(2026, 6, 19, 8, 0, tzinfo=NY)


async def test_a_cap_defers_the_lower_priority_message_until_the_next_day(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await add_other_template(session, harness, clock)
        await queue(session, member, now=clock.now(), key="low", priority=10)
        await queue(session, member, now=clock.now(), key="high", priority=90, template=OTHER)
    await harness.tick()
    assert await statuses(harness.sessions) == {
        "low": ("queued", "frequency_cap"),
        "high": ("sent", None),
    }
    low = (await messages(harness.sessions))["low"]
    assert low.send_after_at == sh(19, 8)  # local midnight, then out of the quiet hours
    clock.set(sh(19, 8))
    await harness.tick()
    assert await harness.status_of("low") is MessageStatus.SENT
    assert set(fake.delivered) == {"low", "high"}


async def test_a_due_higher_priority_message_in_another_batch_takes_the_slot(
    harness: Harness, clock: FakeClock
) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await add_other_template(session, harness, clock)
        await queue(
            session, member, now=clock.now(), key="low-first", priority=10,
            send_after_at=clock.now() - timedelta(seconds=1),  # due first, so claimed first
        )  # fmt: skip
        await queue(session, member, now=clock.now(), key="high", priority=90, template=OTHER)
    await harness.tick(dispatch_batch=1)  # low is claimed alone, and yields to the due high one
    assert await statuses(harness.sessions) == {
        "low-first": ("queued", "frequency_cap"),
        "high": ("sent", None),
    }


async def test_a_deferred_message_expires_only_at_its_own_expiry(
    harness: Harness, clock: FakeClock
) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await add_other_template(session, harness, clock)
        await queue(session, member, now=clock.now(), key="sent-first", priority=90, template=OTHER)
        await queue(
            session, member, now=clock.now(), key="greeting", priority=10, expires_at=sh(18, 20)
        )
    await harness.tick()
    greeting = (await messages(harness.sessions))["greeting"]
    assert (greeting.status, greeting.send_after_at) == (MessageStatus.QUEUED, sh(18, 20))
    clock.set(sh(18, 19, 59))
    assert await harness.tick() == {}
    clock.set(sh(18, 20))
    assert await harness.tick() == {"claimed": 1, "expired": 1, "reaped": 0}
    assert await statuses(harness.sessions) == {
        "sent-first": ("sent", None),
        "greeting": ("expired", "expired"),
    }


async def test_a_journeys_own_cap_overrides_the_default(harness: Harness, clock: FakeClock) -> None:
    cap = {"frequency_cap": {"per_day": 2, "per_week": 5}}
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await queue(session, member, now=clock.now(), key="a", context=cap)
        await add_other_template(session, harness, clock)
        await queue(session, member, now=clock.now(), key="b", context=cap, template=OTHER)
    await harness.tick()
    assert await statuses(harness.sessions) == {"a": ("sent", None), "b": ("sent", None)}


async def test_an_opt_out_while_queued_stops_marketing_but_not_transactional(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    later = clock.now() + timedelta(hours=1)
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await add_template(
            session, harness.renderer, now=clock.now(), name="test/shipped", purpose=T,
            zh="您的订单已发货",
        )  # fmt: skip
        await queue(session, member, now=clock.now(), key="promo", send_after_at=later)
        await queue(
            session, member, now=clock.now(), key="shipped", template="test/shipped",
            purpose=T, send_after_at=later,
        )  # fmt: skip
    async with harness.sessions() as session, session.begin():
        await member_service.set_consent(
            session, external_id="m-1", channel=Channel.SMS, granted=False, source="reply_t",
            now=clock.now(), salt=harness.secrets.contact_salt,
        )  # fmt: skip
    clock.set(later)
    await harness.tick()
    assert await statuses(harness.sessions) == {
        "promo": ("suppressed", "opted_out"),
        "shipped": ("sent", None),
    }
    assert set(fake.attempts) == {"shipped"}


async def test_transactional_goes_at_night_and_past_caps_but_never_to_a_bounced_contact(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    clock.set(sh(18, 23))
    async with harness.sessions() as session, session.begin():
        await add_template(
            session, harness.renderer, now=clock.now(), name="test/shipped", purpose=T,
            zh="{{ member.name }}，您的订单已发货",
        )  # fmt: skip
        ok = await add_member(session, now=clock.now())
        bounced = await add_member(
            session, now=clock.now(), external_id="m-2", phone="+8613912345678", name="李雷"
        )
        gone = await add_member(
            session, now=clock.now(), external_id="m-3", phone="+8613712345678", name="韩梅"
        )
        for member in (ok, bounced, gone):
            await queue(
                session, member, now=clock.now(), key=f"ship-{member.external_id}",
                template="test/shipped", purpose=T,
            )  # fmt: skip
        await member_service.suppress_contact(
            session, channel=Channel.SMS, contact="+8613912345678", reason="hard_bounce",
            salt=harness.secrets.contact_salt, now=clock.now(),
        )  # fmt: skip
        await member_service.erase_member(
            session, external_id="m-3", now=clock.now(), salt=harness.secrets.contact_salt
        )
    await harness.tick()
    assert await statuses(harness.sessions) == {
        "ship-m-1": ("sent", None),
        "ship-m-2": ("suppressed", "hard_bounce"),
        "ship-m-3": ("suppressed", "erased"),
    }
    assert set(fake.attempts) == {"ship-m-1"}


async def test_the_same_copy_goes_to_a_number_once_a_day(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    async with harness.sessions() as session, session.begin():
        await add_template(
            session, harness.renderer, now=clock.now(), name="test/notice", purpose=T,
            zh="仓库通知：明日停发一天",
        )  # fmt: skip
        member = await add_member(session, now=clock.now())
        for key in ("journey-a", "journey-b"):
            await queue(
                session, member, now=clock.now(), key=key, template="test/notice", purpose=T
            )
    await harness.tick()
    assert await statuses(harness.sessions) == {
        "journey-a": ("sent", None),
        "journey-b": ("suppressed", "duplicate_copy"),
    }
    clock.advance(hours=3)  # later the same day, in another tick
    async with harness.sessions() as session, session.begin():
        await queue(session, member, now=clock.now(), key="journey-c", template="test/notice",
                    purpose=T)  # fmt: skip
    await harness.tick()
    assert await harness.status_of("journey-c") is MessageStatus.SUPPRESSED
    clock.set(sh(19, 9))  # the next day it may go again
    async with harness.sessions() as session, session.begin():
        await queue(session, member, now=clock.now(), key="journey-d", template="test/notice",
                    purpose=T)  # fmt: skip
    await harness.tick()
    assert await harness.status_of("journey-d") is MessageStatus.SENT
    assert set(fake.delivered) == {"journey-a", "journey-d"}


async def test_an_expired_message_is_dropped_as_expired(harness: Harness, clock: FakeClock) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await queue(
            session, member, now=clock.now(), key="late",
            send_after_at=clock.now() - timedelta(days=2),
            expires_at=clock.now() - timedelta(hours=1),
        )  # fmt: skip
    await harness.tick()
    assert await statuses(harness.sessions) == {"late": ("expired", "expired")}


async def test_messages_due_later_are_not_claimed(harness: Harness, clock: FakeClock) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await queue(session, member, now=clock.now(), key="later",
                    send_after_at=clock.now() + timedelta(seconds=1))  # fmt: skip
    assert await harness.tick() == {}
    assert datetime(2026, 6, 18, 1, tzinfo=UTC) == clock.now()


async def test_marketing_copy_labelled_transactional_still_needs_consent(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await queue(session, member, now=clock.now(), key="sneaky", purpose=T)  # marketing copy
        await member_service.set_consent(
            session, external_id="m-1", channel=Channel.SMS, granted=False, source="reply_t",
            now=clock.now(), salt=harness.secrets.contact_salt,
        )  # fmt: skip
    await harness.tick()
    assert await statuses(harness.sessions) == {"sneaky": ("suppressed", "opted_out")}
    assert not fake.attempts
