"""Periodic sweeps: deadlines, lapses, reminders, digests and stuck outbox rows.

Each sweep is idempotent, so running it twice (two schedulers, a retried job, the
in-process thread of several web processes) does the work once:
- state changes go through the transition pipeline, whose guards and state make a
  second run find nothing to do (and a concurrent one a ConcurrentChange);
- reminders carry a dedupe key, unique in the database, per object, step and user;
- a digest takes its items with a conditional update, so two runs cannot both send;
- re-enqueued outbox rows are claimed before sending (see grants.jobs.delivery).
Every item commits on its own: one bad object does not hold up the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..clock import now
from ..extensions import db
from ..models import (
    Application,
    Assignment,
    Call,
    Grant,
    Notification,
    NotificationPreference,
    OutboxMessage,
    Report,
    User,
)
from . import notifications
from .actors import SystemActor
from .errors import DomainError
from .guards import format_moment
from .transitions import transition

log = logging.getLogger(__name__)

SWEEPER = SystemActor("deadline sweep")
DRAFT_REMINDER_DAYS = (7, 1)
SCORING_REMINDER_DAYS = (3, 1)
REPORT_REMINDER_DAYS = (30, 7, 1)
# A fresh outbox row is handed over right after its commit; only rows older than
# this (the hand-over was lost) or already attempted are re-enqueued by the sweep.
STUCK_AFTER = timedelta(seconds=60)


def run_all() -> dict[str, int]:
    """Run every sweep once; returns how much each one did."""
    done: dict[str, int] = {}
    for name, sweep in SWEEPS:
        try:
            done[name] = sweep()
        except Exception:  # one failing sweep must not stop the others; it is logged
            db.session.rollback()
            log.exception("sweep %s failed", name)
            done[name] = -1
    return done


def _fire(obj: Any, event: str) -> bool:
    """Fire a system transition; False when another run (or a person) got there first."""
    try:
        transition(obj, event, SWEEPER)
    except DomainError as exc:
        log.info("sweep skipped %s %s: %s", obj.label, event, exc)
        return False
    return True


def close_calls() -> int:
    """Close every open call whose deadline has passed."""
    moment = now()
    calls = db.session.scalars(
        select(Call).where(Call.state == "open", Call.deadline_at < moment).order_by(Call.id)
    ).all()
    return sum(_fire(call, "close") for call in calls)


def lapse_invitations() -> int:
    """Invitations to submit a full application lapse at the full-application deadline."""
    moment = now()
    applications = db.session.scalars(
        select(Application)
        .join(Call, Call.id == Application.call_id)
        .where(Application.state == "invited", Call.full_deadline_at < moment)
        .order_by(Application.id)
    ).all()
    return sum(_fire(application, "lapse") for application in applications)


def lapse_contracts() -> int:
    """Contracts not signed within the call's signature period lapse."""
    moment = now()
    grants = db.session.scalars(
        select(Grant)
        .where(Grant.state == "awaiting_signature", Grant.sent_for_signature_at.is_not(None))
        .order_by(Grant.id)
    ).all()
    expired = [
        grant
        for grant in grants
        if moment
        > grant.sent_for_signature_at  # type: ignore[operator]
        + timedelta(days=grant.application.call.signature_period_days)
    ]
    return sum(_fire(grant, "lapse") for grant in expired)


def _step(left: timedelta, steps: tuple[int, ...]) -> int | None:
    """The reminder step due: the smallest number of days not smaller than what is left."""
    due = [days for days in steps if left <= timedelta(days=days)]
    return min(due) if due else None


def _announce(
    kind: str,
    users: list[notifications.Recipient],
    obj: Any,
    context: dict[str, Any],
    key: str,
) -> int:
    """Queue and commit one announcement; a unique-key clash means another run sent it."""
    try:
        count = notifications.notify_all(kind, users, obj, context, key)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return 0
    from ..jobs import dispatch_committed

    dispatch_committed()
    return count


def draft_reminders() -> int:
    """Drafts still unsubmitted 7 days and 1 day before their call closes."""
    moment = now()
    horizon = moment + timedelta(days=max(DRAFT_REMINDER_DAYS))
    drafts = db.session.scalars(
        select(Application)
        .join(Call, Call.id == Application.call_id)
        .where(
            Application.state == "draft",
            Call.state == "open",
            Call.deadline_at > moment,
            Call.deadline_at <= horizon,
        )
        .order_by(Application.id)
    ).all()
    sent = 0
    for application in drafts:
        call = application.call
        step = _step(call.deadline_at - moment, DRAFT_REMINDER_DAYS)
        if step is None:
            continue
        context = {
            "object": application.title or application.label,
            "call": f"{call.code} — {call.title}",
            "deadline": format_moment(call.deadline_at, call),
            "days": step,
        }
        sent += _announce(
            "reminder.draft_deadline",
            notifications.recipients("applicant", application),
            application,
            context,
            f"draft_deadline:{application.id}:{step}",
        )
    return sent


def assignment_notices() -> int:
    """Tell evaluators of each new assignment (once), whoever created it."""
    assignments = db.session.scalars(
        select(Assignment).where(Assignment.state == "invited").order_by(Assignment.id)
    ).all()
    sent = 0
    for assignment in assignments:
        sent += _announce(
            "assignment.invited",
            [assignment.evaluator],
            assignment,
            _assignment_context(assignment),
            f"assignment_invited:{assignment.id}",
        )
    return sent


