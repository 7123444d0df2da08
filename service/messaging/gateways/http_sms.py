"""A generic HTTP SMS gateway: one JSON POST per message, with an Idempotency-Key header.

Request body: {"to", "text", "template", "locale", "idempotency_key"}. Any 2xx accepts the
message; its JSON `id` (or `message_id`) is kept as the provider id for delivery receipts.
"""

from __future__ import annotations

import httpx

from service.members.models import Channel
from service.messaging.gateways.base import (
    OutgoingMessage,
    Receipt,
    error_for_status,
    error_for_transport,
)


class HttpSmsGateway:
    name = "http"
    channel = Channel.SMS

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        auth_header: str = "Authorization",
        auth_value: str | None = None,
        honours_idempotency: bool = True,
    ) -> None:
        self._client, self._url = client, httpx.URL(url)  # parsed once, not per message
        self._headers = {auth_header: auth_value} if auth_value else {}
        self.honours_idempotency = honours_idempotency

    async def send(self, message: OutgoingMessage) -> Receipt:
        body = {
            "to": message.to,
            "text": message.text,
            "template": message.template,
            "locale": message.locale,
            "idempotency_key": message.idempotency_key,
        }
        headers = {**self._headers, "Idempotency-Key": message.idempotency_key}
        try:
            response = await self._client.post(self._url, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise error_for_transport(self.name, exc, idempotent=self.honours_idempotency) from exc
        error = error_for_status(self.name, response)
        if error is not None:
            raise error
        return Receipt(self.name, _provider_id(response))


def _provider_id(response: httpx.Response) -> str | None:
    if not response.content:
        return None
    try:
        data = response.json()
    except ValueError:
        return None  # accepted all the same: a 2xx is the gateway's yes
    if not isinstance(data, dict):
        return None
    value = data.get("id", data.get("message_id"))
    return str(value) if value is not None else None
