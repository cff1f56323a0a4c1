"""The evaluator's area: my assignments, the declaration, the scoring sheet, peers' scores.

Also the applicant's evaluation summary (PDF), released with the decision.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from forms.evaluation import SCALE_CHOICES, DeclarationForm, score_sheet_form
from reports.evaluation import evaluation_summary_pdf

from ...extensions import db
from ...models import Application, Assignment, User
from ...policy_evaluation import can_open_assignment
from ...services import evaluation
from ...services.errors import DomainError, NotFound
from ..helpers import state_text

bp = Blueprint("evaluation", __name__, url_prefix="/evaluation")

# Why a declaration or a submission was refused, as the scoring guard and the workflow
# say it (grants.services.guards, grants.services.transitions, workflows.engine): the
# reasons with a figure by their pattern, the fixed ones through the catalogue.
_NOT_SCORED = re.compile(r"criterion (?P<code>\S+) is not scored")
_NO_COMMENT = re.compile(r"criterion (?P<code>\S+) has no comment")
_WRONG_STATE = re.compile(r".+ is '(?P<state>\w+)' in the \w+ workflow: .+")
_FIXED_REASONS = {
    "the call has no grid for this stage": _l("the call has no grid for this stage"),
    "'recuse' needs a reason in the comment": _l(
        "say why in the statement: it is required when you declare a conflict"
    ),
}
# Peers are named "Evaluator A", "Evaluator B"... by the service.
_PEER = re.compile(r"Evaluator (?P<letter>\w+)")


def reason_text(reason: str) -> str:
    """One reason, in the page's language; one not known here is shown as written."""
    if found := _NOT_SCORED.fullmatch(reason):
        return _("criterion %(code)s is not scored", code=found["code"])
    if found := _NO_COMMENT.fullmatch(reason):
        return _("criterion %(code)s has no comment", code=found["code"])
    if found := _WRONG_STATE.fullmatch(reason):
        return _("this assignment is %(state)s: this cannot be done any more",
                 state=state_text(found["state"]))
    return str(_FIXED_REASONS.get(reason, reason))


def peer_name(label: str) -> str:
    """A peer's anonymous name in the page's language."""
    found = _PEER.fullmatch(label)
    return _("Evaluator %(letter)s", letter=found["letter"]) if found else label


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _assignment(assignment_id: int) -> Assignment:
    user = _user()
    assignment = evaluation.assignment_for(assignment_id, user)
    if not can_open_assignment(user, assignment):
        raise NotFound("no such assignment")
    return assignment


@bp.get("/")
@login_required
def dashboard() -> str:
    user = _user()
    if not user.has_role("evaluator"):
        abort(403)
    assignments = evaluation.evaluator_assignments(user)
    return render_template(
        "evaluation/dashboard.html",
        assignments=assignments,
        progress={a.id: evaluation.progress_of(a) for a in assignments},
        titles={a.id: evaluation.display_title(a.application) for a in assignments},
    )


@bp.get("/assignments/<int:assignment_id>")
@login_required
def assignment(assignment_id: int) -> str:
    user = _user()
    item = _assignment(assignment_id)
    context: dict[str, object] = {"assignment": item, "call": item.application.call,
                                  "title": evaluation.display_title(item.application),
                                  "scale": SCALE_CHOICES}
    if item.evaluator_id != user.id:  # a manager looking: the sheet, read-only
        return render_template("evaluation/assignment.html", **context, mine=False)
    if item.state == "invited":
        return render_template("evaluation/assignment.html", **context, mine=True,
                               declaration=DeclarationForm())
    sheet = evaluation.scoring_sheet(item, user)
    data: dict[str, object] = {}
    for _section, rows in sheet:
        for row in rows:
            data[f"score_{row.criterion.id}"] = row.score
            data[f"comment_{row.criterion.id}"] = row.comment
    ids = [row.criterion.id for _s, rows in sheet for row in rows]
    peers = evaluation.peer_evaluations(item, user) if item.state == "submitted" else None
    return render_template(
        "evaluation/assignment.html",
        **context,
        mine=True,
        content=evaluation.application_content(item, user),
        sheet=sheet,
        form=score_sheet_form(ids, data) if item.state in ("accepted", "reopened") else None,
        peers=peers,
        peer_names={p.label: peer_name(p.label) for p in peers or []},
        progress=evaluation.progress_of(item),
    )


@bp.post("/assignments/<int:assignment_id>/declaration")
@login_required
def declare(assignment_id: int) -> Response:
    user = _user()
    item = _assignment(assignment_id)
    form = DeclarationForm()
    if not form.validate_on_submit():
        abort(400)
    conflict = form.conflict.data == "yes"
    try:
        evaluation.declare(item, user, has_conflict=conflict, statement=form.statement.data)
    except DomainError as exc:
        if exc.status >= 500 or exc.status in (403, 404):
            raise
        flash(" ".join(reason_text(r) for r in exc.reasons), "error")
        return redirect(url_for(".assignment", assignment_id=assignment_id))
    if conflict:
        flash(_("Your conflict of interest is recorded; another evaluator replaces you."), "info")
        return redirect(url_for(".dashboard"))
    flash(_("Declaration recorded. You may now read and score the application."), "info")
    return redirect(url_for(".assignment", assignment_id=assignment_id))


@bp.post("/assignments/<int:assignment_id>/scores")
@login_required
def scores(assignment_id: int) -> Response:
    user = _user()
    item = _assignment(assignment_id)
    sheet = evaluation.scoring_sheet(item, user)
    ids = [row.criterion.id for _s, rows in sheet for row in rows]
    form = score_sheet_form(ids)
    if not form.validate_on_submit():
        flash(_("Scores are whole numbers from 1 to 5."), "error")
        return redirect(url_for(".assignment", assignment_id=assignment_id))
    evaluation.save_scores(item, form.entries(ids), user)
    if form.submit_sheet.data:
        try:
            evaluation.submit(item, user)
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            reasons = "; ".join(reason_text(r) for r in exc.reasons)
            flash(_("Not submitted: %(reasons)s", reasons=reasons), "error")
            return redirect(url_for(".assignment", assignment_id=assignment_id))
        flash(_("Your evaluation is submitted."), "info")
    else:
        flash(_("Draft saved."), "info")
    return redirect(url_for(".assignment", assignment_id=assignment_id))


@bp.get("/summaries/<int:application_id>/<any(concept_note, full_application):stage>.pdf")
@login_required
def summary(application_id: int, stage: str) -> Response:
    application = db.session.get(Application, application_id)
    if application is None:
        raise NotFound("no such application")
    user = _user()
    # Managers keep the committee's copy; applicants read theirs in their own language.
    language = None if user.has_role("programme_manager") else (user.language or None)
    pdf = evaluation_summary_pdf(application, stage, user, language)
    filename = f"evaluation-summary-{application.reference}-{stage}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
