"""Notifications: in-app list, preferences and digests, templates, and idempotent sweeps."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.extensions import db
from grants.jobs import delivery, dispatch_committed
from grants.models import (
    Application,
    Assignment,
    AuditEvent,
    Grant,
    Notification,
    OutboxMessage,
    Report,
)
from grants.services import notifications, sweeps
from grants.services.accounts import create_user
from tests.notifications_fixtures import *  # noqa: F403 (fixtures)
from tests.notifications_fixtures import SmtpSink, World


def _mails(kind: str | None = None) -> int:
    query = select(func.count()).select_from(OutboxMessage)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalar(query) or 0


def _login(client: Any, email: str) -> None:
    answer = client.post("/account/login", data={"email": email, "password": "correct horse 1"})
    assert answer.status_code == 302


def _notify(world: World, kind: str, obj: Any = None) -> None:
    notifications.queue(kind, world.colleague, obj, {"object": "Interim report 1"})
    db.session.commit()
    dispatch_committed()


# The in-app list.


def test_in_app_list_with_read_and_unread(frozen_clock: Any, client: Any, world: World) -> None:
    from grants.services.transitions import transition

    transition(world.application, "withdraw", world.owner, comment="Next year")
    _notify(world, "report.approve")
    _login(client, "editor@example.org")
    page = client.get("/notifications/")
    assert page.status_code == 200
    # The colleague reads French: the state is named in French.
    assert b"2 non lues" in page.data and "retirée".encode() in page.data

    first = notifications.list_for(world.colleague)[0]
    client.post(f"/notifications/{first.id}/read", data={"read": "1"})
    assert notifications.unread_count(world.colleague) == 1
    assert b"Interim report 1" not in client.get("/notifications/?show=unread").data
    client.post(f"/notifications/{first.id}/read", data={"read": "0"})
    assert notifications.unread_count(world.colleague) == 2
    client.post("/notifications/read-all")
    assert notifications.unread_count(world.colleague) == 0


def test_nobody_marks_another_users_notification(client: Any, world: World) -> None:
    _notify(world, "report.approve")
    theirs = notifications.list_for(world.colleague)[0]
    _login(client, "owner@example.org")
    assert client.post(f"/notifications/{theirs.id}/read").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, theirs.id).read_at is None


# Preferences and digests.


def test_preferences_page_saves_the_choice(client: Any, world: World) -> None:
    _login(client, "editor@example.org")
    assert client.get("/notifications/preferences").status_code == 200
    client.post("/notifications/preferences", data={"delivery": "daily_digest"})
    db.session.expire_all()  # the page saved them in its own session
    chosen = notifications.preference(world.colleague)
    assert (chosen.delivery, chosen.reminders) == ("daily_digest", False)


def test_reminders_off_mutes_reminders_but_not_legal_notices(
    frozen_clock: Any, app: Any, world: World
) -> None:
    notifications.save_preferences(world.colleague, "immediate", reminders=False)
    _notify(world, "reminder.report_due")
    _notify(world, "reminder.report_overdue")
    _notify(world, "payment.pay")
    assert _mails("reminder.report_due") == 0
    assert _mails("reminder.report_overdue") == 1
    assert _mails("payment.pay") == 1
    assert len(notifications.list_for(world.colleague)) == 3  # all listed in the app


def test_daily_digest_holds_news_and_sends_one_summary_a_day(
    frozen_clock: Any, app: Any, world: World
) -> None:
    notifications.save_preferences(world.colleague, "daily_digest", reminders=True)
    _notify(world, "report.approve")
    _notify(world, "report.request_changes")
    _notify(world, "application_two_stage.award")  # legal: at once all the same
    assert _mails() == 1

    assert sweeps.daily_digests() == 1
    assert sweeps.daily_digests() == 0
    digest = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")).one()
    assert digest.status == "sent" and len(digest.context["items"]) == 2

    _notify(world, "report.approve")
    frozen_clock.advance(hours=2)
    assert sweeps.daily_digests() == 0  # one a day
    frozen_clock.advance(days=1)
    assert sweeps.daily_digests() == 1
    assert _mails("digest") == 2


def test_account_mail_kinds_are_ready(app: Any, world: World) -> None:
    for kind in notifications.ACCOUNT_KINDS:
        notifications.queue_account_mail(
            kind, world.colleague, {"link": "https://grants.example.org/t/abc", "expires_hours": 24}
        )
    db.session.commit()
    dispatch_committed()
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert {r.status for r in rows} == {"sent"}
    assert notifications.list_for(world.colleague) == []  # secrets stay out of the app
    with pytest.raises(ValueError):
        notifications.queue_account_mail("report.approve", world.colleague, {})


# Templates.


TEMPLATE_KINDS = [
    "application_two_stage.submit", "application_two_stage.submit_full",
    "application_single_stage.invite", "application_two_stage.invite",
    "application_two_stage.reject", "application_two_stage.award",
    "application_single_stage.select", "grant.send_for_signature", "payment.pay",
    "report.request_changes", "report.approve", "assignment.invited", "reminder.scoring",
    "reminder.draft_deadline", "reminder.report_due", "reminder.report_overdue",
    "account.verify_email", "account.password_reset", "digest", "grant.suspend",
]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_every_kind_renders_text_and_html_in_both_languages(
    app: Any, kind: str, language: str
) -> None:
    context = {
        "recipient_name": "Awa <Diop>", "object": "Application MMD-2026-C02-001",
        "from_state": "in_evaluation", "to_state": "rejected", "comment": "Below threshold",
        "call": "C02", "deadline": "2026-12-01 17:00:00 Europe/Brussels", "days": 7,
        "due": "2026-12-01", "stage": "concept_note", "link": "https://x.example/t",
        "items": [{"object": "Grant MMD-1", "to_state": "active",
                   "created_at": "2026-11-02T09:00:00"}],
    }
    message = OutboxMessage(kind=kind, language=language, context=context,
                            recipient_email="a@example.org")
    with app.test_request_context():
        subject, text, html = delivery.render(message)
    assert subject.startswith("[MMD]") and "\n" not in subject
    greeting = "Bonjour" if language == "fr" else "Hello"
    assert text.startswith(f"{greeting} Awa <Diop>")
    assert html is not None and "Awa &lt;Diop&gt;" in html  # escaped in HTML only
    specific = kind.split(".")[0] not in ("grant",)
    if specific:
        assert "email/state_changed" not in delivery.template_names(kind)[0]


# Sweeps: each does its work once, however often it runs.


def test_close_calls_at_the_deadline_once(frozen_clock: Any, app: Any, world: World) -> None:
    frozen_clock.set(world.call.deadline_at)
    assert sweeps.close_calls() == 0  # due *after* the deadline, to the second
    frozen_clock.advance(seconds=1)
    assert sweeps.close_calls() == 1
    assert sweeps.close_calls() == 0
    assert world.call.state == "closed"
    closes = select(func.count()).select_from(AuditEvent).where(AuditEvent.event == "close")
    assert db.session.scalar(closes) == 1


def test_draft_reminders_seven_and_one_day_before(
    frozen_clock: Any, app: Any, world: World
) -> None:
    deadline = world.call.deadline_at
    frozen_clock.set(deadline - timedelta(days=8))
    assert sweeps.draft_reminders() == 0
    frozen_clock.set(deadline - timedelta(days=7))
    assert sweeps.draft_reminders() == 2  # owner and editor
    assert sweeps.draft_reminders() == 0
    frozen_clock.set(deadline - timedelta(days=3))
    assert sweeps.draft_reminders() == 0
    frozen_clock.set(deadline - timedelta(hours=20))
    assert sweeps.draft_reminders() == 2
    sweeps.run_all()
    assert _mails("reminder.draft_deadline") == 4
    fr = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient_email == "editor@example.org")
    ).all()
    assert {m.language for m in fr} == {"fr"}


def test_invitations_lapse_at_the_full_application_deadline_once(
    frozen_clock: Any, app: Any, world: World
) -> None:
    world.application.state = "invited"
    world.application.reference = "MMD-2026-C02-001"
    world.application.decided_at = frozen_clock.current
    db.session.commit()
    frozen_clock.set(world.call.full_deadline_at + timedelta(seconds=1))
    assert sweeps.lapse_invitations() == 1
    assert sweeps.lapse_invitations() == 0
    assert world.application.state == "lapsed"
    assert _mails("application_two_stage.lapse") == 2


def _grant(world: World, state: str, **fields: Any) -> Grant:
    application = world.application
    application.state = "awarded"
    application.reference = "MMD-2026-C02-001"
    application.decided_at = application.created_at
    grant = Grant(
        application=application, number="MMD-2026-C02-G01", amount=Decimal("150000"),
        funding_rate=Decimal("0.90"), start_date=date(2027, 1, 1), end_date=date(2028, 6, 30),
        state=state, **fields,
    )
    db.session.add(grant)
    db.session.commit()
    return grant


def test_unsigned_contracts_lapse_once(frozen_clock: Any, app: Any, world: World) -> None:
    grant = _grant(world, "awaiting_signature", sent_for_signature_at=frozen_clock.current)
    frozen_clock.advance(days=30)
    assert sweeps.lapse_contracts() == 0
    frozen_clock.advance(seconds=1)
    assert sweeps.lapse_contracts() == 1
    assert sweeps.lapse_contracts() == 0
    assert grant.state == "lapsed"


def test_report_reminders_30_7_1_days_then_overdue(
    frozen_clock: Any, app: Any, world: World
) -> None:
    grant = _grant(world, "active", signed_at=frozen_clock.current)
    due = frozen_clock.current.date() + timedelta(days=40)
    db.session.add(Report(grant=grant, kind="interim", sequence=1, state="due",
                          period_start=date(2027, 1, 1), period_end=date(2027, 6, 30),
                          due_date=due))
    db.session.commit()
    sent = []
    for days_before in (31, 30, 29, 7, 6, 1, 0, -1, -5):
        frozen_clock.set(frozen_clock.current.replace(
            year=due.year, month=due.month, day=due.day) - timedelta(days=days_before))
        sent.append(sweeps.report_reminders() + sweeps.report_reminders())
    # two recipients (owner, editor) for each of 30, 7, 1 days and overdue
    assert sent == [0, 2, 0, 2, 0, 2, 0, 2, 0]
    assert _mails("reminder.report_overdue") == 2


def test_evaluators_hear_of_assignments_and_scoring_deadlines_once(
    frozen_clock: Any, app: Any, world: World
) -> None:
    evaluator = create_user("eval@example.org", "Eve Evaluator", "correct horse 1",
                            roles=("evaluator",), verified=True)
    assignment = Assignment(application=world.application, evaluator=evaluator,
                            stage="concept_note", state="invited",
                            due_at=frozen_clock.current + timedelta(days=10))
    db.session.add(assignment)
    db.session.commit()
    assert sweeps.assignment_notices() == 1
    assert sweeps.assignment_notices() == 0
    assignment.state = "accepted"
    db.session.commit()
    frozen_clock.advance(days=7)
    assert sweeps.scoring_reminders() + sweeps.scoring_reminders() == 1
    frozen_clock.advance(days=2, hours=1)
    assert sweeps.scoring_reminders() + sweeps.scoring_reminders() == 1
    assert _mails("reminder.scoring") == 2


def test_sweep_command_runs_every_sweep(frozen_clock: Any, runner: Any, world: World) -> None:
    frozen_clock.set(world.call.deadline_at + timedelta(minutes=1))
    first = runner.invoke(args=["grants", "sweep"])
    assert "close_calls: 1" in first.output
    second = runner.invoke(args=["grants", "sweep"])
    assert "close_calls: 0" in second.output
    assert db.session.get(Application, world.application.id).call.state == "closed"


def test_delivery_is_idempotent_when_run_twice(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World
) -> None:
    _notify(world, "payment.pay")
    row = db.session.scalars(select(OutboxMessage)).one()
    assert delivery.deliver(row.id) == "sent"
    assert delivery.deliver(row.id) == "sent"
    assert len(smtp_sink[0].messages) == 1
