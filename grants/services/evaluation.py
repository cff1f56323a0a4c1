"""Evaluation use cases: grids, declarations, scoring, and the result per application.

Every function takes the actor explicitly; state changes of assignments go through
the transition pipeline (accept, recuse, submit), whose effects assign replacements
and further evaluators (see grants.services.effects).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import policy
from ..clock import now
from ..extensions import db
from ..models import (
    Application,
    Assignment,
    Call,
    Criterion,
    EvaluationResult,
    Grid,
    GridSection,
    Score,
    Submission,
    User,
)
from .actors import Actor
from .errors import NotFound, PermissionDenied, ValidationFailed
from .transitions import transition

TWO_PLACES = Decimal("0.01")
SCALE: tuple[tuple[int, str], ...] = (
    (1, "very poor"),
    (2, "poor"),
    (3, "adequate"),
    (4, "good"),
    (5, "very good"),
)
SCALE_LABELS = dict(SCALE)
# Assignment states in which the evaluator has declared no conflict and may read the content.
CONTENT_STATES = ("accepted", "submitted", "reopened")
# A gap between an evaluator's mean and the panel's, as a share of the maximum, worth a look.
NOTABLE_GAP = Decimal("0.10")


def _require_manager(actor: Actor) -> None:
    if not policy.is_manager(actor):
        raise PermissionDenied("programme managers only")


def is_carried(section: GridSection) -> bool:
    """Scored at the concept-note stage and carried over (only in two-stage calls)."""
    return section.carried_over and section.grid.call.is_two_stage


def scored_sections(grid: Grid) -> list[GridSection]:
    return [s for s in grid.sections if not is_carried(s)]


def scored_maximum(grid: Grid) -> int:
    return sum(s.max_score for s in scored_sections(grid))


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field}: not a number", {field: ["not a number"]}) from None
    if not number.is_finite() or number < 0:
        raise ValidationFailed(f"{field}: must be zero or more", {field: ["zero or more"]})
    return number.quantize(TWO_PLACES, ROUND_HALF_UP)


# --------------------------------------------------------------------------
# Grids (manager): defaults, settings, sections, criteria; locked once scoring starts
# --------------------------------------------------------------------------


def _editable_grid(call: Call, stage: str, actor: Actor) -> Grid:
    _require_manager(actor)
    grid = call.grid_for(stage)
    if grid is None:
        raise NotFound(f"the call has no {stage.replace('_', ' ')} grid")
    if grid.locked_at is not None:
        raise ValidationFailed(f"the {stage.replace('_', ' ')} grid is locked: scoring has started")
    return grid


def use_default_grid(call: Call, stage: str, actor: Actor) -> Grid:
    """Replace the stage's grid by the PRAG-style default of DESIGN.md."""
    from .grids import build_grid

    _require_manager(actor)
    if stage == "concept_note" and not call.is_two_stage:
        raise ValidationFailed("a single-stage call has no concept-note grid")
    grid = build_grid(call, stage)
    db.session.commit()
    return grid


def update_grid(
    call: Call, stage: str, actor: Actor, total_threshold: Any, minimums: Mapping[str, Any]
) -> Grid:
    """The total threshold and each section's minimum (empty for none)."""
    grid = _editable_grid(call, stage, actor)
    threshold = _decimal(total_threshold, "total_threshold")
    if threshold > grid.max_total:
        raise ValidationFailed(
            f"the threshold {threshold} is above the maximum of {grid.max_total}",
            {"total_threshold": ["above the maximum"]},
        )
    for section in grid.sections:
        raw = minimums.get(section.code)
        if raw is None or str(raw).strip() == "":
            section.minimum = None
            continue
        minimum = _decimal(raw, f"minimum_{section.code}")
        if minimum > section.max_score:
            raise ValidationFailed(
                f"the minimum of {section.code} ({minimum}) is above its maximum "
                f"of {section.max_score}",
                {f"minimum_{section.code}": ["above the section's maximum"]},
            )
        section.minimum = minimum
    grid.total_threshold = threshold
    db.session.commit()
    return grid


def add_section(
    call: Call, stage: str, actor: Actor, code: str, title: str, minimum: Any = None
) -> GridSection:
    grid = _editable_grid(call, stage, actor)
    code, title = code.strip(), title.strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", code):
        raise ValidationFailed(
            "a section code is lower-case letters, digits and _",
            {"code": ["letters, digits and _"]},
        )
    if any(s.code == code for s in grid.sections) or not title:
        raise ValidationFailed(
            "the code must be new and the title given", {"code": ["already used or title missing"]}
        )
    section = GridSection(
        code=code,
        title=title,
        position=max((s.position for s in grid.sections), default=-1) + 1,
        minimum=None if minimum in (None, "") else _decimal(minimum, "minimum"),
    )
    grid.sections.append(section)
    db.session.commit()
    return section


