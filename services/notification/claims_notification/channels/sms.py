"""SMS through an HTTP gateway (httpx): a JSON POST, authenticated by a bearer token or basic auth."""

from __future__ import annotations

import httpx

from claims_notification.channels import OutboundMessage, SendFailed
from claims_notification.config import NotificationSettings

_RETRYABLE_4XX = frozenset({408, 409, 425, 429})


class SmsGatewaySender:
    """Posts ``{"to", "text", "reference", "sender"}``; ``reference`` and ``Idempotency-Key`` are the message id."""

    def __init__(self, settings: NotificationSettings) -> None:
        assert settings.sms_gateway_url
        self.url = settings.sms_gateway_url
        self.sender_id = settings.sms_sender_id
        headers: dict[str, str] = {}
        auth: httpx.BasicAuth | None = None
        if settings.sms_gateway_token is not None:
            headers["Authorization"] = f"Bearer {settings.sms_gateway_token.get_secret_value()}"
        elif settings.sms_gateway_username and settings.sms_gateway_password is not None:
            auth = httpx.BasicAuth(settings.sms_gateway_username, settings.sms_gateway_password.get_secret_value())
        self.client = httpx.AsyncClient(timeout=settings.sms_timeout_seconds, headers=headers, auth=auth)

    async def send(self, message: OutboundMessage) -> None:
        """Hand the text to the gateway; a 2xx answer means it took it."""
        body = {"to": message.address, "text": message.body, "reference": message.message_id}
        if self.sender_id:
            body["sender"] = self.sender_id
        try:
            response = await self.client.post(self.url, json=body, headers={"Idempotency-Key": message.message_id})
        except httpx.HTTPError as exc:
            raise SendFailed(f"{type(exc).__name__}: gateway unreachable") from None
        if response.is_success:
            return
        permanent = 400 <= response.status_code < 500 and response.status_code not in _RETRYABLE_4XX
        raise SendFailed(f"gateway answered {response.status_code}", permanent=permanent)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()
