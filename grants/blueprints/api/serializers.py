"""The JSON of each resource, written out field by field.

Money is a string with two decimals (never a float), moments are ISO 8601 in
UTC, days are ISO dates. Each function names every field it emits; the
OpenAPI document (openapi.py) describes the same fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ...clock import now
from ...models import Application, Assignment, AuditEvent, Call, Grant, Payment, Report, User
from ...policy import is_admin, is_manager, membership_role
from ...services.actors import Actor
from ...services.evaluation import display_title
from ...services.transitions import AllowedTransition


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def call_json(call: Call, actor: Actor) -> dict[str, Any]:
    return {
        "id": call.id,
        "code": call.code,
        "year": call.year,
        "title": call.title,
        "summary": call.summary,
        "workflow": call.workflow,
        "currency": call.currency,
        "budget": money(call.budget),
        "grant_min": money(call.grant_min),
        "grant_max": money(call.grant_max),
        "time_zone": call.time_zone,
        "opens_at": moment(call.opens_at),
        "deadline_at": moment(call.deadline_at),
        "full_deadline_at": moment(call.full_deadline_at),
        "published_at": moment(call.published_at),
    }


def _reads_blind(application: Application, actor: Actor) -> bool:
    """An evaluator of a blind-review call reads no name of the applicant."""
    if not application.call.blind_review:
        return False
    if is_manager(actor) or is_admin(actor):
        return False
    return membership_role(actor, application) is None


def application_json(application: Application, actor: Actor) -> dict[str, Any]:
    blind = _reads_blind(application, actor)
    organisation = application.organisation
    return {
        "id": application.id,
        "reference": application.reference,
        "call_id": application.call_id,
        "lot_id": application.lot_id,
        "organisation": None
        if blind
        else {
            "id": organisation.id,
            "name": organisation.name,
            "country": organisation.country_iso2,
        },
        "title": display_title(application) if blind else application.title,
        "language": application.language,
        "stage": application.stage,
        "requested_amount": money(application.requested_amount),
        "total_cost": money(application.total_cost),
        "duration_months": application.duration_months,
        "created_at": moment(application.created_at),
        "submitted_at": moment(application.submitted_at),
        "decided_at": moment(application.decided_at),
        "decision_reason": application.decision_reason,
    }


def assignment_json(assignment: Assignment, actor: Actor) -> dict[str, Any]:
    return {
        "id": assignment.id,
        "application_id": assignment.application_id,
        "evaluator": {"id": assignment.evaluator.id, "name": assignment.evaluator.name},
        "stage": assignment.stage,
        "assigned_at": moment(assignment.assigned_at),
        "due_at": moment(assignment.due_at),
        "submitted_at": moment(assignment.submitted_at),
        "total": money(assignment.total),
    }


def grant_json(grant: Grant, actor: Actor) -> dict[str, Any]:
    return {
        "id": grant.id,
        "number": grant.number,
        "application_id": grant.application_id,
        "amount": money(grant.amount),
        "currency": grant.currency,
        "funding_rate": f"{grant.funding_rate:.4f}",
        "start_date": day(grant.start_date),
        "end_date": day(grant.end_date),
        "awarded_at": moment(grant.awarded_at),
        "sent_for_signature_at": moment(grant.sent_for_signature_at),
        "signed_at": moment(grant.signed_at),
        "termination_reason": grant.termination_reason,
    }


def payment_json(payment: Payment, actor: Actor) -> dict[str, Any]:
    return {
        "id": payment.id,
        "grant_id": payment.grant_id,
        "sequence": payment.sequence,
        "kind": payment.kind,
        "trigger": payment.trigger,
        "planned_amount": money(payment.planned_amount),
        "amount": money(payment.amount),
        "explanation": payment.explanation,
        "requested_at": moment(payment.requested_at),
        "paid_at": moment(payment.paid_at),
    }


def report_json(report: Report, actor: Actor) -> dict[str, Any]:
    return {
        "id": report.id,
        "grant_id": report.grant_id,
        "kind": report.kind,
        "sequence": report.sequence,
        "period_start": day(report.period_start),
        "period_end": day(report.period_end),
        "due_date": day(report.due_date),
        "overdue": report.is_overdue(now().date()),
        "submitted_at": moment(report.submitted_at),
        "approved_at": moment(report.approved_at),
    }


def allowed_json(allowed: AllowedTransition) -> dict[str, Any]:
    return {
        "name": allowed.event,
        "to": allowed.dest,
        "comment_required": allowed.comment_required,
        "blocked_by": list(allowed.blocked_by),
    }


def history_json(event: AuditEvent, names: dict[int, str]) -> dict[str, Any]:
    """One audit row; the actor by name only (the stored label carries an address)."""
    actor = names.get(event.actor_id, event.actor_label) if event.actor_id else event.actor_label
    return {
        "id": event.id,
        "occurred_at": moment(event.occurred_at),
        "event": event.event,
        "from": event.from_state,
        "to": event.to_state,
        "actor": actor,
        "comment": event.comment,
        "data": dict(event.data or {}),
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "roles": sorted(user.roles),
        "organisations": [
            {"id": m.organisation_id, "name": m.organisation.name, "role": m.role}
            for m in sorted(user.memberships, key=lambda m: m.organisation_id)
        ],
    }


def page_json(items: Sequence[dict[str, Any]], next_url: str | None) -> dict[str, Any]:
    return {"items": list(items), "next": next_url}