def delete_section(call: Call, stage: str, actor: Actor, section_id: int) -> None:
    grid = _editable_grid(call, stage, actor)
    section = next((s for s in grid.sections if s.id == section_id), None)
    if section is None:
        raise NotFound("no such section")
    grid.sections.remove(section)
    db.session.commit()


def save_criterion(
    call: Call,
    stage: str,
    actor: Actor,
    *,
    section_id: int,
    code: str,
    title: str,
    guidance: str,
    weight: int,
    criterion_id: int | None = None,
) -> Criterion:
    """Add a criterion to a section, or change one (title, guidance, weight)."""
    grid = _editable_grid(call, stage, actor)
    section = next((s for s in grid.sections if s.id == section_id), None)
    if section is None:
        raise NotFound("no such section")
    if int(weight) not in (1, 2):
        raise ValidationFailed("the weight is x1 or x2", {"weight": ["1 or 2"]})
    code, title = code.strip(), title.strip()
    if not code or not title:
        raise ValidationFailed(
            "a criterion needs a code and a title", {"title": ["required"], "code": ["required"]}
        )
    codes = {c.code: c.id for s in grid.sections for c in s.criteria}
    if code in codes and codes[code] != criterion_id:
        raise ValidationFailed(f"criterion code {code} is already used", {"code": ["in use"]})
    if criterion_id is None:
        criterion = Criterion(position=max((c.position for c in section.criteria), default=-1) + 1)
        section.criteria.append(criterion)
    else:
        found = next((c for s in grid.sections for c in s.criteria if c.id == criterion_id), None)
        if found is None:
            raise NotFound("no such criterion")
        criterion = found
        if criterion.section_id != section.id:
            criterion.section.criteria.remove(criterion)
            section.criteria.append(criterion)
    criterion.code, criterion.title = code, title
    criterion.guidance, criterion.weight = guidance.strip(), int(weight)
    db.session.commit()
    return criterion


def delete_criterion(call: Call, stage: str, actor: Actor, criterion_id: int) -> None:
    grid = _editable_grid(call, stage, actor)
    for section in grid.sections:
        for criterion in section.criteria:
            if criterion.id == criterion_id:
                section.criteria.remove(criterion)
                db.session.commit()
                return
    raise NotFound("no such criterion")


# --------------------------------------------------------------------------
# Assignments (evaluator): declaration, content, scoring, submission
# --------------------------------------------------------------------------


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


def assignment_for(assignment_id: int, actor: Actor) -> Assignment:
    """The assignment, if the actor may know of it (its evaluator, or a manager)."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not policy.can_view(actor, assignment):
        raise NotFound("no such assignment")
    return assignment


def declare(
    assignment: Assignment, actor: Actor, *, has_conflict: bool, statement: str | None = None
) -> Assignment:
    """The evaluator's declaration before seeing the content: accept, or recuse (replaced)."""
    statement = (statement or "").strip() or None
    if has_conflict:
        return transition(assignment, "recuse", actor, comment=statement)
    return transition(
        assignment,
        "accept",
        actor,
        comment=statement
        or "I declare that I have no conflict of interest and will keep "
        "the application confidential.",
    )


def may_read_content(actor: Actor, assignment: Assignment) -> bool:
    """Only the assigned evaluator, after declaring no conflict, reads the application."""
    return (
        isinstance(actor, User)
        and assignment.evaluator_id == actor.id
        and assignment.state in CONTENT_STATES
    )


def _redact(value: Any, names: list[str]) -> Any:
    if isinstance(value, str):
        for name in names:
            value = re.sub(re.escape(name), "[applicant]", value, flags=re.IGNORECASE)
        return value
    if isinstance(value, list):
        return [_redact(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, names) for k, v in value.items()}
    return value


def identifying_names(application: Application) -> list[str]:
    """Names that identify the applicant: lead and co-applicant names and acronyms."""
    names = []
    for organisation in [application.organisation, *application.co_applicants]:
        names.append(organisation.name)
        if organisation.acronym and len(organisation.acronym) >= 3:
            names.append(organisation.acronym)
    return sorted({n for n in names if n}, key=len, reverse=True)


