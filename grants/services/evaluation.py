"""Evaluation use cases: assigning evaluators, scoring, and the result per application."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from ..clock import now
from ..extensions import db
from ..models import Application, Assignment, EvaluationResult, Score, User
from .actors import Actor
from .errors import PermissionDenied, ValidationFailed

TWO_PLACES = Decimal("0.01")


def assign(
    application: Application,
    evaluator: User,
    actor: Actor,
    stage: str | None = None,
) -> Assignment:
    """Attach an evaluator to an application (refusing one from the applicant's organisation)."""
    if not evaluator.has_role("evaluator"):
        raise ValidationFailed(f"{evaluator.name} is not an evaluator")
    if evaluator.membership_in(application.organisation_id) is not None:
        raise ValidationFailed(f"{evaluator.name} belongs to the applicant organisation")
    assignment = Assignment(
        application=application,
        evaluator=evaluator,
        stage=stage or application.stage,
        state="invited",
        assigned_by_id=actor.id,
        assigned_at=now(),
    )
    db.session.add(assignment)
    return assignment


def save_score(
    assignment: Assignment, criterion_id: int, score: int, comment: str, actor: Actor
) -> Score:
    """Save one criterion's score as a draft; only the evaluator, only before submission."""
    if actor.id != assignment.evaluator_id:
        raise PermissionDenied("only the assigned evaluator scores")
    if assignment.state not in ("accepted", "reopened"):
        raise ValidationFailed(f"the assignment is {assignment.state}; scores cannot change")
    if not 1 <= int(score) <= 5:
        raise ValidationFailed("a score is from 1 to 5", {"score": ["from 1 to 5"]})
    grid = assignment.application.call.grid_for(assignment.stage)
    criteria = {c.id: c for s in grid.sections if not s.carried_over for c in s.criteria}
    if criterion_id not in criteria:
        raise ValidationFailed("that criterion is not scored at this stage")
    existing = next((s for s in assignment.scores if s.criterion_id == criterion_id), None)
    if existing is None:
        existing = Score(criterion_id=criterion_id, score=int(score), comment=comment)
        assignment.scores.append(existing)
    else:
        existing.score, existing.comment = int(score), comment
    grid.locked_at = grid.locked_at or now()  # scoring has started: the grid is frozen
    return existing


def section_totals(assignment: Assignment) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for s in assignment.scores:
        code = s.criterion.section.code
        totals[code] = totals.get(code, Decimal(0)) + s.score * s.criterion.weight
    return totals


def compute_result(
    application: Application, stage: str, actor: Actor, final: bool = True
) -> EvaluationResult:
    """The mean of the submitted evaluations, per section and in total, thresholds applied."""
    submitted = list(
        db.session.scalars(
            select(Assignment).where(
                Assignment.application_id == application.id,
                Assignment.stage == stage,
                Assignment.state == "submitted",
            )
        )
    )
    if len(submitted) < 2:
        raise ValidationFailed(
            f"{application.label} has {len(submitted)} submitted evaluation(s); at least 2 needed"
        )
    grid = application.call.grid_for(stage)
    sections: dict[str, Decimal] = {}
    for section in grid.sections:
        if section.carried_over:
            earlier = db.session.scalar(
                select(EvaluationResult).where(
                    EvaluationResult.application_id == application.id,
                    EvaluationResult.stage == "concept_note",
                )
            )
            value = Decimal(str(earlier.section_scores.get(section.code, 0))) if earlier else 0
        else:
            values = [section_totals(a).get(section.code, Decimal(0)) for a in submitted]
            value = sum(values, Decimal(0)) / len(values)
        sections[section.code] = Decimal(value).quantize(TWO_PLACES, ROUND_HALF_UP)
    total = sum(sections.values(), Decimal(0))
    passes = total >= grid.total_threshold and all(
        sections[s.code] >= s.minimum for s in grid.sections if s.minimum is not None
    )
    result = db.session.scalar(
        select(EvaluationResult).where(
            EvaluationResult.application_id == application.id, EvaluationResult.stage == stage
        )
    ) or EvaluationResult(application_id=application.id, stage=stage)
    result.total = total
    result.section_scores = {k: str(v) for k, v in sections.items()}
    result.method = "mean"
    result.passes = passes
    result.final = final
    result.recorded_by_id = actor.id
    result.recorded_at = now()
    db.session.add(result)
    return result
