"""Template filters shared by every page: money, moments in a zone, state labels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import Flask
from flask_babel import format_decimal, get_locale


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


def state_label(value: str) -> str:
    return value.replace("_", " ")


def register(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(moment)
    app.add_template_filter(state_label)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "en")
