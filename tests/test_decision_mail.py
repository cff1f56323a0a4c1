"""A rejection is mailed with the link to its decision letter, in the applicant's language."""

from __future__ import annotations

from grants.jobs.delivery import render
from grants.models import OutboxMessage


def _message(to_state: str, language: str) -> OutboxMessage:
    return OutboxMessage(
        kind="application_two_stage.reject",
        recipient_email="a@b.org",
        language=language,
        object_type="applications",
        object_id=42,
        context={"object": "Application MMD-2026-C02-0042", "from_state": "in_evaluation",
                 "to_state": to_state, "comment": "Below the threshold."},
    )


def test_a_rejection_mail_links_its_letter(app):
    base = app.config["EXPORT_BASE_URL"]
    _, text, html = render(_message("rejected", "en"))
    assert f"{base}/grants/letters/42.pdf" in text
    assert "Reason: Below the threshold." in text
    assert html is not None and f"{base}/grants/letters/42.pdf" in html
    _, text_fr, _ = render(_message("rejected", "fr"))
    assert "Motif : Below the threshold." in text_fr and "/grants/letters/42.pdf" in text_fr


def test_a_reserve_decision_has_no_letter_link(app):
    _, text, _ = render(_message("reserve", "en"))
    assert "/grants/letters/" not in text


def test_the_rejected_applicant_downloads_the_letter_the_mail_links(client, app, frozen_clock):
    from decimal import Decimal

    from grants.extensions import db
    from tests.factories import PASSWORD, ApplicationFactory, EvaluationResultFactory

    rejected = ApplicationFactory(state="rejected", decision_reason="Below the threshold.")
    EvaluationResultFactory(application=rejected, stage="full_application",
                            total=Decimal("48.00"), passes=False)
    db.session.commit()
    client.post("/account/login",
                data={"email": rejected.created_by.email, "password": PASSWORD})
    letter = client.get(f"/grants/letters/{rejected.id}.pdf")
    assert letter.status_code == 200 and letter.data.startswith(b"%PDF-")
    client.post("/account/logout")
    assert client.get(f"/grants/letters/{rejected.id}.pdf").status_code in (302, 401, 404)
