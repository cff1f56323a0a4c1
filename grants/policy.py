"""Who may do what: small predicates that return a Decision (allowed, reason).

Two questions are kept apart: may the actor know the object exists (`can_view`,
a "no" becomes 404), and may they fire an event on it (`may_fire`, a "no"
becomes 403). Roles named in workflow definitions are resolved here, and only
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import Application, Assignment, Call, Grant, Organisation, Payment, Report, User
from .services.actors import Actor, SystemActor


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def deny(reason: str) -> Decision:
    return Decision(False, reason)


def is_manager(actor: Actor) -> bool:
    return isinstance(actor, User) and actor.has_role("programme_manager")


def is_admin(actor: Actor) -> bool:
    return isinstance(actor, User) and actor.has_role("admin")


def organisation_of(obj: Any) -> Organisation | None:
    """The applicant or grantee organisation an object belongs to, if any."""
    if isinstance(obj, Application):
        return obj.organisation
    if isinstance(obj, Grant):
        return obj.application.organisation
    if isinstance(obj, Payment | Report):
        return obj.grant.application.organisation
    return None


def organisation_id_of(obj: Any) -> int | None:
    """The organisation's id only: what membership checks need, without loading it."""
    if isinstance(obj, Application):
        return obj.organisation_id
    if isinstance(obj, Grant):
        return obj.application.organisation_id
    if isinstance(obj, Payment | Report):
        return obj.grant.application.organisation_id
    return None


def membership_role(actor: Actor, obj: Any) -> str | None:
    organisation_id = organisation_id_of(obj)
    if organisation_id is None or not isinstance(actor, User):
        return None
    membership = actor.membership_in(organisation_id)
    return membership.role if membership else None


def can_view(actor: Actor, obj: Any) -> Decision:
    """May the actor know this object exists? (Otherwise it is a 404.)"""
    if isinstance(actor, SystemActor) or is_manager(actor) or is_admin(actor):
        return ALLOW
    if isinstance(obj, Call):
        return ALLOW if obj.state != "draft" else deny("the call is not published")
    if isinstance(obj, Assignment):
        if isinstance(actor, User) and obj.evaluator_id == actor.id:
            return ALLOW
        return deny("not your assignment")
    if membership_role(actor, obj):
        return ALLOW
    if isinstance(obj, Application) and is_assigned_evaluator(actor, obj):
        return ALLOW
    return deny("not a member of the organisation")


def can_view_as_applicant(actor: Actor, obj: Any) -> Decision:
    """May the actor open the applicant's own pages of this object (the portal, its letters)?

    The organisation's members and the programme staff only. An assigned evaluator knows
    the application exists, but reads it in the evaluation area alone: after declaring no
    conflict of interest, and anonymised when the call's review is blind.
    """
    if isinstance(actor, SystemActor) or is_manager(actor) or is_admin(actor):
        return ALLOW
    if membership_role(actor, obj):
        return ALLOW
    return deny("not a member of the organisation")


def is_assigned_evaluator(actor: Actor, application: Application) -> bool:
    """An evaluator with a live (not recused, not removed) assignment to the application."""
    if not isinstance(actor, User) or not actor.has_role("evaluator"):
        return False
    from .extensions import db  # local: policy stays importable without an app

    found = db.session.scalar(
        db.select(Assignment.id).where(
            Assignment.application_id == application.id,
            Assignment.evaluator_id == actor.id,
            Assignment.state.in_(("invited", "accepted", "submitted", "reopened")),
        )
    )
    return found is not None


def has_workflow_role(actor: Actor, role: str, obj: Any) -> Decision:
    """Does the actor hold `role` (a word of the workflow definitions) towards `obj`?"""
    if role == "system":
        return ALLOW if isinstance(actor, SystemActor) else deny("only the system does this")
    if isinstance(actor, SystemActor):
        return deny(f"the system does not act as {role}")
    if role == "manager":
        return ALLOW if is_manager(actor) else deny("programme managers only")
    if role == "applicant_editor":
        member = membership_role(actor, obj)
        return (
            ALLOW
            if member in ("owner", "editor")
            else deny("owners and editors of the organisation only")
        )
    if role == "applicant_owner":
        member = membership_role(actor, obj)
        return ALLOW if member == "owner" else deny("owners of the organisation only")
    if role == "evaluator":
        if isinstance(obj, Assignment) and obj.evaluator_id == actor.id:
            return ALLOW
        return deny("the assigned evaluator only")
    raise ValueError(f"unknown workflow role {role!r}")


def may_fire(actor: Actor, obj: Any, roles: tuple[str, ...]) -> Decision:
    """May the actor fire a transition that names these roles in `by`?"""
    reasons = []
    for role in roles:
        decision = has_workflow_role(actor, role, obj)
        if decision:
            return ALLOW
        reasons.append(decision.reason)
    return deny("; ".join(reasons))


def can_edit_application(actor: Actor, application: Application) -> Decision:
    if application.state != "draft" and application.state != "invited":
        return deny(f"the application is {application.state} and can no longer be edited")
    return has_workflow_role(actor, "applicant_editor", application)
