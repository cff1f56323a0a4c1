"""Turn a transition's declared audiences into outbox rows, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Assignment, Membership, OutboxMessage, StaffRole, User
from ..policy import organisation_of


def recipients(audience: str, obj: Any) -> list[User]:
    """The users an audience word of the workflow definitions names for this object."""
    if audience == "applicant":
        organisation = organisation_of(obj)
        if organisation is None:
            return []
        return list(
            db.session.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.organisation_id == organisation.id, User.active.is_(True))
                .order_by(User.id)
            )
        )
    if audience == "managers":
        return list(
            db.session.scalars(
                select(User)
                .join(StaffRole, StaffRole.user_id == User.id)
                .where(StaffRole.role == "programme_manager", User.active.is_(True))
                .order_by(User.id)
            )
        )
    if audience == "evaluator":
        return [obj.evaluator] if isinstance(obj, Assignment) else []
    raise ValueError(f"unknown audience {audience!r}")


def queue(
    kind: str,
    user: User,
    obj: Any | None = None,
    context: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Add one outbox row for one recipient; it is delivered after the commit."""
    message = OutboxMessage(
        kind=kind,
        recipient_id=user.id,
        recipient_email=user.email,
        language=user.language,
        object_type=getattr(obj, "__tablename__", None),
        object_id=getattr(obj, "id", None),
        context=context or {},
    )
    db.session.add(message)
    return message
