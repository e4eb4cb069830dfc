"""Templates: one Jinja2 file per message kind, channel and locale, under ``templates/<locale>/``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context, select_autoescape
from jinja2.runtime import Context

from claims_notification.domain.formatting import format_date, format_datetime, format_money, label
from claims_notification.domain.model import SUPPORTED_LOCALES, Channel, Kind, resolve_locale

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    """A rendered message: a subject (none for SMS) and a plain-text body."""

    subject: str | None
    body: str


def template_name(kind: Kind, channel: Channel, locale: str) -> str:
    """``zh-CN/claim_decided.email.txt``."""
    return f"{locale}/{kind.value}.{channel.value}.txt"


class Renderer:
    """Renders messages; amounts, dates and codes are written for the message's locale.

    Templates are files shipped with the service: each is compiled once and never looked up on disk again.
    """

    def __init__(self, *, display_timezone: str = "Asia/Shanghai", directory: Path = TEMPLATES) -> None:
        self.tz: tzinfo = ZoneInfo(display_timezone)
        self.env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self._templates: dict[tuple[Kind, Channel, str], Template] = {}
        self.env.filters.update(
            money=_money,
            date=_date,
            datetime=self._datetime,
            label=_label,
        )

    def render(self, kind: Kind, channel: Channel, locale: str, context: dict[str, Any]) -> Rendered:
        """Render one message; ``locale`` falls back to the default when it is not supported."""
        locale = resolve_locale(locale)
        key = (kind, channel, locale)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self.env.get_template(template_name(kind, channel, locale))
        values = {**context, "locale": locale, "channel": channel.value}
        body = template.render(values).strip()
        subject = None
        if "subject" in template.blocks:
            ctx = template.new_context(values)
            subject = " ".join("".join(template.blocks["subject"](ctx)).split())
        return Rendered(subject=subject, body=body)

    def all_templates(self) -> list[tuple[Kind, Channel, str]]:
        """Every (kind, channel, locale) that must have a template."""
        return [(k, c, loc) for k in Kind for c in Channel for loc in SUPPORTED_LOCALES]

    @pass_context
    def _datetime(self, ctx: Context, value: str) -> str:
        return format_datetime(value, ctx["locale"], self.tz)


@pass_context
def _money(ctx: Context, amount: Any, currency: str | None = None) -> str:
    return format_money(amount, currency or ctx["currency"], ctx["locale"])


@pass_context
def _date(ctx: Context, value: str) -> str:
    return format_date(value, ctx["locale"])


@pass_context
def _label(ctx: Context, code: str, group: str) -> str:
    return label(group, code, ctx["locale"])
