"""Invitations to join an organisation go through the outbox like every other mail."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from sqlalchemy import select

from grants.extensions import db
from grants.models import OutboxMessage
from grants.services import organisations
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory


def test_an_invitation_is_delivered_once_in_the_inviters_language(app):
    owner = UserFactory(language="fr")
    organisation = OrganisationFactory()
    MembershipFactory(user=owner, organisation=organisation, role="owner")
    db.session.commit()

    organisations.send_invitation(
        owner, organisation, "New.Member@Example.org", "editor", "https://x.example/join/abc"
    )

    sent = db.session.scalars(select(OutboxMessage)).all()
    assert [(m.kind, m.recipient_email, m.status) for m in sent] == [
        ("organisation.invite", "new.member@example.org", "sent")
    ]
    files = list(Path(app.config["MAIL_FOLDER"]).glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    text = message.get_content()
    assert "https://x.example/join/abc" in text
    assert "vous invite" in text
