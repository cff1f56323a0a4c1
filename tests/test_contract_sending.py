"""Sending a contract for signature renders it and records its hash, whatever the path."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from grants.extensions import db
from grants.models import Grant
from grants.services.contracts import render_contract
from grants.services.transitions import transition
from tests.factories import ApplicationFactory, ManagerFactory


def test_the_transition_itself_records_the_document_hash(app, frozen_clock):
    manager = ManagerFactory()
    selected = ApplicationFactory(state="provisionally_selected")
    transition(selected, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant).where(Grant.application_id == selected.id))
    assert grant.current_contract.document_sha256 is None

    transition(grant, "send_for_signature", manager)  # as the API and the CLI call it

    recorded = grant.current_contract.document_sha256
    assert recorded is not None and grant.sent_for_signature_at == frozen_clock.current
    assert recorded == hashlib.sha256(render_contract(grant)).hexdigest()
