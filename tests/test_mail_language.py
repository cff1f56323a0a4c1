"""Mail names its object in the recipient's language, as the notifications page does.

The services record objects by their English labels; a French member of the
organisation gets them in French (with no English label left), an English one
exactly as before, and a title passes through as written. Mails are sent for
real, through the transition pipeline or the sweeps, to a local SMTP server.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.jobs import delivery
from grants.labels import object_in_text, object_name
from grants.models import OutboxMessage, Payment, Report
from grants.services import letters, notifications, sweeps
from grants.services.transitions import transition
from tests.factories import (
    ApplicationFactory,
    GrantFactory,
    ManagerFactory,
    OrganisationFactory,
    member,
)
from tests.notifications_fixtures import *  # noqa: F403 (fixtures)
from tests.notifications_fixtures import SmtpSink

# What an English label leaves behind in a French mail.
ENGLISH_LABELS = ("Application ", "Payment ", "Interim report", "Final report", " of Grant")


@pytest.fixture
def members(app: Any) -> tuple[Any, Any, Any]:
    """An organisation with a French owner and an English editor."""
    org = OrganisationFactory()
    french = member(org, "owner", email="fr@example.org", language="fr")
    english = member(org, "editor", email="en@example.org", language="en")
    return org, french, english


def _mail(sink: SmtpSink, address: str, subject_start: str) -> tuple[str, str, str]:
    """Subject, text and HTML of the one mail to `address` whose subject starts so."""
    found: list[Message] = [
        m for m in sink.to(address) if str(m["Subject"]).startswith(subject_start)
    ]
    assert len(found) == 1, [str(m["Subject"]) for m in sink.to(address)]
    mail = found[0]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html_part = mail.get_body(("html",))
    html = html_part.get_content() if html_part is not None else ""
    return str(mail["Subject"]), text, html


def _no_english_label(*parts: str) -> None:
    left = [label for label in ENGLISH_LABELS if any(label in part for part in parts)]
    assert left == [], "an English label is left in the French mail"


def _no_french(*parts: str) -> None:
    left = [word for word in ("Demande", "demande", "subvention", "Rapport", "Paiement")
            if any(word in part for part in parts)]
    assert left == [], "French is left in the English mail"


def test_the_submission_receipt_names_the_application_in_each_language(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], members: Any
) -> None:
    org, french, _english = members
    application = ApplicationFactory(organisation=org, created_by=french)
    db.session.commit()
    transition(application, "submit", french)
    reference = application.reference
    sink = smtp_sink[0]

    subject, text, html = _mail(sink, "fr@example.org", "[MMD] Accusé de réception")
    assert subject == f"[MMD] Accusé de réception : Demande {reference} soumise"
    assert f"Nous avons bien reçu la demande {reference}." in text
    assert f"Nous avons bien reçu la demande {reference}." in html
    _no_english_label(subject, text, html)

    subject, text, html = _mail(sink, "en@example.org", "[MMD] Receipt")
    assert subject == f"[MMD] Receipt: Application {reference} submitted"
    assert f"We have received your Application {reference}." in text
    assert f"We have received your Application {reference}." in html
    _no_french(subject, text, html)

    # The rows keep what the pipeline recorded: the English label.
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("%.submit")))
    assert {row.context["object"] for row in rows} == {f"Application {reference}"}


def _active_grant(org: Any, french: Any) -> Any:
    application = ApplicationFactory(organisation=org, created_by=french, state="awarded")
    return GrantFactory(application=application, state="active", signed_at=application.decided_at)


def test_a_payment_notice_names_the_payment_in_each_language(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], members: Any
) -> None:
    org, french, _english = members
    grant = _active_grant(org, french)
    payment = Payment(grant=grant, sequence=1, kind="prefinancing", trigger="signature",
                      planned_amount=Decimal("10000.00"), state="approved")
    db.session.add(payment)
    db.session.commit()
    transition(payment, "pay", ManagerFactory())
    sink = smtp_sink[0]

    subject, text, html = _mail(sink, "fr@example.org", "[MMD] Paiement effectué")
    assert subject == f"[MMD] Paiement effectué : Paiement 1 de la subvention {grant.number}"
    assert f"Nous avons effectué le paiement 1 de la subvention {grant.number}." in text
    assert f"Nous avons effectué le paiement 1 de la subvention {grant.number}." in html
    _no_english_label(subject, text, html)

    subject, text, html = _mail(sink, "en@example.org", "[MMD] Payment made")
    assert subject == f"[MMD] Payment made: Payment 1 of Grant {grant.number}"
    assert f"Payment 1 of Grant {grant.number} has been paid." in text
    _no_french(subject, text, html)


def _report(org: Any, french: Any, due: date, **fields: Any) -> Report:
    report = Report(grant=_active_grant(org, french), kind="interim", sequence=1,
                    period_start=date(2027, 1, 1), period_end=date(2027, 3, 31), due_date=due,
                    **fields)
    db.session.add(report)
    db.session.commit()
    return report


def test_a_report_reminder_names_the_report_in_each_language(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], members: Any
) -> None:
    org, french, _english = members
    report = _report(org, french, frozen_clock.current.date() + timedelta(days=7), state="due")
    assert sweeps.report_reminders() == 2
    number, due = report.grant.number, report.due_date.isoformat()
    sink = smtp_sink[0]

    subject, text, html = _mail(sink, "fr@example.org", "[MMD] Rappel")
    assert subject == (
        f"[MMD] Rappel : Rapport intermédiaire 1 de la subvention {number} attendu dans 7 jour(s)"
    )
    assert f"Nous attendons le rapport intermédiaire 1 de la subvention {number} pour le {due}." \
        in text
    _no_english_label(subject, text, html)

    subject, text, html = _mail(sink, "en@example.org", "[MMD] Reminder")
    assert subject == f"[MMD] Reminder: Interim report 1 of Grant {number} due in 7 day(s)"
    assert f"Interim report 1 of Grant {number} is due on {due}." in text
    _no_french(subject, text, html)


def test_the_digest_names_each_object_in_the_readers_language(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], members: Any
) -> None:
    org, french, english = members
    for reader in (french, english):
        notifications.save_preferences(reader, "daily_digest", reminders=True)
    report = _report(org, french, date(2027, 4, 30), state="submitted",
                     submitted_at=frozen_clock.current)
    awarded = report.grant.application
    draft = ApplicationFactory(organisation=org, created_by=french, title="Mobilité des jeunes")
    # News that waits for the digest: a report approved, a letter ready, a draft's reminder
    # (named by its title), through the pipeline, the letters and a sweep's context.
    transition(report, "approve", ManagerFactory())
    assert letters.send_letter(awarded) == 2
    for reader in (french, english):
        notifications.queue("reminder.draft_deadline", reader, draft, {
            "object": draft.title, "call": draft.call.code, "deadline": "2026-12-01",
            "days": 3,
        })
    db.session.commit()
    assert sweeps.daily_digests() == 2
    sink = smtp_sink[0]
    reference, number = awarded.reference, report.grant.number

    subject, text, html = _mail(sink, "fr@example.org", "[MMD] Votre résumé quotidien")
    for line in (f"- Rapport intermédiaire 1 de la subvention {number} : approuvé (",
                 f"- Demande {reference} (", "- Mobilité des jeunes ("):
        assert line in text and line in html, line
    _no_english_label(subject, text, html)

    subject, text, html = _mail(sink, "en@example.org", "[MMD] Your daily summary")
    for line in (f"- Interim report 1 of Grant {number}: approved (",
                 f"- Application {reference} (", "- Mobilité des jeunes ("):
        assert line in text and line in html, line
    _no_french(subject, text, html)


def test_rendering_leaves_the_row_as_recorded(app: Any) -> None:
    context = {"object": "Interim report 2 of Grant G-7", "due": "2027-04-30", "days": 7,
               "recipient_name": "Awa"}
    message = OutboxMessage(kind="reminder.report_due", language="fr", object_type="reports",
                            recipient_email="a@example.org", context=dict(context))
    subject, _, _ = delivery.render(message)
    assert "Rapport intermédiaire 2 de la subvention G-7" in subject
    assert message.context == context


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_title_passes_through_as_written(app: Any, language: str) -> None:
    for title in ("Mobilité des jeunes", "Application of the diaspora fund", "Grant G-1"):
        assert object_name(title, language, "applications") == title
        assert object_in_text(title, language, "applications") == title
    message = OutboxMessage(
        kind="reminder.draft_deadline", language=language, object_type="applications",
        recipient_email="a@example.org",
        context={"object": "Mobilité des jeunes", "call": "C02", "deadline": "2026-12-01",
                 "days": 3, "recipient_name": "Awa"},
    )
    subject, text, _ = delivery.render(message)
    assert "Mobilité des jeunes" in subject and "Mobilité des jeunes" in text


def test_each_label_shape_in_french_and_english(app: Any) -> None:
    names = {
        ("Application MMD-1", "applications"): ("Demande MMD-1", "la demande MMD-1"),
        # an assignment's notices name its application only
        ("Application MMD-1", "assignments"): ("Demande MMD-1", "la demande MMD-1"),
        ("Grant G-1", "grants"): ("Subvention G-1", "la subvention G-1"),
        ("Payment 2 of Grant G-1", "payments"):
            ("Paiement 2 de la subvention G-1", "le paiement 2 de la subvention G-1"),
        ("Final report 1 of Grant G-1", "reports"):
            ("Rapport final 1 de la subvention G-1", "le rapport final 1 de la subvention G-1"),
        ("Assignment 4 (Eve on Application MMD-1)", "assignments"):
            ("Mission d'évaluation 4 (Eve, demande MMD-1)",
             "la mission d'évaluation 4 (Eve, demande MMD-1)"),
    }
    for (label, object_type), (name, in_text) in names.items():
        assert object_name(label, "fr", object_type) == name
        assert object_in_text(label, "fr", object_type) == in_text
        assert object_name(label, "en", object_type) == label
        # Without the notice's type (an old digest item) the shape alone decides.
        assert object_name(label, "fr") == name


@pytest.mark.parametrize(
    ("kind", "object_type", "label", "to_state", "french", "english"),
    [
        ("grant.suspend", "grants", "Grant G-000001", "suspended", "suspendue", "suspended"),
        ("application_single_stage.withdraw", "applications", "Application MMD-1",
         "withdrawn", "retirée", "withdrawn"),
        ("payment.approve", "payments", "Payment 1 of Grant G-000001", "approved",
         "approuvé", "approved"),
    ],
)
def test_a_state_said_of_the_object_agrees_with_it_in_french(
    app: Any, kind: str, object_type: str, label: str, to_state: str, french: str, english: str
) -> None:
    """« Subvention G-… : suspendue », but « Paiement 1 … : approuvé »; English unchanged."""
    context = {"object": label, "from_state": "active", "to_state": to_state,
               "comment": None, "event": kind.partition(".")[2]}
    subjects = {}
    for language in ("fr", "en"):
        message = OutboxMessage(kind=kind, recipient_email="x@example.org", language=language,
                                object_type=object_type, object_id=1, context=context)
        subjects[language] = delivery.render(message)[0]
    assert subjects["fr"].endswith(f" : {french}")
    assert subjects["en"].endswith(f": {english}")
