"""Implementations of the guards the workflow definitions name.

Each takes the object and the transition context and returns None when the
condition holds, or the reason(s) it does not, in words an applicant or a
manager can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    AdminCheck,
    Application,
    Assignment,
    Call,
    EvaluationResult,
    Grant,
    Report,
    Score,
)
from . import eligibility

Reason = str | list[str] | None
GuardFn = Callable[[Any, Mapping[str, Any]], Reason]

# The items of the administrative (opening) check, per PRAG practice.
ADMIN_CHECK_ITEMS = (
    "submitted_before_deadline",
    "form_complete",
    "language_correct",
    "declaration_signed",
)


def format_moment(moment: datetime, call: Call) -> str:
    local = moment.astimezone(call.zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {call.time_zone}"


def call_open(app: Application, ctx: Mapping[str, Any]) -> Reason:
    if app.call.state != "open":
        return f"call {app.call.code} is {app.call.state}, not open for submissions"
    return None


def before_deadline(app: Application, ctx: Mapping[str, Any]) -> Reason:
    if ctx["now"] > app.call.deadline_at:
        return f"the deadline passed at {format_moment(app.call.deadline_at, app.call)}"
    return None


def before_full_deadline(app: Application, ctx: Mapping[str, Any]) -> Reason:
    deadline = app.call.full_deadline_at
    if deadline is None:
        return "the call has no full-application deadline"
    if ctx["now"] > deadline:
        return f"the full-application deadline passed at {format_moment(deadline, app.call)}"
    return None


def full_deadline_passed(app: Application, ctx: Mapping[str, Any]) -> Reason:
    deadline = app.call.full_deadline_at
    if deadline is not None and ctx["now"] <= deadline:
        return f"the full-application deadline is still ahead ({format_moment(deadline, app.call)})"
    return None


def application_complete(app: Application, ctx: Mapping[str, Any]) -> Reason:
    missing = eligibility.missing_parts(app)
    return [f"incomplete: {part}" for part in missing] or None


def application_eligible(app: Application, ctx: Mapping[str, Any]) -> Reason:
    return [f.message for f in eligibility.failures(app)] or None


def admin_check_passed(app: Application, ctx: Mapping[str, Any]) -> Reason:
    checks = {
        c.item: c
        for c in db.session.scalars(
            select(AdminCheck).where(
                AdminCheck.application_id == app.id, AdminCheck.stage == app.stage
            )
        )
    }
    reasons = []
    for item in ADMIN_CHECK_ITEMS:
        check = checks.get(item)
        if check is None:
            reasons.append(f"administrative check '{item}' not done")
        elif not check.passed:
            reasons.append(f"administrative check '{item}' failed: {check.reason}")
    return reasons or None


def _result(app: Application) -> EvaluationResult | None:
    return db.session.scalar(
        select(EvaluationResult).where(
            EvaluationResult.application_id == app.id, EvaluationResult.stage == app.stage
        )
    )


def scores_final(app: Application, ctx: Mapping[str, Any]) -> Reason:
    result = _result(app)
    if result is None or not result.final:
        return f"the {app.stage.replace('_', ' ')} scores are not final"
    return None


def remaining_budget(call: Call, lot_id: int | None) -> Any:
    """The call's (or lot's) budget less what provisionally selected and awarded requests take."""
    budget = call.budget
    if lot_id is not None:
        budget = next(lot.budget for lot in call.lots if lot.id == lot_id)
    taken = db.session.scalar(
        select(func.coalesce(func.sum(Application.requested_amount), 0)).where(
            Application.call_id == call.id,
            Application.lot_id.is_(None) if lot_id is None else Application.lot_id == lot_id,
            Application.state.in_(("provisionally_selected", "awarded")),
            # A lapsed contract gives its money back.
            ~select(Grant.id)
            .where(Grant.application_id == Application.id, Grant.state == "lapsed")
            .exists(),
        )
    )
    return budget - taken


def fits_remaining_budget(app: Application, ctx: Mapping[str, Any]) -> Reason:
    left = remaining_budget(app.call, app.lot_id)
    if app.requested_amount is None or app.requested_amount > left:
        return (
            f"the requested {app.call.currency} {app.requested_amount or 0:,.2f} does not fit "
            f"the remaining budget of {app.call.currency} {left:,.2f}"
        )
    return None


def passes_thresholds(app: Application, ctx: Mapping[str, Any]) -> Reason:
    """Selected, invited or reserved only above the grid's threshold and section minimums."""
    result = _result(app)
    if result is None:
        return f"the {app.stage.replace('_', ' ')} has no score"
    grid = app.call.grid_for(app.stage)
    reasons = []
    if result.total < grid.total_threshold:
        reasons.append(f"the score {result.total} is below the threshold of {grid.total_threshold}")
    for section in grid.sections:
        scored = Decimal(str(result.section_scores.get(section.code, 0)))
        if section.minimum is not None and scored < section.minimum:
            reasons.append(
                f"section {section.code} scored {scored}, below its minimum of {section.minimum}"
            )
    return reasons or None