def application_content(assignment: Assignment, actor: Actor) -> dict[str, Any]:
    """What the evaluator reads: the frozen submission of the stage, anonymised in blind mode."""
    if not may_read_content(actor, assignment):
        raise PermissionDenied("declare that you have no conflict of interest first")
    application = assignment.application
    submission = db.session.scalar(
        select(Submission).where(
            Submission.application_id == application.id, Submission.stage == assignment.stage
        )
    )
    if submission is None:
        raise NotFound("nothing was submitted at this stage")
    content = dict(submission.snapshot)
    if not application.call.blind_review:
        return content
    content["lead_applicant"] = {
        "name": "[applicant]",
        "type": content.get("lead_applicant", {}).get("type"),
        "country": content.get("lead_applicant", {}).get("country"),
    }
    content["co_applicants"] = [
        {"name": "[co-applicant]", "type": c.get("type"), "country": c.get("country")}
        for c in content.get("co_applicants", [])
    ]
    content["attachments"] = [{"kind": a.get("kind")} for a in content.get("attachments", [])]
    return _redact(content, identifying_names(application))


def display_title(application: Application) -> str:
    """The application's title as evaluators may see it."""
    if application.call.blind_review:
        return _redact(application.title, identifying_names(application))
    return application.title


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
    if grid is None:
        raise ValidationFailed("the call has no grid for this stage")
    criteria = {c.id: c for s in scored_sections(grid) for c in s.criteria}
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


def save_scores(
    assignment: Assignment, entries: Mapping[int, tuple[int | None, str]], actor: Actor
) -> list[Score]:
    """Save the sheet as a draft: every criterion given a score (comments may come later)."""
    saved = [
        save_score(assignment, criterion_id, score, (comment or "").strip(), actor)
        for criterion_id, (score, comment) in entries.items()
        if score is not None
    ]
    db.session.commit()
    return saved


def submit(assignment: Assignment, actor: Actor) -> Assignment:
    """Submit the evaluation: every criterion scored and commented (the guard says which not)."""
    return transition(assignment, "submit", actor)


@dataclass(frozen=True)
class SheetRow:
    criterion: Criterion
    score: int | None
    comment: str


def scoring_sheet(assignment: Assignment, actor: Actor) -> list[tuple[GridSection, list[SheetRow]]]:
    """The evaluator's own sheet: the scored sections with their draft or submitted scores."""
    if not may_read_content(actor, assignment):
        raise PermissionDenied("declare that you have no conflict of interest first")
    grid = assignment.application.call.grid_for(assignment.stage)
    if grid is None:
        return []
    mine = {s.criterion_id: s for s in assignment.scores}
    return [
        (
            section,
            [
                SheetRow(
                    c,
                    mine[c.id].score if c.id in mine else None,
                    mine[c.id].comment if c.id in mine else "",
                )
                for c in section.criteria
            ],
        )
        for section in scored_sections(grid)
    ]


def section_totals(assignment: Assignment) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for s in assignment.scores:
        code = s.criterion.section.code
        totals[code] = totals.get(code, Decimal(0)) + s.score * s.criterion.weight
    return totals


@dataclass(frozen=True)
class PeerEvaluation:
    """Another evaluator's submitted evaluation, as a peer sees it: no name."""

    label: str
    total: Decimal | None
    sections: dict[str, Decimal]
    scores: dict[int, Score]


def peer_evaluations(assignment: Assignment, actor: Actor) -> list[PeerEvaluation]:
    """The other submitted evaluations of the application; only after submitting one's own."""
    if not isinstance(actor, User) or assignment.evaluator_id != actor.id:
        raise PermissionDenied("only the assigned evaluator")
    if assignment.state != "submitted":
        raise PermissionDenied("the others' scores are shown once you have submitted yours")
    others = db.session.scalars(
        select(Assignment)
        .where(
            Assignment.application_id == assignment.application_id,
            Assignment.stage == assignment.stage,
            Assignment.state == "submitted",
            Assignment.id != assignment.id,
        )
        .options(selectinload(Assignment.scores))
        .order_by(Assignment.id)
    ).all()
    return [
        PeerEvaluation(
            f"Evaluator {chr(ord('A') + n)}",
            other.total,
            section_totals(other),
            {s.criterion_id: s for s in other.scores},
        )
        for n, other in enumerate(others)
    ]


# --------------------------------------------------------------------------
# Results (manager): mean of the submitted evaluations, or a consensus
# --------------------------------------------------------------------------


def _carried_value(application: Application, code: str) -> Decimal:
    earlier = db.session.scalar(
        select(EvaluationResult).where(
            EvaluationResult.application_id == application.id,
            EvaluationResult.stage == "concept_note",
        )
    )
    return Decimal(str(earlier.section_scores.get(code, 0))) if earlier else Decimal(0)


