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

Cost. A delivery is two single-statement transactions (the claim, an UPDATE ...
RETURNING that also reads the row, and the final UPDATE) on a connection in
autocommit mode; rq workers keep that connection, like the SMTP connection, for
their whole life (`worker_connection`). Each statement is atomic on its own, so
the claim is exactly as exclusive as a claim followed by a COMMIT.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from jinja2 import TemplateNotFound
from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .. import labels
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
_TABLE = OutboxMessage.__table__
# What a delivery needs of its row; the claim returns it, so nothing is read twice.
_CLAIMED_COLUMNS = (
    _TABLE.c.id, _TABLE.c.created_at, _TABLE.c.kind, _TABLE.c.recipient_email,
    _TABLE.c.language, _TABLE.c.object_type, _TABLE.c.object_id, _TABLE.c.context,
    _TABLE.c.attempts,
)
# The connection a worker keeps between jobs (see worker_connection), per engine.
_held: dict[str, Any] = {"enabled": False, "engine": None, "connection": None}
# Template chosen per kind, while the templates cannot change under us (no auto-reload).
_chosen: dict[tuple[int, str], tuple[str, bool]] = {}


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


def _choose_template(kind: str) -> tuple[str, bool]:
    """The first of template_names(kind) that exists, and whether it has an HTML part."""
    env = current_app.jinja_env
    key = (id(env), kind)
    if key in _chosen:
        return _chosen[key]
    names = template_names(kind)
    for name in names:
        try:
            env.get_template(f"{name}.subject.txt")
            env.get_template(f"{name}.txt")
        except TemplateNotFound:
            continue
        try:
            env.get_template(f"{name}.html")
            chosen = (name, True)
        except TemplateNotFound:
            chosen = (name, False)
        if not env.auto_reload:  # templates are fixed for the life of the process
            _chosen[key] = chosen
        return chosen
    raise TemplateNotFound(names[-1])


def mail_context(message: Any) -> dict[str, Any]:
    """The row's context with what it names in the recipient's language, for rendering.

    The services record objects by their English labels; the templates get `object`
    as a name (subjects, lists) and `object_in_text` for inside a sentence, as French
    needs its article there. The row itself keeps what was recorded.
    """
    language = message.language or "en"
    context = dict(message.context or {})
    if "object" in context:
        context.update(_named(context["object"], language, message.object_type))
    if isinstance(context.get("items"), list):  # a digest: each item as its notification had it
        context["items"] = [
            {**item, **_named(item["object"], language, item.get("object_type"))}
            if isinstance(item, dict) and "object" in item else item
            for item in context["items"]
        ]
    return context


def _named(label: Any, language: str, object_type: str | None) -> dict[str, str]:
    label = str(label or "")
    return {
        "object": labels.object_name(label, language, object_type),
        "object_in_text": labels.object_in_text(label, language, object_type),
    }


def render(message: Any) -> tuple[str, str, str | None]:
    """Subject, text and HTML of a message (an outbox row), in the recipient's language."""
    context = {"message": message, "ctx": mail_context(message), "lang": message.language}
    name, has_html = _choose_template(message.kind)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.update_template_context(context)  # what render_template adds, once for all parts
    env = app.jinja_env
    subject = env.get_template(f"{name}.subject.txt").render(context).strip()
    text = env.get_template(f"{name}.txt").render(context)
    html = env.get_template(f"{name}.html").render(context) if has_html else None
    return subject, text, html


def message_id(message: Any) -> str:
    """The same on every attempt of a row, different for every row of every database."""
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or "grants"
    stamp = int(message.created_at.timestamp() * 1000)
    return f"<outbox-{message.id}-{stamp}@{domain}>"


# Built once: executing them only binds values (SQLAlchemy caches their compiled form).
_MOMENT = _TABLE.c.next_attempt_at.type  # timestamps bound through the UTC column type
_CLAIM = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("outbox_id"),
        _TABLE.c.status == "pending",
        _TABLE.c.next_attempt_at <= bindparam("moment", type_=_MOMENT),
    )
    .values(next_attempt_at=bindparam("lease_end", type_=_MOMENT), attempts=_TABLE.c.attempts + 1)
    .returning(*_CLAIMED_COLUMNS)
)
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("outbox_id"), _TABLE.c.status == "pending")
    .values(status="sent", sent_at=bindparam("sent_at", type_=_MOMENT), last_error=None)
)
_STATUS = select(_TABLE.c.status).where(_TABLE.c.id == bindparam("outbox_id"))


