from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.api.deps import Admin, ClockDep, DbSession
from service.inputs import InputModel
from service.keys import service as key_service
from service.keys.models import ApiKey, Scope

router = APIRouter(prefix="/keys", tags=["keys"], dependencies=[Admin])


class KeyIn(InputModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1)]


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself; shown this once, stored only as a hash.")


@router.post("", response_model=NewKeyOut, status_code=status.HTTP_201_CREATED)
async def create_key(body: KeyIn, session: DbSession, clock: ClockDep) -> NewKeyOut:
    key, plaintext = await key_service.create_key(
        session, name=body.name, scopes=body.scopes, now=clock.now()
    )
    return NewKeyOut(**KeyOut.model_validate(key).model_dump(), key=plaintext)


@router.get("", response_model=list[KeyOut])
async def list_keys(session: DbSession) -> list[ApiKey]:
    return list(await key_service.list_keys(session))


@router.delete("/{key_id}", response_model=KeyOut)
async def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**62)], session: DbSession, clock: ClockDep
) -> ApiKey:
    return await key_service.revoke_key(session, key_id=key_id, now=clock.now())
