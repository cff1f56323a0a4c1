"""Implementations of the effects the workflow definitions declare.

An effect runs inside the transition's transaction, after the state change;
if it raises, the whole transition is rolled back. Effects may fire further
transitions (e.g. promoting a reserve application) through `ctx.follow_up`,
which keeps everything in the one transaction.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import (
    Application,
    Assignment,
    ConflictDeclaration,
    ContractVersion,
    EvaluationResult,
    Grant,
    Payment,
    Report,
    Submission,
)
from ..rules import payments as payment_rules
from ..rules import selection
from . import references
from .actors import SYSTEM
from .errors import ValidationFailed
from .snapshots import application_snapshot, snapshot_hash

if TYPE_CHECKING:
    from .transitions import TransitionContext

EffectFn = Callable[[Any, "TransitionContext"], None]

FINAL_REPORT_MONTHS = 3
"""Default months after the end of implementation within which the final report is due."""


def final_report_months() -> int:
    """Months allowed for the final report: the FINAL_REPORT_MONTHS setting, 3 by default."""
    return int(current_app.config.get("FINAL_REPORT_MONTHS", FINAL_REPORT_MONTHS))


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def freeze_submission(app: Application, ctx: TransitionContext) -> None:
    """Give the application its reference (once) and freeze what was submitted."""
    if app.reference is None:
        app.reference = references.application_reference(
            app, current_app.config["REFERENCE_PREFIX"]
        )
    app.submitted_at = ctx.now
    stage = "full_application" if ctx.event == "submit_full" else app.stage
    snapshot = application_snapshot(app)
    snapshot["stage"] = stage
    app.submissions.append(
        Submission(
            stage=stage,
            snapshot=snapshot,
            sha256=snapshot_hash(snapshot),
            submitted_at=ctx.now,
            submitted_by_id=ctx.actor.id,
        )
    )


def record_decision(app: Application, ctx: TransitionContext) -> None:
    app.decided_at = ctx.now
    if ctx.comment:
        app.decision_reason = ctx.comment


def create_grant(app: Application, ctx: TransitionContext) -> None:
    """The grant of an awarded application: never more than requested or the call's maximum."""
    call = app.call
    ceiling = min(app.requested_amount or Decimal(0), call.grant_max)
    amount = Decimal(str(ctx.data.get("amount", ceiling))).quantize(Decimal("0.01"))
    if amount <= 0 or amount > ceiling:
        raise ValidationFailed(
            f"the grant amount must be positive and at most {call.currency} {ceiling:,.2f} "
            "(the amount requested and the call's maximum)",
            {"amount": ["out of range"]},
        )
    today = ctx.now.date()
    start = ctx.data.get("start_date") or add_months(today.replace(day=1), 1)
    if isinstance(start, str):
        start = date.fromisoformat(start)
    end = add_months(start, app.duration_months or call.duration_max_months) - timedelta(days=1)
    grant = Grant(
        application=app,
        number=references.grant_number(app, current_app.config["REFERENCE_PREFIX"]),
        amount=amount,
        currency=call.currency,
        funding_rate=(amount / app.total_cost).quantize(Decimal("0.0001"))
        if app.total_cost
        else Decimal("1"),
        start_date=start,
        end_date=end,
        awarded_at=ctx.now,
        state="contract_preparation",
    )
    grant.contracts.append(ContractVersion(number=1, reason="Initial contract", created_at=ctx.now))
    db.session.add(grant)
    app.decided_at = ctx.now


def _reserve_candidates(app: Application) -> list[selection.Candidate]:
    stage = "full_application"
    rows = db.session.execute(
        select(Application, EvaluationResult)
        .join(EvaluationResult, EvaluationResult.application_id == Application.id)
        .where(
            Application.call_id == app.call_id,
            Application.state == "reserve",
            EvaluationResult.stage == stage,
        )
    ).all()
    return [
        selection.Candidate(
            application_id=reserve.id,
            requested=reserve.requested_amount or Decimal(0),
            total=result.total,
            section_scores={k: Decimal(str(v)) for k, v in result.section_scores.items()},
            lot=str(reserve.lot_id) if reserve.lot_id else None,
        )
        for reserve, result in rows
    ]


def _promote_next(app: Application, ctx: TransitionContext) -> None:
    from .guards import remaining_budget

    candidates = _reserve_candidates(app)
    if not candidates:
        return
    remaining = {}
    for c in candidates:
        lot_id = int(c.lot) if c.lot else None
        remaining[c.lot] = remaining_budget(app.call, lot_id)
    chosen = selection.promote_from_reserve(candidates, remaining)
    if chosen is not None:
        promoted = db.session.get(Application, chosen.application_id)
        ctx.follow_up(
            promoted, "select", comment=f"promoted from the reserve list after {app.label}"
        )


def promote_from_reserve(app: Application, ctx: TransitionContext) -> None:
    """A selected application left: the next reserve application that fits is selected."""
    if ctx.from_state == "provisionally_selected":
        db.session.flush()  # the freed amount must be visible to the budget query
        _promote_next(app, ctx)


def promote_after_lapse(grant: Grant, ctx: TransitionContext) -> None:
    """An unsigned contract lapsed: its money goes to the next reserve application."""
    app = grant.application
    app.decision_reason = app.decision_reason or "contract not signed in time"
    db.session.flush()
    # The lapsed grant's application no longer takes budget once it is not 'awarded'.
    _promote_next(app, ctx)


def record_no_conflict(assignment: Assignment, ctx: TransitionContext) -> None:
    db.session.add(
        ConflictDeclaration(
            assignment_id=assignment.id,
            evaluator_id=assignment.evaluator_id,
            application_id=assignment.application_id,
            has_conflict=False,
            statement=ctx.comment,
            declared_at=ctx.now,
        )
    )


