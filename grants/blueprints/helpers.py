"""Template filters shared by every page: money, moments in a zone, state labels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, has_request_context
from flask_babel import format_decimal, get_locale
from jinja2 import pass_context


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


# French names of workflow states and stages; English reads them off the identifiers.
FRENCH_LABELS = {
    "draft": "brouillon",
    "submitted": "soumis",
    "in_evaluation": "en évaluation",
    "admin_rejected": "rejeté (contrôle administratif)",
    "invited": "invité",
    "rejected": "rejeté",
    "fa_submitted": "demande complète soumise",
    "lapsed": "caduc",
    "fa_in_evaluation": "demande complète en évaluation",
    "provisionally_selected": "sélectionné à titre provisoire",
    "reserve": "liste de réserve",
    "awarded": "attribué",
    "ineligible": "inéligible",
    "withdrawn": "retiré",
    "open": "ouvert",
    "closed": "clôturé",
    "evaluation": "évaluation",
    "decided": "décidé",
    "archived": "archivé",
    "cancelled": "annulé",
    "accepted": "accepté",
    "recused": "récusé",
    "reopened": "rouvert",
    "removed": "retiré",
    "contract_preparation": "contrat en préparation",
    "awaiting_signature": "en attente de signature",
    "active": "en cours",
    "suspended": "suspendu",
    "final_reporting": "rapport final",
    "terminated": "résilié",
    "planned": "prévu",
    "requested": "demandé",
    "approved": "approuvé",
    "paid": "payé",
    "due": "attendu",
    "changes_requested": "modifications demandées",
    "concept_note": "note succincte",
    "full_application": "demande complète",
}


def state_text(value: str, language: str | None = None) -> str:
    """A state in words, in `language` or else the request's locale."""
    if language is None:
        language = str(get_locale() or "en") if has_request_context() else "en"
    if language.startswith("fr") and value in FRENCH_LABELS:
        return FRENCH_LABELS[value]
    return value.replace("_", " ")


@pass_context
def state_label(context: Any, value: str) -> str:
    """A state in words, in the template's language (`lang`) or the request's locale."""
    return state_text(value, context.get("lang") or None)


def register(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(moment)
    app.add_template_filter(state_label)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "en")
