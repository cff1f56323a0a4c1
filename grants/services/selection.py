"""Ranking and selection of a call's scored applications, through the pure rules.

`build_proposal` reads every candidate of a stage in a fixed number of queries
(whatever the number of applications) and hands them to grants.rules.selection:
concept notes are pre-selected within the call's envelope (200% of the budget by
default), full applications selected in rank order while they fit their lot's
budget, the rest above the thresholds forming the ordered reserve list.

`confirm` applies a proposal the manager reviewed: every transition (invite,
select, reserve, reject) fires in one transaction, and a proposal that changed
since it was shown (a new score, a withdrawal) is refused rather than applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from .. import policy
from ..extensions import db
from ..models import Application, Assignment, Call, EvaluationResult, Organisation
from ..rules import selection as rules
from .actors import Actor
from .errors import ConcurrentChange, PermissionDenied, ValidationFailed
from .guards import remaining_budget
from .panels import evaluating_states
from .transitions import commit, transition


@dataclass(frozen=True)
class Row:
    """What a line of the ranking shows besides the rules' candidate."""

    application_id: int
    reference: str
    title: str
    organisation: str
    lot: str | None
    requested: Decimal
    total: Decimal
    sections: dict[str, Decimal]
    method: str
    evaluations: int


@dataclass(frozen=True)
class Line:
    rank: int
    row: Row
    outcome: str  # "selected" (invited for concept notes), "reserve", "rejected"
    reasons: tuple[str, ...]
    reserve_position: int | None = None


@dataclass(frozen=True)
class Proposal:
    call: Call
    stage: str
    result: rules.SelectionProposal | None
    lines: list[Line]
    missing: list[str]  # applications without a final result: nothing can be confirmed yet
    budgets: dict[str | None, Decimal] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def ready(self) -> bool:
        return self.result is not None and not self.missing and bool(self.lines)

    def outcome_of(self, application_id: int) -> str | None:
        return next(
            (ln.outcome for ln in self.lines if ln.row.application_id == application_id), None
        )


def thresholds(call: Call, stage: str) -> rules.Thresholds:
    grid = call.grid_for(stage)
    if grid is None:
        raise ValidationFailed(f"the call has no {stage.replace('_', ' ')} grid")
    return rules.Thresholds(
        grid.total_threshold,
        {s.code: s.minimum for s in grid.sections if s.minimum is not None},
    )


def _rows(call: Call, stage: str) -> tuple[list[Row], list[str]]:
    """Every application under evaluation at the stage, with its result: two queries."""
    evaluations = (
        select(Assignment.application_id, func.count(Assignment.id).label("n"))
        .join(Application, Application.id == Assignment.application_id)
        .where(
            Application.call_id == call.id,
            Assignment.stage == stage,
            Assignment.state == "submitted",
        )
        .group_by(Assignment.application_id)
        .subquery()
    )
    query = (
        select(
            Application.id,
            Application.reference,
            Application.title,
            Application.lot_id,
            Application.requested_amount,
            Organisation.name,
            EvaluationResult.total,
            EvaluationResult.section_scores,
            EvaluationResult.method,
            EvaluationResult.final,
            func.coalesce(evaluations.c.n, 0),
        )
        .join(Organisation, Organisation.id == Application.organisation_id)
        .outerjoin(
            EvaluationResult,
            (EvaluationResult.application_id == Application.id) & (EvaluationResult.stage == stage),
        )
        .outerjoin(evaluations, evaluations.c.application_id == Application.id)
        .where(
            Application.call_id == call.id, Application.state.in_(evaluating_states(call, stage))
        )
        .order_by(Application.id)
    )
    rows, missing = [], []
    for (
        app_id,
        reference,
        title,
        lot_id,
        requested,
        organisation,
        total,
        sections,
        method,
        final,
        n,
    ) in db.session.execute(query):
        label = reference or f"#{app_id}"
        if total is None or not final:
            missing.append(label)
            continue
        rows.append(
            Row(
                app_id,
                label,
                title,
                organisation,
                str(lot_id) if lot_id is not None else None,
                requested if requested is not None else Decimal(0),
                total,
                {code: Decimal(str(value)) for code, value in (sections or {}).items()},
                method,
                n,
            )
        )
    return rows, missing