# Once invited, a concept note counts against the pre-selection envelope for good.
PRESELECTED_STATES = (
    "invited", "fa_submitted", "lapsed", "fa_in_evaluation", "provisionally_selected",
    "reserve", "awarded", "ineligible",
)


def within_preselection_envelope(app: Application, ctx: Mapping[str, Any]) -> Reason:
    """Concept notes are invited until their requests reach the call's ratio (200%) of budget."""
    call = app.call
    envelope = call.budget * call.preselection_ratio
    taken = db.session.scalar(
        select(func.coalesce(func.sum(Application.requested_amount), 0)).where(
            Application.call_id == call.id, Application.state.in_(PRESELECTED_STATES)
        )
    )
    if (app.requested_amount or 0) + taken > envelope:
        return (
            f"inviting it would take the requests of invited concept notes to "
            f"{call.currency} {(app.requested_amount or 0) + taken:,.2f}, above "
            f"{call.preselection_ratio * 100:.0f}% of the budget ({call.currency} "
            f"{envelope:,.2f})"
        )
    return None


def supporting_documents_verified(app: Application, ctx: Mapping[str, Any]) -> Reason:
    if not ctx["data"].get("documents_verified"):
        return "the supporting documents have not been confirmed as verified"
    return None


def call_has_grid(call: Call, ctx: Mapping[str, Any]) -> Reason:
    stages = ("concept_note", "full_application") if call.is_two_stage else ("full_application",)
    reasons = []
    for stage in stages:
        grid = call.grid_for(stage)
        if grid is None or not any(s.criteria for s in grid.sections):
            reasons.append(f"the {stage.replace('_', ' ')} evaluation grid has no criteria")
    return reasons or None


def call_has_budget(call: Call, ctx: Mapping[str, Any]) -> Reason:
    if call.lots and sum(lot.budget for lot in call.lots) != call.budget:
        return "the lots' budgets do not add up to the call's budget"
    return None


def deadline_in_future(call: Call, ctx: Mapping[str, Any]) -> Reason:
    reasons = []
    if call.deadline_at <= ctx["now"]:
        reasons.append(f"the deadline {format_moment(call.deadline_at, call)} is not in the future")
    if call.is_two_stage and (
        call.full_deadline_at is None or call.full_deadline_at <= call.deadline_at
    ):
        reasons.append("the full-application deadline must come after the concept-note deadline")
    return reasons or None


def deadline_passed(call: Call, ctx: Mapping[str, Any]) -> Reason:
    if ctx["now"] <= call.deadline_at:
        return f"the deadline {format_moment(call.deadline_at, call)} has not passed yet"
    return None


UNDECIDED_STATES = ("submitted", "in_evaluation", "invited", "fa_submitted", "fa_in_evaluation")


