"""A submission counts from the moment it reached the app, and the submitter keeps a receipt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import OutboxMessage
from tests.factories import PASSWORD, ApplicationFactory, member


def _login(client, user):  # type: ignore[no-untyped-def]
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data


@pytest.fixture
def slow_requests(app, frozen_clock):  # type: ignore[no-untyped-def]
    """Every request takes two seconds before its view runs (a queue for the database)."""

    def wait_for_the_database() -> None:
        frozen_clock.advance(seconds=2)

    app.before_request(wait_for_the_database)
    return frozen_clock


def test_a_submission_that_arrived_before_the_deadline_counts_then(app, client, slow_requests):  # type: ignore[no-untyped-def]
    draft = ApplicationFactory()
    _login(client, draft.created_by)
    deadline = draft.call.deadline_at
    slow_requests.set(deadline - timedelta(seconds=1))
    response = client.post(f"/applicant/applications/{draft.id}/submit")
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.refresh(draft)
    assert draft.state == "submitted"
    # Stamped with its arrival, though the transaction ran after the deadline.
    assert draft.submitted_at == deadline - timedelta(seconds=1)


def test_a_submission_that_arrived_after_the_deadline_is_refused(app, client, slow_requests):  # type: ignore[no-untyped-def]
    draft = ApplicationFactory()
    _login(client, draft.created_by)
    slow_requests.set(draft.call.deadline_at + timedelta(seconds=1))
    response = client.post(f"/applicant/applications/{draft.id}/submit")
    assert response.status_code == 409
    db.session.refresh(draft)
    assert draft.state == "draft"


def test_the_submitter_receives_the_receipt_by_mail(app, client, frozen_clock):  # type: ignore[no-untyped-def]
    draft = ApplicationFactory()
    submitter = draft.created_by
    colleague = member(draft.organisation, "editor")
    db.session.commit()
    _login(client, submitter)
    frozen_clock.set(draft.call.deadline_at - timedelta(hours=1))
    assert client.post(f"/applicant/applications/{draft.id}/submit").status_code == 302
    receipts = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind.endswith(".submit"))
    ).all()
    assert {submitter.email, colleague.email} <= {m.recipient_email for m in receipts}
    # Courtesy notices still spare the actor: the withdrawal tells the others only.
    assert client.post(f"/applicant/applications/{draft.id}/withdraw",
                       data={"comment": "Not this year"}).status_code == 302
    withdrawals = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind.endswith(".withdraw"))
    ).all()
    assert withdrawals and submitter.email not in {m.recipient_email for m in withdrawals}