def _store(
    application: Application,
    stage: str,
    grid: Grid,
    sections: dict[str, Decimal],
    actor: Actor,
    method: str,
    justification: str | None,
    final: bool,
) -> EvaluationResult:
    total = sum(sections.values(), Decimal(0))
    passes = total >= grid.total_threshold and all(
        sections.get(s.code, Decimal(0)) >= s.minimum
        for s in grid.sections
        if s.minimum is not None
    )
    result = db.session.scalar(
        select(EvaluationResult).where(
            EvaluationResult.application_id == application.id, EvaluationResult.stage == stage
        )
    ) or EvaluationResult(application_id=application.id, stage=stage)
    result.total = total
    result.section_scores = {k: str(v) for k, v in sections.items()}
    result.method = method
    result.justification = justification
    result.passes = passes
    result.final = final
    result.recorded_by_id = actor.id
    result.recorded_at = now()
    db.session.add(result)
    return result


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
    if grid is None:
        raise ValidationFailed("the call has no grid for this stage")
    sections: dict[str, Decimal] = {}
    for section in grid.sections:
        if is_carried(section):
            value = _carried_value(application, section.code)
        else:
            values = [section_totals(a).get(section.code, Decimal(0)) for a in submitted]
            value = sum(values, Decimal(0)) / len(values)
        sections[section.code] = Decimal(value).quantize(TWO_PLACES, ROUND_HALF_UP)
    return _store(application, stage, grid, sections, actor, "mean", None, final)


def record_consensus(
    application: Application,
    stage: str,
    actor: Actor,
    section_scores: Mapping[str, Any],
    justification: str,
) -> EvaluationResult:
    """A consensus score agreed by the committee, per section, with its justification."""
    _require_manager(actor)
    justification = (justification or "").strip()
    if not justification:
        raise ValidationFailed(
            "a consensus score needs its justification", {"justification": ["required"]}
        )
    if application.state not in _evaluating(application.call, stage):
        raise ValidationFailed(f"{application.label} is {application.state}, not under evaluation")
    grid = application.call.grid_for(stage)
    if grid is None:
        raise ValidationFailed("the call has no grid for this stage")
    sections: dict[str, Decimal] = {}
    for section in grid.sections:
        if is_carried(section):
            sections[section.code] = _carried_value(application, section.code)
            continue
        value = _decimal(section_scores.get(section.code, ""), f"section_{section.code}")
        if value > section.max_score:
            raise ValidationFailed(
                f"{section.code}: {value} is above the maximum of {section.max_score}",
                {f"section_{section.code}": ["above the maximum"]},
            )
        sections[section.code] = value
    result = _store(application, stage, grid, sections, actor, "consensus", justification, True)
    db.session.commit()
    return result


def _evaluating(call: Call, stage: str) -> tuple[str, ...]:
    from .panels import evaluating_states

    return evaluating_states(call, stage)


@dataclass(frozen=True)
class ResultsRound:
    computed: int
    waiting: dict[str, str]  # application label -> why no result yet


def compute_results(call: Call, stage: str, actor: Actor) -> ResultsRound:
    """Results of every application whose evaluations are all in; consensus results are kept."""
    _require_manager(actor)
    applications = list(
        db.session.scalars(
            select(Application)
            .where(Application.call_id == call.id, Application.state.in_(_evaluating(call, stage)))
            .order_by(Application.id)
        )
    )
    ids = [a.id for a in applications]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for app_id, state, n in db.session.execute(
            select(Assignment.application_id, Assignment.state, func.count())
            .where(Assignment.application_id.in_(ids), Assignment.stage == stage)
            .group_by(Assignment.application_id, Assignment.state)
        ):
            counts[app_id][state] = n
    consensus = set()
    if ids:
        consensus = set(
            db.session.scalars(
                select(EvaluationResult.application_id).where(
                    EvaluationResult.application_id.in_(ids),
                    EvaluationResult.stage == stage,
                    EvaluationResult.method == "consensus",
                )
            )
        )
    computed, waiting = 0, {}
    for application in applications:
        if application.id in consensus:
            continue
        state_counts = counts[application.id]
        pending = sum(state_counts.get(s, 0) for s in ("invited", "accepted", "reopened"))
        submitted = state_counts.get("submitted", 0)
        if pending:
            waiting[application.label] = f"{pending} evaluation(s) still under way"
        elif submitted < 2:
            waiting[application.label] = f"{submitted} submitted evaluation(s); 2 needed"
        else:
            compute_result(application, stage, actor)
            computed += 1
    db.session.commit()
    return ResultsRound(computed, waiting)