def record_conflict(assignment: Assignment, ctx: TransitionContext) -> None:
    db.session.add(
        ConflictDeclaration(
            assignment_id=assignment.id,
            evaluator_id=assignment.evaluator_id,
            application_id=assignment.application_id,
            has_conflict=True,
            statement=ctx.comment,
            declared_at=ctx.now,
        )
    )


def assign_replacement(assignment: Assignment, ctx: TransitionContext) -> None:
    """A recused evaluator is replaced at once by the next eligible panel member."""
    from .panels import add_evaluator

    db.session.flush()  # the conflict just declared must count against the recused evaluator
    add_evaluator(
        assignment.application,
        assignment.stage,
        SYSTEM,
        due_at=assignment.due_at,
        comment=f"replaces assignment {assignment.id} (conflict of interest declared)",
    )


def check_divergence(assignment: Assignment, ctx: TransitionContext) -> None:
    """Totals too far apart: one further evaluator is assigned (once per application)."""
    from .panels import LIVE_STATES, add_evaluator

    db.session.flush()
    call = assignment.application.call
    grid = call.grid_for(assignment.stage)
    if grid is None:
        return
    rows = db.session.execute(
        select(Assignment.state, Assignment.total).where(
            Assignment.application_id == assignment.application_id,
            Assignment.stage == assignment.stage,
            Assignment.state.in_(LIVE_STATES),
        )
    ).all()
    totals = [total for state, total in rows if state == "submitted" and total is not None]
    pending = [state for state, _total in rows if state != "submitted"]
    if len(totals) < 2 or pending or len(rows) > max(2, call.evaluators_per_application):
        return
    scored_max = sum(
        s.max_score for s in grid.sections if not (s.carried_over and call.is_two_stage)
    )
    if max(totals) - min(totals) > call.divergence_share * scored_max:
        add_evaluator(
            assignment.application,
            assignment.stage,
            SYSTEM,
            due_at=assignment.due_at,
            comment=(
                f"totals {min(totals)} and {max(totals)} differ by more than "
                f"{call.divergence_share * 100:.0f}% of {scored_max}"
            ),
        )


def plan_payments_and_reports(grant: Grant, ctx: TransitionContext) -> None:
    """On signature: the payment schedule and the reporting schedule of the contract."""
    grant.signed_at = ctx.now
    shares = [Decimal(str(s)) for s in grant.application.call.prefinancing_shares]
    for planned in payment_rules.plan_payments(grant.amount, shares):
        grant.payments.append(
            Payment(
                sequence=planned.sequence,
                kind=planned.kind,
                trigger=planned.trigger,
                planned_amount=planned.amount,
                state="planned",
            )
        )
    # One reporting period per pre-financing instalment; an interim report closes each
    # period but the last, the final report is due three months after the end.
    months = max(
        1,
        (grant.end_date.year - grant.start_date.year) * 12
        + grant.end_date.month
        - grant.start_date.month
        + 1,
    )
    periods = len(shares)
    period_start = grant.start_date
    for n in range(1, periods):
        period_end = add_months(grant.start_date, months * n // periods) - timedelta(days=1)
        grant.reports.append(
            Report(
                kind="interim",
                sequence=n,
                period_start=period_start,
                period_end=period_end,
                due_date=add_months(period_end, 1),
                state="due",
            )
        )
        period_start = period_end + timedelta(days=1)
    grant.reports.append(
        Report(
            kind="final",
            sequence=1,
            period_start=grant.start_date,
            period_end=grant.end_date,
            due_date=add_months(grant.end_date, final_report_months()),
            state="due",
        )
    )


def record_termination(grant: Grant, ctx: TransitionContext) -> None:
    grant.termination_reason = ctx.comment


def stamp_sent_for_signature(grant: Grant, ctx: TransitionContext) -> None:
    """The contract goes out as a rendered document whose hash is recorded, on every path."""
    from .contracts import render_contract

    render_contract(grant)
    grant.sent_for_signature_at = ctx.now


def stamp_requested(payment: Payment, ctx: TransitionContext) -> None:
    payment.requested_at = ctx.now
    if payment.amount is None:
        payment.amount = payment.planned_amount


def stamp_paid(payment: Payment, ctx: TransitionContext) -> None:
    if payment.amount is None:
        payment.amount = payment.planned_amount
    payment.paid_at = ctx.now


def stamp_report_submitted(report: Report, ctx: TransitionContext) -> None:
    report.submitted_at = ctx.now


def stamp_report_approved(report: Report, ctx: TransitionContext) -> None:
    """Approved: an interim report releases the next pre-financing, the final one the balance."""
    from .payments import release_after_report

    report.approved_at = ctx.now
    release_after_report(report, ctx)


def stamp_assignment_submitted(assignment: Assignment, ctx: TransitionContext) -> None:
    """Keep the weighted total with the submission, so rankings never recompute it."""
    assignment.submitted_at = ctx.now
    total = sum(s.score * s.criterion.weight for s in assignment.scores)
    assignment.total = Decimal(total)


def publish_call(call: Any, ctx: TransitionContext) -> None:
    call.published_at = ctx.now


EFFECTS: dict[str, EffectFn] = {
    fn.__name__: fn
    for fn in (
        freeze_submission,
        record_decision,
        create_grant,
        promote_from_reserve,
        promote_after_lapse,
        record_no_conflict,
        record_conflict,
        assign_replacement,
        check_divergence,
        plan_payments_and_reports,
        record_termination,
        stamp_sent_for_signature,
        stamp_requested,
        stamp_paid,
        stamp_report_submitted,
        stamp_report_approved,
        stamp_assignment_submitted,
        publish_call,
    )
}
