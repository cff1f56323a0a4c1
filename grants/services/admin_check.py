"""The administrative (opening) check of an application: a checklist, then admit or reject.

Each item of the stage's checklist is recorded passed, or failed with a reason; then,
in the same transaction, the application is admitted to evaluation when every item
passed, or rejected at the administrative stage with the failed items' reasons kept
as the decision reason (quoted in the applicant's letter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from .. import policy
from ..clock import now
from ..extensions import db
from ..models import AdminCheck, Application
from .actors import Actor
from .errors import NotFound, PermissionDenied, ValidationFailed
from .guards import ADMIN_CHECK_ITEMS
from .transitions import commit, transition

ITEM_LABELS = {
    "submitted_before_deadline": "Submitted before the deadline",
    "form_complete": "Application form complete (every section, budget, annexes)",
    "language_correct": "Written in a language of the call (English or French)",
    "declaration_signed": "Declaration by the lead applicant signed",
}
# The application states the check applies to, and the events that end it.
EVENTS = {
    "submitted": ("admit", "reject_admin"),
    "fa_submitted": ("admit_full", "reject_admin_full"),
}


@dataclass(frozen=True)
class ItemResult:
    passed: bool
    reason: str | None = None


def checklist(application: Application, actor: Actor) -> dict[str, AdminCheck]:
    """The items already recorded for the application's current stage."""
    if not policy.can_view(actor, application):
        raise NotFound("no such application")
    return {
        c.item: c
        for c in db.session.scalars(
            select(AdminCheck).where(
                AdminCheck.application_id == application.id,
                AdminCheck.stage == application.stage,
            )
        )
    }


def record(application: Application, results: Mapping[str, ItemResult], actor: Actor) -> str:
    """Record the whole checklist and admit or reject the application; returns the event fired."""
    if not policy.can_view(actor, application):
        raise NotFound("no such application")
    if not policy.may_fire(actor, application, ("manager",)):
        raise PermissionDenied("programme managers only")
    if application.state not in EVENTS:
        raise ValidationFailed(
            f"{application.label} is {application.state}: there is nothing to check"
        )
    errors: dict[str, list[str]] = {}
    for item in ADMIN_CHECK_ITEMS:
        result = results.get(item)
        if result is None:
            errors[item] = ["say whether this item passed"]
        elif not result.passed and not (result.reason or "").strip():
            errors[item] = ["give the reason it failed"]
    if errors:
        raise ValidationFailed("the checklist is not complete", errors)

    stage = application.stage
    existing = checklist(application, actor)
    moment = now()
    failures = []
    for item in ADMIN_CHECK_ITEMS:
        result = results[item]
        reason = None if result.passed else (result.reason or "").strip()
        check = existing.get(item) or AdminCheck(
            application_id=application.id, stage=stage, item=item
        )
        check.passed, check.reason = result.passed, reason
        check.checked_by_id, check.checked_at = actor.id, moment
        db.session.add(check)
        if not result.passed:
            failures.append(f"{ITEM_LABELS[item]}: {reason}")
    db.session.flush()
    admit, reject = EVENTS[application.state]
    if failures:
        transition(application, reject, actor, comment="; ".join(failures), commit=False)
        event = reject
    else:
        transition(application, admit, actor, commit=False)
        event = admit
    commit()
    return event