def _assignment_context(assignment: Assignment) -> dict[str, Any]:
    call = assignment.application.call
    return {
        "object": assignment.application.label,  # the reference only: reviews may be blind
        "call": f"{call.code} — {call.title}",
        "stage": assignment.stage,
        "due": format_moment(assignment.due_at, call) if assignment.due_at else None,
    }


def scoring_reminders() -> int:
    """Evaluators with scoring still open 3 days and 1 day before it is due."""
    moment = now()
    horizon = moment + timedelta(days=max(SCORING_REMINDER_DAYS))
    assignments = db.session.scalars(
        select(Assignment)
        .where(
            Assignment.state.in_(("accepted", "reopened")),
            Assignment.due_at > moment,
            Assignment.due_at <= horizon,
        )
        .order_by(Assignment.id)
    ).all()
    sent = 0
    for assignment in assignments:
        step = _step(assignment.due_at - moment, SCORING_REMINDER_DAYS)  # type: ignore[operator]
        if step is None:
            continue
        sent += _announce(
            "reminder.scoring",
            [assignment.evaluator],
            assignment,
            {**_assignment_context(assignment), "days": step},
            f"scoring:{assignment.id}:{step}",
        )
    return sent


def report_reminders() -> int:
    """Reports due in 30, 7 and 1 days, then overdue (once each)."""
    today = now().date()
    horizon = today + timedelta(days=max(REPORT_REMINDER_DAYS))
    reports = db.session.scalars(
        select(Report).where(Report.state == "due", Report.due_date <= horizon).order_by(Report.id)
    ).all()
    sent = 0
    for report in reports:
        left = report.due_date - today
        context = {"object": report.label, "due": report.due_date.isoformat()}
        if left.days < 0:
            kind, key = "reminder.report_overdue", f"report_overdue:{report.id}"
            context["days_overdue"] = -left.days
        else:
            step = _step(left, REPORT_REMINDER_DAYS)
            if step is None:
                continue
            kind, key = "reminder.report_due", f"report_due:{report.id}:{step}"
            context["days"] = step
        sent += _announce(kind, notifications.recipients("applicant", report), report, context, key)
    return sent


def daily_digests() -> int:
    """One mail a day to each digest reader with news: everything held since the last one."""
    moment = now()
    day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    users = db.session.scalars(
        select(User)
        .join(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(
            User.id.in_(select(Notification.user_id).where(Notification.email == "digest")),
            User.active.is_(True),
        )
        .order_by(User.id)
    ).all()
    sent = 0
    for user in users:
        if _digest_sent_since(user, day_start):
            continue
        items = db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.email == "digest")
            .order_by(Notification.id)
        ).all()
        if not items:
            continue
        ids = [item.id for item in items]
        taken = db.session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.email == "digest")
            .values(email="digested")
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != len(ids):  # another run is sending this digest
            db.session.rollback()
            continue
        db.session.add(
            OutboxMessage(
                kind="digest",
                recipient_id=user.id,
                recipient_email=user.email,
                language=user.language,
                context={
                    "recipient_name": user.name,
                    "items": [
                        {
                            "kind": item.kind,
                            "created_at": item.created_at.isoformat(),
                            # what the object is, so mail names it as the page does
                            "object_type": item.object_type,
                            **item.context,
                        }
                        for item in items
                    ],
                },
                created_at=moment,
            )
        )
        db.session.commit()
        from ..jobs import dispatch_committed

        dispatch_committed()
        sent += 1
    return sent


def _digest_sent_since(user: User, moment: datetime) -> bool:
    return (
        db.session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.recipient_id == user.id,
                OutboxMessage.kind == "digest",
                OutboxMessage.created_at >= moment,
            )
            .limit(1)
        )
        is not None
    )


def requeue_outbox() -> int:
    """Hand over again every pending row that is due: lost hand-overs, retries, dead workers."""
    from ..jobs import enqueue_delivery

    moment = now()
    rows = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= moment,
            or_(OutboxMessage.attempts > 0, OutboxMessage.created_at <= moment - STUCK_AFTER),
        )
        .order_by(OutboxMessage.id)
    ).all()
    db.session.commit()  # end the read transaction before delivering in-process
    # A row attempted before and due again has no live claim: its lease ran out.
    return sum(
        enqueue_delivery(outbox_id, check_live=True, lease_expired=attempts > 0)
        for outbox_id, attempts in rows
    )


def end_implementations() -> int:
    """Grants past their end of implementation move to final reporting."""
    from .reporting import end_implementations as move

    return move()


def seal_audit_chain() -> int:
    """Chain the audit events committed since the last run into the tamper-evident hash chain."""
    from .audit import seal

    return seal()


SWEEPS: list[tuple[str, Callable[[], int]]] = [
    ("close_calls", close_calls),
    ("lapse_invitations", lapse_invitations),
    ("lapse_contracts", lapse_contracts),
    ("end_implementations", end_implementations),
    ("assignment_notices", assignment_notices),
    ("draft_reminders", draft_reminders),
    ("scoring_reminders", scoring_reminders),
    ("report_reminders", report_reminders),
    ("daily_digests", daily_digests),
    ("requeue_outbox", requeue_outbox),
    # Last, so the events the other sweeps wrote are sealed in the same run.
    ("seal_audit_chain", seal_audit_chain),
]
