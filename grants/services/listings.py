"""What each role sees on its home page: read-only queries, one place."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Application, Assignment, Call, Grant, Membership, User

# What a row of an application list shows, loaded with it (no query per row).
_APPLICATION_ROW = (joinedload(Application.call), joinedload(Application.organisation))

PUBLIC_CALL_STATES = ("open", "closed", "evaluation", "decided")


def public_calls() -> list[Call]:
    return list(
        db.session.scalars(
            select(Call).where(Call.state.in_(PUBLIC_CALL_STATES)).order_by(Call.deadline_at.desc())
        )
    )


def public_call(code: str) -> Call | None:
    return db.session.scalar(
        select(Call).where(Call.code == code, Call.state.in_(PUBLIC_CALL_STATES))
    )


def organisation_applications(user: User) -> list[Application]:
    """Applications of every organisation the user belongs to."""
    return list(
        db.session.scalars(
            select(Application)
            .join(Membership, Membership.organisation_id == Application.organisation_id)
            .where(Membership.user_id == user.id)
            .order_by(Application.created_at.desc())
        )
    )


def evaluator_assignments(user: User) -> list[Assignment]:
    return list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.evaluator_id == user.id)
            .options(selectinload(Assignment.application).joinedload(Application.call))
            .order_by(Assignment.assigned_at.desc())
        )
    )


def all_calls() -> list[Call]:
    return list(db.session.scalars(select(Call).order_by(Call.created_at.desc())))


def pipeline_counts() -> dict[str, dict[str, int]]:
    """Applications per call and state, in one query."""
    rows = db.session.execute(
        select(Call.code, Application.state, func.count(Application.id))
        .join(Application, Application.call_id == Call.id)
        .group_by(Call.code, Application.state)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for code, state, count in rows:
        counts.setdefault(code, {})[state] = count
    return counts


def recent_applications(limit: int = 50) -> list[Application]:
    return list(
        db.session.scalars(
            select(Application)
            .order_by(Application.updated_at.desc(), Application.id.desc())
            .limit(limit)
        )
    )


def grants_overview() -> list[Grant]:
    return list(
        db.session.scalars(
            select(Grant)
            .options(joinedload(Grant.application).joinedload(Application.organisation))
            .order_by(Grant.id)
        )
    )