def all_applications_decided(call: Call, ctx: Mapping[str, Any]) -> Reason:
    rows = db.session.execute(
        select(Application.state, func.count())
        .where(Application.call_id == call.id, Application.state.in_(UNDECIDED_STATES))
        .group_by(Application.state)
    ).all()
    return [f"{count} application(s) still {state}" for state, count in rows] or None


def all_criteria_scored(assignment: Assignment, ctx: Mapping[str, Any]) -> Reason:
    grid = assignment.application.call.grid_for(assignment.stage)
    if grid is None:
        return "the call has no grid for this stage"
    scores = {
        s.criterion_id: s
        for s in db.session.scalars(select(Score).where(Score.assignment_id == assignment.id))
    }
    reasons = []
    for section in grid.sections:
        # Carried over from the concept note in a two-stage call: scored there, not here.
        if section.carried_over and assignment.application.call.is_two_stage:
            continue
        for criterion in section.criteria:
            score = scores.get(criterion.id)
            if score is None:
                reasons.append(f"criterion {criterion.code} is not scored")
            elif not score.comment.strip():
                reasons.append(f"criterion {criterion.code} has no comment")
    return reasons or None


def signed_by_grantee(grant: Grant, ctx: Mapping[str, Any]) -> Reason:
    contract = grant.current_contract
    if contract is None or not any(s.side == "grantee" for s in contract.signatures):
        return "the grantee has not signed the current contract"
    return None


def implementation_ended(grant: Grant, ctx: Mapping[str, Any]) -> Reason:
    if ctx["now"].date() <= grant.end_date:
        return f"implementation runs until {grant.end_date:%Y-%m-%d}"
    return None


def final_report_approved(grant: Grant, ctx: Mapping[str, Any]) -> Reason:
    finals = [r for r in grant.reports if r.kind == "final"]
    if not finals or any(r.state != "approved" for r in finals):
        return "the final report is not approved"
    return None


def balance_settled(grant: Grant, ctx: Mapping[str, Any]) -> Reason:
    from .payments import nothing_due

    open_payments = [
        p for p in grant.payments if p.state not in ("paid", "rejected") and not nothing_due(p)
    ]
    return [f"payment {p.sequence} ({p.kind}) is still {p.state}" for p in open_payments] or None


def signature_period_expired(grant: Grant, ctx: Mapping[str, Any]) -> Reason:
    sent = grant.sent_for_signature_at
    period = timedelta(days=grant.application.call.signature_period_days)
    if sent is None or ctx["now"] <= sent + period:
        return f"the {period.days}-day signature period has not expired"
    return None


def report_complete(report: Report, ctx: Mapping[str, Any]) -> Reason:
    reasons = []
    if not report.narrative:
        reasons.append("the narrative report is empty")
    if not report.financial:
        reasons.append("the financial report is empty")
    return reasons or None


def payment_due(payment: Any, ctx: Mapping[str, Any]) -> Reason:
    """Requested only once due: on signature, or once the report that opens it is approved."""
    from .payments import request_reasons

    return request_reasons(payment) or None


def within_prefinancing_ceiling(payment: Any, ctx: Mapping[str, Any]) -> Reason:
    """Pre-financing paid never exceeds 90% of the grant."""
    from .payments import ceiling_reasons

    return ceiling_reasons(payment) or None


GUARDS: dict[str, GuardFn] = {
    fn.__name__: fn
    for fn in (
        call_open,
        before_deadline,
        before_full_deadline,
        full_deadline_passed,
        application_complete,
        application_eligible,
        admin_check_passed,
        scores_final,
        fits_remaining_budget,
        passes_thresholds,
        within_preselection_envelope,
        supporting_documents_verified,
        call_has_grid,
        call_has_budget,
        deadline_in_future,
        deadline_passed,
        all_applications_decided,
        all_criteria_scored,
        signed_by_grantee,
        implementation_ended,
        final_report_approved,
        balance_settled,
        signature_period_expired,
        report_complete,
        payment_due,
        within_prefinancing_ceiling,
    )
}
