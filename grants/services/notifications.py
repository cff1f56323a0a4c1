"""Notifications: who hears of what, in-app records, outbox rows, preferences, retries.

Every notification is an in-app `Notification`; whether it also becomes mail now
(an outbox row, delivered after the commit), later (the daily digest) or not at all
depends on its kind and the recipient's preferences:

- legal notices (account mail, receipts, decisions, contracts, payments, overdue
  reports) always go out at once and cannot be turned off;
- reminders follow the "reminders" switch;
- everything else follows "immediate" or "daily digest".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from ..clock import now
from ..extensions import db
from ..jobs import remember_outbox_rows
from ..models import (
    DELIVERY_MODES,
    Assignment,
    Membership,
    Notification,
    NotificationPreference,
    OutboxMessage,
    StaffRole,
    User,
)
from ..policy import organisation_id_of
from .errors import NotFound, PermissionDenied, ValidationFailed

# Account mail: ready for the account feature (verification link, password-reset link).
# Context: {"name": ..., "link": ..., "expires_hours": ...}; no in-app copy (the link is
# a secret and the person may not be able to sign in yet).
# Mail about an account or an invitation: always sent at once, never shown in the app
# (each carries a link that is a secret).
ACCOUNT_KINDS = (
    "account.verify_email",
    "account.password_reset",
    "organisation.invite",
    "account.two_factor_off",
    "account.recovery_code_used",
)

REMINDER_KINDS = (
    "reminder.draft_deadline",
    "reminder.scoring",
    "reminder.report_due",
)

# Events whose notice is part of the procedure (receipts, decisions, contract, money).
_LEGAL_EVENTS = {
    "application": {
        "submit",
        "submit_full",
        "reject_admin",
        "reject_admin_full",
        "invite",
        "reject",
        "select",
        "reserve",
        "award",
        "declare_ineligible",
        "lapse",
        "withdraw",
    },
    "grant": {
        "send_for_signature",
        "sign",
        "suspend",
        "resume",
        "end_implementation",
        "close",
        "terminate",
        "lapse",
    },
    "payment": {"pay", "reject"},
    "reminder": {"report_overdue"},
}


def is_legal(kind: str) -> bool:
    """A notice the recipient may not mute or postpone."""
    if kind in ACCOUNT_KINDS:
        return True
    workflow, _, event = kind.partition(".")
    if workflow.startswith("application_"):
        workflow = "application"
    return event in _LEGAL_EVENTS.get(workflow, set())


def is_reminder(kind: str) -> bool:
    return kind in REMINDER_KINDS


@dataclass(frozen=True)
class Recipient:
    """Someone to tell, with how they like to be told: read as one row, not as entities."""

    id: int
    name: str
    email: str
    language: str
    delivery: str = "immediate"
    reminders: bool = True

    @classmethod
    def of(cls, user: User | Recipient) -> Recipient:
        if isinstance(user, Recipient):
            return user
        chosen = preference(user)
        return cls(user.id, user.name, user.email, user.language, chosen.delivery, chosen.reminders)


# Who an audience word names, as plain rows: every transition tells someone, so the
# statements are built once (building one costs more than running it) and entities,
# which would cost more than the writes themselves, are not loaded.
_RECIPIENT_ROWS = select(
    User.id,
    User.name,
    User.email,
    User.language,
    func.coalesce(NotificationPreference.delivery, "immediate"),
    func.coalesce(NotificationPreference.reminders, True),
).outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
_AUDIENCES = {
    "applicant": _RECIPIENT_ROWS.where(
        User.id.in_(
            select(Membership.user_id).where(
                Membership.organisation_id == bindparam("organisation_id")
            )
        ),
        User.active.is_(True),
    ).order_by(User.id),
    "managers": _RECIPIENT_ROWS.where(
        User.id.in_(select(StaffRole.user_id).where(StaffRole.role == "programme_manager")),
        User.active.is_(True),
    ).order_by(User.id),
}


def recipients(audience: str, obj: Any) -> list[Recipient]:
    """The people an audience word of the workflow definitions names for this object."""
    if audience == "evaluator":
        return [Recipient.of(obj.evaluator)] if isinstance(obj, Assignment) else []
    if audience not in _AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    parameters = {}
    if audience == "applicant":
        parameters["organisation_id"] = organisation_id_of(obj)
        if parameters["organisation_id"] is None:
            return []
    rows = db.session.execute(_AUDIENCES[audience], parameters)
    return [
        Recipient(user_id, name, email, language, delivery, bool(reminders))
        for user_id, name, email, language, delivery, reminders in rows
    ]


def preference(user: User) -> NotificationPreference:
    """The user's preferences; the defaults (immediate, reminders on) when never saved."""
    saved = user.notification_preference
    return saved or NotificationPreference(user_id=user.id, delivery="immediate", reminders=True)


