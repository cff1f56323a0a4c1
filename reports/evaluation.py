"""Evaluation documents: the committee report of a call's stage and the applicant's summary.

The committee report (method, panel, dates, scores, ranking, decisions, reserve list)
is for the evaluation committee and the programme; in blind mode it names
applications by reference and title only, as the panel saw them. The applicant's
summary gives the scores per section and the evaluators' comments, never their
names, and is released with the stage's decision; it is written in the reader's
language (English or French) when one is asked for. The call's own texts (section
and criterion names) and what evaluators and managers wrote stay as written.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from grants.clock import now
from grants.extensions import db
from grants.labels import FRENCH_LABELS
from grants.models import Application, Assignment, Call, EvaluationResult, User
from grants.policy_evaluation import can_read_summary
from grants.services import evaluation, selection
from grants.services.actors import Actor
from grants.services.errors import NotFound, PermissionDenied
from reports.pdf import render_pdf

STAGE_TITLES = {"concept_note": "Concept notes", "full_application": "Full applications"}
OUTCOME_TITLES = {
    "concept_note": {"selected": "pre-selected (invited)", "reserve": "reserve",
                     "rejected": "rejected"},
    "full_application": {"selected": "provisionally selected", "reserve": "reserve list",
                         "rejected": "rejected"},
}

# The applicant's summary, in each language it is written in (formal French).
SUMMARY_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Evaluation summary",
        "concept_note": "Concept notes",
        "full_application": "Full applications",
        "application": "Application",
        "applicant": "Applicant",
        "action_title": "Title",
        "decision": "Decision",
        "issued": "Issued",
        "scores": "Scores",
        "evaluations_one": "{n} independent evaluation",
        "evaluations_many": "{n} independent evaluations",
        "mean": "the score is the mean of the evaluations.",
        "consensus": "the score is a consensus of the evaluation committee.",
        "section": "Section",
        "score": "Score",
        "maximum": "Maximum",
        "minimum": "Minimum",
        "total": "Total",
        "threshold": "threshold",
        "passes": "The application reached the thresholds.",
        "fails": "The application did not reach every threshold.",
        "comments": "Comments of the evaluators",
        "no_comment": "No comment.",
        "colon": ":",
        "semicolon": ";",
    },
    "fr": {
        "title": "Résumé de l'évaluation",
        "concept_note": "Notes succinctes",
        "full_application": "Demandes complètes",
        "application": "Demande",
        "applicant": "Demandeur",
        "action_title": "Intitulé",
        "decision": "Décision",
        "issued": "Date d'émission",
        "scores": "Notes",
        "evaluations_one": "{n} évaluation indépendante",
        "evaluations_many": "{n} évaluations indépendantes",
        "mean": "la note est la moyenne des évaluations.",
        "consensus": "la note résulte d'un consensus du comité d'évaluation.",
        "section": "Section",
        "score": "Note",
        "maximum": "Maximum",
        "minimum": "Minimum",
        "total": "Total",
        "threshold": "seuil",
        "passes": "La demande a atteint les seuils requis.",
        "fails": "La demande n'a pas atteint tous les seuils requis.",
        "comments": "Commentaires des évaluateurs",
        "no_comment": "Aucun commentaire.",
        # French puts a no-break space before these signs.
        "colon": "\u00a0:",
        "semicolon": "\u00a0;",
    },
}


def _evaluations(labels: dict[str, str], count: int, language: str) -> str:
    """"2 independent evaluations" / "1 évaluation indépendante" (French: 0 and 1 singular)."""
    single = count < 2 if language == "fr" else count == 1
    return labels["evaluations_one" if single else "evaluations_many"].format(n=count)


def _document(title: str, moment: datetime) -> dict[str, str]:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"title": title, "author": current_app.config.get("PROGRAMME_NAME", "MMD"),
            "created": stamp, "modified": stamp}


def _grid_context(call: Call, stage: str) -> dict[str, Any]:
    grid = call.grid_for(stage)
    if grid is None:
        raise NotFound("the call has no grid for this stage")
    return {
        "threshold": grid.total_threshold,
        "maximum": grid.max_total,
        "sections": [
            {
                "code": s.code,
                "title": s.title,
                "maximum": s.max_score,
                "minimum": s.minimum,
                "carried": evaluation.is_carried(s),
                "criteria": [
                    {"id": c.id, "code": c.code, "title": c.title, "weight": c.weight}
                    for c in s.criteria
                ],
            }
            for s in grid.sections
        ],
    }


def committee_report_context(call: Call, stage: str, actor: Actor) -> dict[str, Any]:
    if not isinstance(actor, User) or not actor.has_role("programme_manager"):
        raise PermissionDenied("programme managers only")
    moment = now()
    proposal = selection.build_proposal(call, stage)
    blind = call.blind_review
    panel_rows = db.session.execute(
        select(User.name, Assignment.state, func.count(Assignment.id),
               func.min(Assignment.assigned_at), func.max(Assignment.submitted_at))
        .join(Assignment, Assignment.evaluator_id == User.id)
        .join(Application, Application.id == Assignment.application_id)
        .where(Application.call_id == call.id, Assignment.stage == stage)
        .group_by(User.name, Assignment.state)
        .order_by(User.name)
    ).all()
    panel: dict[str, dict[str, int]] = {}
    first_assigned: datetime | None = None
    last_submitted: datetime | None = None
    for name, state, count, assigned, submitted in panel_rows:
        panel.setdefault(name, {})[state] = count
        if assigned and (first_assigned is None or assigned < first_assigned):
            first_assigned = assigned
        if submitted and (last_submitted is None or submitted > last_submitted):
            last_submitted = submitted
    for member in evaluation.panel_figures(call, stage).evaluators:
        panel.setdefault(member.evaluator.name, {})
    justifications = {
        r.application_id: r.justification
        for r in db.session.scalars(
            select(EvaluationResult)
            .join(Application, Application.id == EvaluationResult.application_id)
            .where(Application.call_id == call.id, EvaluationResult.stage == stage,
                   EvaluationResult.method == "consensus")
        )
    }
    titles = OUTCOME_TITLES[stage]
    lines = [
        {
            "rank": ln.rank,
            "reference": ln.row.reference,
            "organisation": None if blind else ln.row.organisation,
            "title": ln.row.title,
            "requested": ln.row.requested,
            "total": ln.row.total,
            "sections": ln.row.sections,
            "evaluations": ln.row.evaluations,
            "method": ln.row.method,
            "justification": justifications.get(ln.row.application_id),
            "outcome": titles[ln.outcome],
            "reasons": list(ln.reasons),
            "reserve_position": ln.reserve_position,
        }
        for ln in proposal.lines
    ]
    if blind:
        redact = {
            a.id: evaluation.display_title(a)
            for a in db.session.scalars(
                select(Application)
                .where(Application.id.in_([ln.row.application_id for ln in proposal.lines]))
                .options(selectinload(Application.organisation),
                         selectinload(Application.partners))
            )
        }
        for line, source in zip(lines, proposal.lines, strict=True):
            line["title"] = redact[source.row.application_id]
    return {
        "language": "en",
        "document": _document(f"Evaluation committee report — {call.code}", moment),
        "call": {"code": call.code, "title": call.title, "currency": call.currency,
                 "budget": call.budget, "deadline": call.local(call.deadline_at),
                 "time_zone": call.time_zone},
        "stage": stage,
        "stage_title": STAGE_TITLES[stage],
        "blind": blind,
        "grid": _grid_context(call, stage),
        "evaluators_per_application": max(2, call.evaluators_per_application),
        "divergence_percent": call.divergence_share * 100,
        "preselection_percent": call.preselection_ratio * 100,
        "panel": [{"name": name, "counts": counts} for name, counts in sorted(panel.items())],
        "first_assigned": call.local(first_assigned),
        "last_submitted": call.local(last_submitted),
        "issued": call.local(moment),
        "lines": lines,
        "missing": proposal.missing,
        "summary": selection.summary(proposal),
        "budgets": [{"lot": lot, "amount": amount} for lot, amount in proposal.budgets.items()],
        "reserve": [ln for ln in lines if ln["reserve_position"] is not None],
    }


def committee_report_pdf(call: Call, stage: str, actor: Actor) -> bytes:
    return render_pdf("committee_report.html", committee_report_context(call, stage, actor))


def evaluation_summary_context(application: Application, stage: str, actor: Actor,
                               language: str | None = None) -> dict[str, Any]:
    """The summary's content, in `language` ("en" or "fr") if given: the reader's.

    Without a language (the committee's and managers' copy) the text stays English,
    with the figures in the application's language and the date as ISO, as before.
    """
    decision = can_read_summary(actor, application, stage)
    if not decision:
        raise NotFound(f"no evaluation summary: {decision.reason}")
    result = db.session.scalar(
        select(EvaluationResult).where(
            EvaluationResult.application_id == application.id, EvaluationResult.stage == stage
        )
    )
    if result is None:
        raise NotFound("this application has no evaluation result at this stage")
    call = application.call
    grid = _grid_context(call, stage)
    evaluations = db.session.scalars(
        select(Assignment)
        .where(Assignment.application_id == application.id, Assignment.stage == stage,
               Assignment.state == "submitted")
        .options(selectinload(Assignment.scores))
        .order_by(Assignment.id)
    ).all()
    comments: dict[int, list[str]] = {}
    for assignment in evaluations:
        for score in assignment.scores:
            if score.comment.strip():
                comments.setdefault(score.criterion_id, []).append(score.comment.strip())
    moment = application.decided_at or now()
    issued = call.local(moment)
    localised = language is not None
    # The text's language; the figures follow `language`, the application's when unasked.
    text = (language if language in SUMMARY_LABELS else "en") if localised else "en"
    language = text if localised else application.language
    labels = SUMMARY_LABELS[text]
    state = (FRENCH_LABELS.get(application.state, application.state) if text == "fr"
             else application.state.replace("_", " "))
    return {
        "language": language,
        "labels": labels,
        "localised": localised,
        "document": _document(f"{labels['title']} — {application.reference}", moment),
        "application": {"reference": application.reference, "title": application.title,
                        "organisation": application.organisation.name,
                        "state": state,
                        "decision_reason": application.decision_reason},
        "call": {"code": call.code, "title": call.title},
        "stage_title": labels[stage],
        "grid": grid,
        "scores": {code: Decimal(str(v)) for code, v in result.section_scores.items()},
        "total": result.total,
        "passes": result.passes,
        "method": result.method,
        "justification": result.justification,
        "evaluations": len(evaluations),
        "evaluations_text": _evaluations(labels, len(evaluations), text),
        "comments": comments,
        "issued": issued,
    }


def evaluation_summary_pdf(application: Application, stage: str, actor: Actor,
                           language: str | None = None) -> bytes:
    """The summary as PDF, in `language` if given (see evaluation_summary_context)."""
    return render_pdf("evaluation_summary.html",
                      evaluation_summary_context(application, stage, actor, language))
