"""Template filters shared by every page: money, moments in a zone, state labels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, has_request_context
from flask_babel import format_decimal, get_locale
from jinja2 import pass_context

from ..labels import state_name


def money(value: Decimal | None, currency: str = "EUR") -> str:
    if value is None:
        return "—"
    return f"{currency} {format_decimal(value, format='#,##0.00')}"


def moment(value: datetime | None, zone: str = "Europe/Brussels") -> str:
    if value is None:
        return "—"
    from zoneinfo import ZoneInfo

    local = value.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} ({zone})"


def state_text(value: str, language: str | None = None, object_type: str | None = None) -> str:
    """A state in words, in `language` or else the request's locale (agreeing with the
    kind of object it is said of, if given: see `labels.state_name`)."""
    if language is None:
        language = str(get_locale() or "en") if has_request_context() else "en"
    return state_name(value, language, object_type)


@pass_context
def state_label(context: Any, value: str, object_type: str | None = None) -> str:
    """A state in words, in the template's language (`lang`) or the request's locale."""
    return state_text(value, context.get("lang") or None, object_type)


def register(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(moment)
    app.add_template_filter(state_label)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "en")
