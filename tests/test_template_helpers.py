"""Template filters: state names in the reader's language, money, moments in a zone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from flask import render_template_string


def test_state_labels_follow_the_template_language(app):
    assert render_template_string("{{ 'reserve'|state_label }}") == "reserve"
    assert render_template_string("{{ 'reserve'|state_label }}", lang="fr") == "liste de réserve"
    assert render_template_string("{{ 'fa_submitted'|state_label }}") == "fa submitted"


def test_state_labels_follow_the_request_locale(app):
    with app.test_request_context(headers={"Accept-Language": "fr-FR,fr;q=0.9"}):
        assert render_template_string("{{ 'awarded'|state_label }}") == "attribué"


def test_french_state_mail_uses_french_labels(app):
    from grants.jobs.delivery import render
    from grants.models import OutboxMessage

    message = OutboxMessage(kind="application.withdraw", recipient_email="a@b.org",
                            language="fr", context={"object": "Application X",
                                                    "from_state": "submitted",
                                                    "to_state": "withdrawn"})
    subject, text, _ = render(message)
    assert "retiré" in subject and "withdrawn" not in text


def test_money_and_moment(app):
    with app.test_request_context():
        html = render_template_string(
            "{{ amount|money('EUR') }} | {{ at|moment('Europe/Brussels') }}",
            amount=Decimal("120000.5"), at=datetime(2026, 10, 25, 16, 0, tzinfo=UTC))
    assert html == "EUR 120,000.50 | 2026-10-25 17:00 (Europe/Brussels)"
