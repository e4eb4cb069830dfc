"""E-mail over SMTP (aiosmtplib), with STARTTLS or implicit TLS and authentication as configured."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from claims_notification.channels import OutboundMessage, SendFailed
from claims_notification.config import NotificationSettings


class SmtpSender:
    """Sends plain-text UTF-8 mail; the Message-ID derives from the message id, so receivers can dedupe."""

    def __init__(self, settings: NotificationSettings) -> None:
        assert settings.smtp_host
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.sender = settings.smtp_sender
        self.username = settings.smtp_username
        self.password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self.start_tls = settings.smtp_starttls and not settings.smtp_use_tls
        self.use_tls = settings.smtp_use_tls
        self.timeout = settings.smtp_timeout_seconds

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The MIME message."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.message_id}@claims-notification>"  # the same on every try
        mail["Content-Language"] = message.locale
        mail["X-Claims-Message-Id"] = message.message_id
        mail.set_content(message.body, charset="utf-8")
        return mail

    async def send(self, message: OutboundMessage) -> None:
        """Hand the mail to the SMTP server."""
        try:
            await aiosmtplib.send(
                self.build(message),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                use_tls=self.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            permanent = all(r.code >= 500 for r in exc.recipients)  # 4xx (greylisting, full mailbox) passes
            raise SendFailed(f"recipient refused: {exc}", permanent=permanent) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from None