def save_preferences(user: User, delivery: str, reminders: bool) -> NotificationPreference:
    """Change how the user receives mail; legal notices stay immediate whatever they choose."""
    if delivery not in DELIVERY_MODES:
        raise ValidationFailed("unknown delivery mode", {"delivery": ["choose a listed mode"]})
    saved = user.notification_preference
    if saved is None:
        saved = NotificationPreference(user_id=user.id)
        user.notification_preference = saved
    saved.delivery = delivery
    saved.reminders = reminders
    db.session.commit()
    return saved


def queue(
    kind: str,
    user: User | Recipient,
    obj: Any | None = None,
    context: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Record one notification for one user, in the caller's transaction.

    Returns None when `dedupe_key` was used before (the sweep already announced it).
    The outbox row, if any, is delivered after the caller commits.
    """
    if dedupe_key is not None and db.session.scalar(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    ):
        return None
    user = Recipient.of(user)
    context = dict(context or {})
    context.setdefault("recipient_name", user.name)
    object_type = getattr(obj, "__tablename__", None)
    object_id = getattr(obj, "id", None)
    email = _email_mode(kind, user)
    outbox = None
    if email == "outbox":
        outbox = OutboxMessage(
            kind=kind,
            recipient_id=user.id,
            recipient_email=user.email,
            language=user.language,
            object_type=object_type,
            object_id=object_id,
            context=context,
        )
        db.session.add(outbox)
    if kind in ACCOUNT_KINDS:
        return None
    notification = Notification(
        user_id=user.id,
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        context=context,
        email=email,
        dedupe_key=dedupe_key,
        created_at=now(),
    )
    notification.outbox = outbox  # linked by the flush at commit, not by an early flush
    db.session.add(notification)
    return notification


_NEW_OUTBOX_ROWS = insert(OutboxMessage.__table__).returning(
    OutboxMessage.__table__.c.id, sort_by_parameter_order=True
)
_NEW_NOTIFICATIONS = insert(Notification.__table__)


def announce(
    kind: str, users: Iterable[Recipient], obj: Any, context: dict[str, Any]
) -> list[int]:
    """What `queue` does for each user, written with bulk INSERTs; the outbox ids.

    The transition pipeline tells everyone of every change through here: the rows are
    append-only, so they skip the unit of work (two statements, whatever the number of
    recipients) and their outbox ids are handed to delivery after the commit.
    """
    object_type = getattr(obj, "__tablename__", None)
    object_id = getattr(obj, "id", None)
    created_at = now()
    users = list(users)
    modes = [_email_mode(kind, user) for user in users]
    contexts = [{"recipient_name": user.name, **context} for user in users]
    mailed = [i for i, mode in enumerate(modes) if mode == "outbox"]
    connection = db.session.connection()
    outbox_ids: dict[int, int] = {}
    if mailed:
        ids = connection.scalars(
            _NEW_OUTBOX_ROWS,
            [
                {
                    "created_at": created_at,
                    "kind": kind,
                    "recipient_id": users[i].id,
                    "recipient_email": users[i].email,
                    "language": users[i].language,
                    "object_type": object_type,
                    "object_id": object_id,
                    "context": contexts[i],
                }
                for i in mailed
            ],
        ).all()
        outbox_ids = dict(zip(mailed, ids, strict=True))
        remember_outbox_rows(ids)
    if users and kind not in ACCOUNT_KINDS:
        connection.execute(
            _NEW_NOTIFICATIONS,
            [
                {
                    "user_id": user.id,
                    "kind": kind,
                    "object_type": object_type,
                    "object_id": object_id,
                    "context": contexts[i],
                    "email": modes[i],
                    "outbox_id": outbox_ids.get(i),
                    "created_at": created_at,
                }
                for i, user in enumerate(users)
            ],
        )
    return list(outbox_ids.values())


def queue_account_mail(kind: str, user: User, context: dict[str, Any]) -> OutboxMessage:
    """Verification or password-reset mail; the caller commits, then `dispatch_committed()`."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"not an account mail kind: {kind!r}")
    message = OutboxMessage(
        kind=kind,
        recipient_id=user.id,
        recipient_email=user.email,
        language=user.language,
        object_type="users",
        object_id=user.id,
        context={"recipient_name": user.name, **context},
    )
    db.session.add(message)
    return message


def queue_invitation_mail(email: str, language: str, context: dict[str, Any]) -> OutboxMessage:
    """An invitation to join an organisation, to an address that may have no account yet."""
    message = OutboxMessage(
        kind="organisation.invite",
        recipient_id=None,
        recipient_email=email,
        language=language,
        object_type="organisations",
        object_id=context.get("organisation_id"),
        context={"recipient_name": "", **context},
    )
    db.session.add(message)
    return message


def _email_mode(kind: str, user: Recipient) -> str:
    if kind in ACCOUNT_KINDS or is_legal(kind):
        return "outbox"
    if is_reminder(kind) and not user.reminders:
        return "none"
    return "digest" if user.delivery == "daily_digest" else "outbox"


def notify_all(
    kind: str,
    users: Iterable[User | Recipient],
    obj: Any | None,
    context: dict[str, Any],
    key: str | None = None,
) -> int:
    """Queue one notification per user; with `key`, each user hears of it once ever."""
    count = 0
    for user in users:
        dedupe = f"{key}:u{user.id}" if key else None
        if queue(kind, user, obj, context, dedupe_key=dedupe) is not None:
            count += 1
    return count


# The in-app list.


def list_for(user: User, *, unread_only: bool = False, limit: int = 200) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(db.session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def unread_count(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(user: User, notification_id: int, read: bool = True) -> Notification:
    """Mark one of the user's notifications read (or unread again)."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound("no such notification")
    notification.read_at = (notification.read_at or now()) if read else None
    db.session.commit()
    return notification


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


# Administration of deliveries.


def failed_deliveries(limit: int = 500) -> list[OutboxMessage]:
    """Messages that exhausted their attempts, newest first, each with its last error."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "failed")
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def retrying_deliveries(limit: int = 500) -> list[OutboxMessage]:
    """Messages still pending after at least one failed attempt."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def retry_delivery(outbox_id: int, actor: User) -> OutboxMessage:
    """An administrator sends a failed message again, with a fresh set of attempts."""
    from ..jobs import enqueue_delivery
    from ..policy import is_admin

    if not is_admin(actor):
        raise PermissionDenied("only administrators may retry deliveries")
    message = db.session.get(OutboxMessage, outbox_id)
    if message is None:
        raise NotFound("no such message")
    if message.status != "failed":
        raise ValidationFailed(f"message {outbox_id} is {message.status}, not failed")
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = now()
    db.session.commit()
    enqueue_delivery(outbox_id)
    db.session.expire(message)
    return message
