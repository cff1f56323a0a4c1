"""Delivering one outbox message; safe to run twice, it never sends twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import render_template
from jinja2 import TemplateNotFound
from sqlalchemy.orm import Session

from ..clock import now
from ..extensions import db
from ..mail import build_message, send
from ..models import OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes between attempts, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def render(message: OutboxMessage) -> tuple[str, str, str | None]:
    """Subject, text and HTML of a message, in the recipient's language."""
    names = [f"email/{message.kind}", "email/state_changed"]
    context = {"message": message, "ctx": message.context, "lang": message.language}
    for name in names:
        try:
            subject = render_template(f"{name}.subject.txt", **context).strip()
            text = render_template(f"{name}.txt", **context)
        except TemplateNotFound:
            continue
        try:
            html = render_template(f"{name}.html", **context)
        except TemplateNotFound:
            html = None
        return subject, text, html
    raise TemplateNotFound(names[-1])


def deliver(outbox_id: int) -> str:
    """Send the message unless it was sent already; returns its status afterwards."""
    with Session(db.engine) as session:
        message = session.get(OutboxMessage, outbox_id, with_for_update=True)
        if message is None:
            return "missing"
        if message.status == "sent":
            return "sent"
        try:
            subject, text, html = render(message)
            mail = build_message(
                message.recipient_email,
                subject,
                text,
                html,
                message_id=f"<outbox-{message.id}@grants>",
            )
            send(mail, f"outbox-{message.id:08d}")
        except Exception as exc:
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            message.next_attempt_at = now() + backoff(message.attempts)
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
            session.commit()
            log.warning("delivery of outbox message %s failed: %s", outbox_id, exc)
            return message.status
        message.status = "sent"
        message.sent_at = now()
        message.attempts += 1
        session.commit()
        return "sent"


def deliver_job(outbox_id: int) -> str:
    """rq entry point: jobs receive ids, build their own app context."""
    from .worker import app_context

    with app_context():
        return deliver(outbox_id)
