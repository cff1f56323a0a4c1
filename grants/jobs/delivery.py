"""Delivering one outbox message: at most one send per claim, retried until it is sent.

The guarantee, stated honestly. SMTP and the database cannot commit together, so:

1. A delivery first *claims* the row with one conditional UPDATE (pending, due, not
   claimed) that moves `next_attempt_at` a lease ahead and counts the attempt, and
   commits. Two jobs for the same row (a sweep re-enqueued it, rq ran a job twice)
   cannot both win the claim, on SQLite or PostgreSQL, so they never both send.
2. It sends, with a Message-ID that is the same on every attempt of the row.
3. It marks the row sent (or records the error and the backoff) and commits.

A worker killed (SIGKILL, power loss) during step 2 leaves the row pending and
claimed; when the lease runs out the outbox sweep re-enqueues it and another worker
sends it. If the kill came before the SMTP server accepted the message (the usual
case: connecting, waiting for a reply), exactly one mail arrives. If it came in the
instant between the server's "250 accepted" and the commit of step 3, the retry
sends a second copy with the same Message-ID, which mail stores that deduplicate
on Message-ID drop; no software can close that window without the receiving
server's help (RFC 1047). File mode writes the same file name on every attempt,
so it is exactly once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app, has_app_context, render_template
from jinja2 import TemplateNotFound
from sqlalchemy import update
from sqlalchemy.orm import Session

from ..clock import now
from ..extensions import db
from ..mail import build_message, send
from ..models import OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# Longer than any one send can take (SMTP timeout 30 s per command), so a live
# attempt is never overtaken; a dead one is retried after this.
LEASE = timedelta(minutes=5)
# Application events whose mail is a decision letter (one template, worded by outcome).
DECISION_EVENTS = frozenset(
    {"reject_admin", "reject_admin_full", "reject", "select", "reserve", "award",
     "declare_ineligible", "lapse"}
)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes between attempts, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def template_names(kind: str) -> list[str]:
    """Templates tried for a kind: its own, the workflow-neutral one, the generic one."""
    names = [f"email/{kind}"]
    workflow, _, event = kind.partition(".")
    if workflow.startswith("application_"):
        names.append(f"email/application.{event}")
        if event in DECISION_EVENTS:
            names.append("email/application.decision")
    names.append("email/state_changed")
    return names


def render(message: OutboxMessage) -> tuple[str, str, str | None]:
    """Subject, text and HTML of a message, in the recipient's language."""
    context = {"message": message, "ctx": message.context, "lang": message.language}
    names = template_names(message.kind)
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


def message_id(message: OutboxMessage) -> str:
    """The same on every attempt of a row, different for every row of every database."""
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or "grants"
    stamp = int(message.created_at.timestamp() * 1000)
    return f"<outbox-{message.id}-{stamp}@{domain}>"


def claim(session: Session, outbox_id: int) -> bool:
    """Take the row for one attempt; False when it is sent, failed, claimed or not due."""
    moment = now()
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= moment,
        )
        .values(next_attempt_at=moment + LEASE, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def deliver(outbox_id: int) -> str:
    """Send the message if it is due and unclaimed; returns its status afterwards."""
    with Session(db.engine, expire_on_commit=False) as session:
        if not claim(session, outbox_id):
            message = session.get(OutboxMessage, outbox_id)
            return "missing" if message is None else message.status
        message = session.get(OutboxMessage, outbox_id)
        assert message is not None  # just claimed
        try:
            subject, text, html = render(message)
            mail = build_message(
                message.recipient_email, subject, text, html, message_id=message_id(message)
            )
            send(mail, f"outbox-{message.id:08d}")
        except Exception as exc:
            _record_failure(session, outbox_id, exc)
            return session.get(OutboxMessage, outbox_id).status  # type: ignore[union-attr]
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "pending")
            .values(status="sent", sent_at=now(), last_error=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return "sent"


def _record_failure(session: Session, outbox_id: int, exc: Exception) -> None:
    session.rollback()
    message = session.get(OutboxMessage, outbox_id, populate_existing=True)
    assert message is not None
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    message.next_attempt_at = now() + backoff(message.attempts)
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    session.commit()
    log.warning(
        "delivery of outbox message %s failed (attempt %s, %s): %s",
        outbox_id, message.attempts, message.status, exc,
    )


def deliver_job(outbox_id: int) -> str:
    """rq entry point: jobs receive ids and use the worker's app (or the caller's, in tests)."""
    if has_app_context():
        return deliver(outbox_id)
    from .worker import app_context

    with app_context():
        return deliver(outbox_id)