def claim_row(connection: Connection | Session, outbox_id: int) -> Row[Any] | None:
    """Take the row for one attempt and return it; None when it is sent, failed,
    claimed or not due. The caller commits (an autocommit connection already has)."""
    moment = now()
    return connection.execute(
        _CLAIM, {"outbox_id": outbox_id, "moment": moment, "lease_end": moment + LEASE}
    ).first()


def claim(session: Session, outbox_id: int) -> bool:
    """Take the row for one attempt; False when it is sent, failed, claimed or not due."""
    row = claim_row(session, outbox_id)
    session.commit()
    return row is not None


@contextmanager
def worker_connection() -> Iterator[None]:
    """Keep one autocommit connection for every delivery in this block (an rq worker's life)."""
    _held["enabled"] = True
    try:
        yield
    finally:
        _held["enabled"] = False
        _drop_held()


def _drop_held() -> None:
    connection = _held["connection"]
    _held.update(engine=None, connection=None)
    if connection is not None:
        try:
            connection.close()
        except Exception:  # a broken connection: closing it is all that was wanted
            log.debug("closing the kept delivery connection failed", exc_info=True)


def _kept_connection() -> Connection:
    engine = db.engine
    held = _held["connection"]
    if held is None or _held["engine"] is not engine or held.closed or held.invalidated:
        _drop_held()
        held = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        _held.update(engine=engine, connection=held)
    return held


def deliver(outbox_id: int) -> str:
    """Send the message if it is due and unclaimed; returns its status afterwards."""
    if not _held["enabled"]:
        with db.engine.connect() as pooled:
            connection = pooled.execution_options(isolation_level="AUTOCOMMIT")
            return _deliver(connection, outbox_id, claim_row(connection, outbox_id))
    try:
        connection = _kept_connection()
        row = claim_row(connection, outbox_id)
    except DBAPIError as exc:
        _drop_held()
        if not exc.connection_invalidated:
            raise
        # The kept connection died while idle (the database restarted). Whether or not
        # the claim reached the database, claiming again on a fresh connection is safe:
        # a claim that did commit makes this one find the row taken.
        connection = _kept_connection()
        row = claim_row(connection, outbox_id)
    try:
        return _deliver(connection, outbox_id, row)
    except BaseException:
        _drop_held()  # its state is unknown after an error: the next job starts afresh
        raise


def _deliver(connection: Connection, outbox_id: int, row: Row[Any] | None) -> str:
    if row is None:
        status = connection.scalar(_STATUS, {"outbox_id": outbox_id})
        return "missing" if status is None else str(status)
    try:
        subject, text, html = render(row)
        mail = build_message(row.recipient_email, subject, text, html, message_id=message_id(row))
        send(mail, f"outbox-{row.id:08d}")
    except Exception as exc:
        return _record_failure(connection, row, exc)
    connection.execute(_MARK_SENT, {"outbox_id": outbox_id, "sent_at": now()})
    return "sent"


def _record_failure(connection: Connection, row: Row[Any], exc: Exception) -> str:
    status = "failed" if row.attempts >= MAX_ATTEMPTS else "pending"
    connection.execute(
        update(_TABLE)
        .where(_TABLE.c.id == row.id, _TABLE.c.status == "pending")
        .values(
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now() + backoff(row.attempts),
            status=status,
        )
    )
    log.warning(
        "delivery of outbox message %s failed (attempt %s, %s): %s",
        row.id, row.attempts, status, exc,
    )
    return status


def deliver_job(outbox_id: int) -> str:
    """rq entry point: jobs receive ids and use the worker's app (or the caller's, in tests)."""
    if has_app_context():
        return deliver(outbox_id)
    from .worker import app_context

    with app_context():
        return deliver(outbox_id)
