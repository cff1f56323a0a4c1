"""Fixtures for the notification tests: a real SMTP server on localhost and a small world.

Import the fixtures into a test module with `from tests.notifications_fixtures import *`.
"""

from __future__ import annotations

import email
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from grants.extensions import db
from grants.models import Application, Call, Membership, Organisation
from grants.services.accounts import create_user

__all__ = ["SmtpSink", "World", "mail_app", "redis_client", "smtp_sink", "world"]


class SmtpSink:
    """Records every accepted message; can refuse mail or stall before accepting it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = False
        self.stall_once = False
        self.stalled = threading.Event()  # set when a transaction is held up
        self.release = threading.Event()  # set by the test to let it go on
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuse:
            return "451 4.3.0 mailbox temporarily unavailable"
        if self.stall_once:
            self.stall_once = False
            self.stalled.set()
            # Hold the client mid-transaction (it waits for this reply) until released.
            import asyncio

            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "451 4.3.0 try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTPServer, session: Session, envelope: Envelope
    ) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=default_policy)
        with self._lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    with socket.socket() as probe:  # a free port (the controller cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        sink.release.set()
        controller.stop()


@pytest.fixture
def mail_app(app: Any, smtp_sink: tuple[SmtpSink, int]) -> Any:
    """The app sending over SMTP to the sink."""
    from grants import mail

    mail.close()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink[1])
    yield app
    mail.close()


@pytest.fixture
def redis_client() -> Iterator[Any]:
    """Real Redis when TEST_REDIS_URL is set (CI), otherwise fakeredis."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        from redis import Redis

        client = Redis.from_url(url)
    else:
        import fakeredis

        client = fakeredis.FakeRedis()
    client.flushdb()
    yield client
    client.flushdb()


@dataclass
class World:
    manager: Any
    admin: Any
    owner: Any
    colleague: Any
    organisation: Organisation
    call: Call
    application: Application


@pytest.fixture
def world(app: Any) -> World:
    """A manager, an admin, an organisation with an owner and a French-speaking editor,
    an open call and a draft application."""
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    manager = create_user("manager@example.org", "Mona Manager", "correct horse 1",
                          roles=("programme_manager",), verified=True, commit=False)
    admin = create_user("admin@example.org", "Ada Admin", "correct horse 1",
                        roles=("admin",), verified=True, commit=False)
    owner = create_user("owner@example.org", "Olu Owner", "correct horse 1",
                        verified=True, commit=False)
    colleague = create_user("editor@example.org", "Fatou Éditrice", "correct horse 1",
                            verified=True, language="fr", commit=False)
    organisation = Organisation(
        name="Association Migrations et Développement", acronym="AMD", org_type="cso",
        country_iso2="SN", registration_number="SN-2011-1037", contact_email=owner.email,
    )
    db.session.add(organisation)
    db.session.add(Membership(user=owner, organisation=organisation, role="owner"))
    db.session.add(Membership(user=colleague, organisation=organisation, role="editor"))
    call = Call(
        code="C02", year=2026, title="Second call for proposals", state="open",
        workflow="application_two_stage", budget=Decimal("600000"),
        grant_min=Decimal("50000"), grant_max=Decimal("200000"),
        duration_min_months=12, duration_max_months=24,
        opens_at=moment - timedelta(days=30), published_at=moment - timedelta(days=30),
        deadline_at=moment + timedelta(days=10),
        full_deadline_at=moment + timedelta(days=60),
    )
    db.session.add(call)
    db.session.flush()
    application = Application(
        call=call, organisation=organisation, title="Diaspora mentoring in Dakar",
        created_by_id=owner.id, state="draft",
    )
    db.session.add(application)
    db.session.commit()
    return World(manager, admin, owner, colleague, organisation, call, application)