def results_of(call: Call, stage: str) -> list[EvaluationResult]:
    return list(
        db.session.scalars(
            select(EvaluationResult)
            .join(Application, Application.id == EvaluationResult.application_id)
            .where(Application.call_id == call.id, EvaluationResult.stage == stage)
            .options(selectinload(EvaluationResult.application))
            .order_by(EvaluationResult.total.desc(), Application.id)
        )
    )


# --------------------------------------------------------------------------
# Panel progress and score distribution (manager)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluatorFigures:
    evaluator: User
    counts: dict[str, int]
    submitted: int
    mean_share: Decimal | None  # mean total as a share of the maximum
    spread: Decimal | None  # standard deviation of the shares
    gap: Decimal | None  # mean share less the panel's mean share
    leaning: str  # "harsh", "lenient" or ""


@dataclass(frozen=True)
class PanelFigures:
    evaluators: list[EvaluatorFigures]
    panel_mean: Decimal | None
    panel_spread: Decimal | None
    maximum: int
    totals: dict[str, int]


def panel_figures(call: Call, stage: str) -> PanelFigures:
    """Progress per evaluator and how each one scores against the whole panel."""
    from .panels import panel

    grid = call.grid_for(stage)
    maximum = scored_maximum(grid) if grid else 0
    rows = db.session.execute(
        select(Assignment.evaluator_id, Assignment.state, Assignment.total)
        .join(Application, Application.id == Assignment.application_id)
        .where(Application.call_id == call.id, Assignment.stage == stage)
    ).all()
    members = {u.id: u for u in panel(call)}
    for evaluator in db.session.scalars(
        select(User).where(User.id.in_({r[0] for r in rows} - set(members)))
    ):
        members[evaluator.id] = evaluator
    counts: dict[int, dict[str, int]] = {i: {} for i in members}
    shares: dict[int, list[Decimal]] = {i: [] for i in members}
    totals: dict[str, int] = {}
    for evaluator_id, state, total in rows:
        counts[evaluator_id][state] = counts[evaluator_id].get(state, 0) + 1
        totals[state] = totals.get(state, 0) + 1
        if state == "submitted" and total is not None and maximum:
            shares[evaluator_id].append(Decimal(total) / maximum)
    everything = [s for values in shares.values() for s in values]
    panel_mean = _mean(everything)
    panel_spread = _spread(everything)
    figures = []
    for evaluator_id, evaluator in sorted(members.items(), key=lambda kv: (kv[1].name, kv[0])):
        mine = shares[evaluator_id]
        mean = _mean(mine)
        gap = (mean - panel_mean) if mean is not None and panel_mean is not None else None
        leaning = ""
        if gap is not None and len(mine) >= 2:
            leaning = "harsh" if gap < -NOTABLE_GAP else "lenient" if gap > NOTABLE_GAP else ""
        figures.append(
            EvaluatorFigures(
                evaluator, counts[evaluator_id], len(mine), mean, _spread(mine), gap, leaning
            )
        )
    return PanelFigures(figures, panel_mean, panel_spread, maximum, totals)


def _mean(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.0001"))


def _spread(values: list[Decimal]) -> Decimal | None:
    if len(values) < 2:
        return None
    return Decimal(str(statistics.pstdev(values))).quantize(Decimal("0.0001"))


def evaluator_assignments(evaluator: User) -> list[Assignment]:
    """The evaluator's assignments, soonest due first, recused and removed ones last."""
    assignments = db.session.scalars(
        select(Assignment)
        .where(Assignment.evaluator_id == evaluator.id)
        .options(
            selectinload(Assignment.application).selectinload(Application.call),
            selectinload(Assignment.scores),
        )
    ).all()
    closed = ("recused", "removed")
    return sorted(
        assignments,
        key=lambda a: (
            a.state in closed,
            a.state == "submitted",
            a.due_at is None,
            a.due_at or a.assigned_at,
            a.id,
        ),
    )


def progress_of(assignment: Assignment) -> tuple[int, int]:
    """(criteria scored with a comment, criteria to score) of the evaluator's sheet."""
    grid = assignment.application.call.grid_for(assignment.stage)
    if grid is None:
        return 0, 0
    wanted = {c.id for s in scored_sections(grid) for c in s.criteria}
    done = sum(1 for s in assignment.scores if s.criterion_id in wanted and s.comment.strip())
    return done, len(wanted)
