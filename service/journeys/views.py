"""Read models of enrolments: a journey's members, where each stands, what each step did."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.journeys.models import Enrolment, EnrolmentState, EnrolmentStep, Journey
from service.journeys.queries import load_rules
from service.journeys.schemas import EnrolmentOut, EnrolmentPage, StepRunOut
from service.members.models import Member
from service.members.service import decode_cursor, encode_cursor


async def list_enrolments(
    session: AsyncSession,
    *,
    journey: Journey,
    state: EnrolmentState | None,
    member: str | None,
    cursor: str | None,
    limit: int,
) -> EnrolmentPage:
    """One page of a journey's enrolments, oldest first, with the steps each has run."""
    query = (
        select(Enrolment, Member.external_id)
        .join(Member, Member.id == Enrolment.member_id)
        .where(Enrolment.journey_id == journey.id)
        .order_by(Enrolment.id)
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Enrolment.id > decode_cursor(cursor))
    if state is not None:
        query = query.where(Enrolment.state == state)
    if member is not None:
        query = query.where(Member.external_id == member)
    rows = (await session.execute(query)).all()
    page, more = rows[:limit], len(rows) > limit
    ids = [enrolment.id for enrolment, _ in page]
    steps: dict[int, list[StepRunOut]] = defaultdict(list)
    for step in await session.scalars(
        select(EnrolmentStep).where(EnrolmentStep.enrolment_id.in_(ids)).order_by(EnrolmentStep.id)
    ):
        steps[step.enrolment_id].append(
            StepRunOut(
                step_id=step.step_id,
                outcome=step.outcome,
                variant=step.variant,
                message_key=step.message_key,
                ran_at=step.ran_at,
            )
        )
    rules = await load_rules(session, {(e.journey_id, e.journey_version) for e, _ in page})
    items = []
    for enrolment, external_id in page:
        rule = rules.rule(enrolment.journey_id, enrolment.journey_version)
        at = enrolment.step_index
        current = (
            rule.steps[at].id
            if enrolment.state is EnrolmentState.ACTIVE and at < len(rule.steps)
            else None
        )
        items.append(
            EnrolmentOut(
                id=enrolment.id,
                member_external_id=external_id,
                journey_version=enrolment.journey_version,
                state=enrolment.state,
                entry_key=enrolment.entry_key,
                is_control=enrolment.is_control,
                step_id=current,
                next_run_at=enrolment.next_run_at,
                entered_at=enrolment.entered_at,
                ended_at=enrolment.ended_at,
                exit_reason=enrolment.exit_reason,
                goal_reached_at=enrolment.goal_reached_at,
                steps=steps[enrolment.id],
            )
        )
    return EnrolmentPage(items=items, next_cursor=encode_cursor(page[-1][0].id) if more else None)