def _budgets(call: Call, stage: str) -> dict[str | None, Decimal]:
    if stage == "concept_note":
        return {None: call.budget}
    if call.lots:
        return {str(lot.id): remaining_budget(call, lot.id) for lot in call.lots}
    return {None: remaining_budget(call, None)}


def build_proposal(call: Call, stage: str) -> Proposal:
    """The ranking and the proposed outcome of every application under evaluation."""
    rows, missing = _rows(call, stage)
    budgets = _budgets(call, stage)
    if call.lots and stage == "full_application":
        no_lot = [r.reference for r in rows if r.lot is None]
        if no_lot:
            raise ValidationFailed(
                "applications without a lot in a call with lots: " + ", ".join(no_lot)
            )
    candidates = [
        rules.Candidate(r.application_id, r.requested, r.total, r.sections, r.lot) for r in rows
    ]
    limits = thresholds(call, stage)
    if stage == "concept_note":
        result = rules.preselect_concept_notes(
            candidates, call.budget, limits, call.preselection_ratio
        )
    else:
        result = rules.select_full_applications(candidates, budgets, limits)
    by_id = {r.application_id: r for r in rows}
    outcome: dict[int, tuple[str, tuple[str, ...], int | None]] = {}
    for c in result.selected:
        outcome[c.application_id] = ("selected", (), None)
    for position, c in enumerate(result.reserve, start=1):
        outcome[c.application_id] = ("reserve", (), position)
    for rejection in result.rejected:
        outcome[rejection.candidate.application_id] = ("rejected", rejection.reasons, None)
    lines = [
        Line(n, by_id[c.application_id], *outcome[c.application_id])
        for n, c in enumerate(result.ranking, start=1)
    ]
    digest = hashlib.sha256()
    for line in lines:
        digest.update(
            f"{line.row.application_id}:{line.outcome}:{line.row.total}:{line.row.requested};".encode()
        )
    digest.update(("missing:" + ",".join(missing)).encode())
    return Proposal(
        call,
        stage,
        result,
        lines,
        missing,
        result.budgets and dict(result.budgets),
        digest.hexdigest(),
    )


def confirm(call: Call, stage: str, actor: Actor, fingerprint: str) -> dict[str, int]:
    """Apply the reviewed proposal: all transitions in one transaction. Counts per outcome."""
    if not policy.is_manager(actor):
        raise PermissionDenied("programme managers only")
    proposal = build_proposal(call, stage)
    if proposal.fingerprint != fingerprint:
        raise ConcurrentChange(
            "the ranking changed since you reviewed it (a score, a result or an application); "
            "review it again before confirming"
        )
    if proposal.missing:
        raise ValidationFailed(
            "some applications have no final result yet",
            {"applications": proposal.missing},
        )
    if not proposal.lines:
        raise ValidationFailed("there is nothing to decide at this stage")
    applications = {
        a.id: a
        for a in db.session.scalars(
            select(Application).where(
                Application.id.in_([ln.row.application_id for ln in proposal.lines])
            )
        )
    }
    counts = {"selected": 0, "reserve": 0, "rejected": 0}
    for line in proposal.lines:
        application = applications[line.row.application_id]
        event, comment = _event(stage, line)
        transition(application, event, actor, comment=comment, commit=False)
        counts[line.outcome] += 1
    commit()
    return counts


def _event(stage: str, line: Line) -> tuple[str, str | None]:
    if line.outcome == "rejected":
        return "reject", "; ".join(line.reasons) or None
    if line.outcome == "reserve":
        return "reserve", f"reserve list, position {line.reserve_position}"
    return ("invite" if stage == "concept_note" else "select"), None


def summary(proposal: Proposal) -> dict[str, Any]:
    """Totals for the screen and the committee report."""

    def amount(outcome: str) -> Decimal:
        return sum((ln.row.requested for ln in proposal.lines if ln.outcome == outcome), Decimal(0))

    return {
        "selected": sum(1 for ln in proposal.lines if ln.outcome == "selected"),
        "reserve": sum(1 for ln in proposal.lines if ln.outcome == "reserve"),
        "rejected": sum(1 for ln in proposal.lines if ln.outcome == "rejected"),
        "selected_amount": amount("selected"),
        "reserve_amount": amount("reserve"),
    }
