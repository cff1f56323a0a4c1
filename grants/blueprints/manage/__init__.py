"""The programme manager's evaluation screens: grids, opening check, panel, results, ranking."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.call_documents import KIND_CHOICES, CallDocumentForm
from forms.manage import (
    ActionForm,
    AutoAssignForm,
    ConfirmSelectionForm,
    CriterionForm,
    ManualAssignForm,
    PanelAddForm,
    RemoveAssignmentForm,
    ReopenForm,
    SectionForm,
    admin_check_form,
    consensus_form,
    grid_settings_form,
)
from reports.evaluation import committee_report_pdf

from ...extensions import db
from ...models import Application, Assignment, Call, User
from ...policy import is_manager
from ...services import admin_check, call_documents, evaluation, panels, selection
from ...services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from ...services.transitions import transition
from ..account.session_auth import recent_login_required

bp = Blueprint("manage", __name__, url_prefix="/manage")
STAGE = "<any(concept_note, full_application):stage>"


@bp.before_request
@login_required
def _managers_only() -> None:
    if not is_manager(current_user):
        raise PermissionDenied("programme managers only")


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _call(code: str) -> Call:
    call = db.session.scalar(select(Call).where(Call.code == code))
    if call is None:
        raise NotFound("no such call")
    return call


def _application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None:
        raise NotFound("no such application")
    return application


def _posted_id(value: str | None) -> int | None:
    """An id typed into a form: plain digits the database's integers can hold, else None."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()) or int(value) > 2**31 - 1:
        return None
    return int(value)


def _stages(call: Call) -> list[str]:
    return ["concept_note", "full_application"] if call.is_two_stage else ["full_application"]


def _done(message: str, endpoint: str, **values: object) -> Response:
    flash(message, "info")
    return redirect(url_for(endpoint, **values))


def _refused(exc: DomainError, endpoint: str, **values: object) -> Response:
    """Show a refusal (invalid input, a guard, a stale page) on the page it came from."""
    if exc.status in (403, 404):
        raise exc
    flash(" ".join(exc.reasons), "error")
    return redirect(url_for(endpoint, **values))


# --------------------------------------------------------------------------
# Overview: progress and score distribution
# --------------------------------------------------------------------------


@bp.get(f"/calls/<code>/evaluation/{STAGE}")
def overview(code: str, stage: str) -> str:
    call = _call(code)
    return render_template(
        "manage/overview.html", call=call, stage=stage, stages=_stages(call),
        figures=evaluation.panel_figures(call, stage),
    )


# --------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------


@bp.get(f"/calls/<code>/grid/{STAGE}")
def grid(code: str, stage: str) -> str:
    call = _call(code)
    current = call.grid_for(stage)
    settings = section_form = criterion_form = None
    if current is not None:
        data: dict[str, object] = {"total_threshold": current.total_threshold}
        data.update({f"minimum_{s.code}": s.minimum for s in current.sections})
        settings = grid_settings_form([s.code for s in current.sections], data)
        section_form = SectionForm(formdata=None)
        criterion_form = CriterionForm(formdata=None)
        criterion_form.section_id.choices = [(s.id, s.title) for s in current.sections]
    return render_template(
        "manage/grid.html", call=call, stage=stage, stages=_stages(call), grid=current,
        settings=settings, section_form=section_form, criterion_form=criterion_form,
        action=ActionForm(), scale=evaluation.SCALE,
        carried={s.id: evaluation.is_carried(s) for s in (current.sections if current else [])},
    )


@bp.post(f"/calls/<code>/grid/{STAGE}/default")
def grid_default(code: str, stage: str) -> Response:
    call = _call(code)
    if not ActionForm().validate_on_submit():
        raise ValidationFailed("the form expired; try again")
    try:
        evaluation.use_default_grid(call, stage, _user())
    except DomainError as exc:
        return _refused(exc, ".grid", code=code, stage=stage)
    return _done("The default grid is in place.", ".grid", code=code, stage=stage)


@bp.post(f"/calls/<code>/grid/{STAGE}/settings")
def grid_settings(code: str, stage: str) -> Response:
    call = _call(code)
    current = call.grid_for(stage)
    if current is None:
        raise NotFound("no grid")
    codes = [s.code for s in current.sections]
    form = grid_settings_form(codes, {})
    if not form.validate_on_submit():
        flash("Check the threshold and minimums: numbers, zero or more.", "error")
        return redirect(url_for(".grid", code=code, stage=stage))
    try:
        evaluation.update_grid(call, stage, _user(), form.total_threshold.data,
                               {c: form[f"minimum_{c}"].data for c in codes})
    except DomainError as exc:
        return _refused(exc, ".grid", code=code, stage=stage)
    return _done("Threshold and minimums saved.", ".grid", code=code, stage=stage)


@bp.post(f"/calls/<code>/grid/{STAGE}/sections")
def grid_section(code: str, stage: str) -> Response:
    call = _call(code)
    form = SectionForm()
    if not form.validate_on_submit():
        flash("A section needs a code and a title.", "error")
        return redirect(url_for(".grid", code=code, stage=stage))
    try:
        evaluation.add_section(call, stage, _user(), form.code.data, form.title.data,
                               form.minimum.data)
    except DomainError as exc:
        return _refused(exc, ".grid", code=code, stage=stage)
    return _done("Section added.", ".grid", code=code, stage=stage)


@bp.post(f"/calls/<code>/grid/{STAGE}/sections/<int:section_id>/delete")
def grid_section_delete(code: str, stage: str, section_id: int) -> Response:
    call = _call(code)
    if not ActionForm().validate_on_submit():
        raise ValidationFailed("the form expired; try again")
    try:
        evaluation.delete_section(call, stage, _user(), section_id)
    except DomainError as exc:
        return _refused(exc, ".grid", code=code, stage=stage)
    return _done("Section deleted.", ".grid", code=code, stage=stage)


@bp.post(f"/calls/<code>/grid/{STAGE}/criteria")
def grid_criterion(code: str, stage: str) -> Response:
    call = _call(code)
    current = call.grid_for(stage)
    if current is None:
        raise NotFound("no grid")
    form = CriterionForm()
    form.section_id.choices = [(s.id, s.title) for s in current.sections]
    criterion_id = _posted_id(form.criterion_id.data)
    if not form.validate_on_submit() or (form.criterion_id.data and criterion_id is None):
        flash("A criterion needs a section, a code and a title.", "error")
        return redirect(url_for(".grid", code=code, stage=stage))
    try:
        evaluation.save_criterion(
            call, stage, _user(), section_id=form.section_id.data, code=form.code.data,
            title=form.title.data, guidance=form.guidance.data or "", weight=form.weight.data,
            criterion_id=criterion_id,
        )
    except DomainError as exc:
        return _refused(exc, ".grid", code=code, stage=stage)
    return _done("Criterion saved.", ".grid", code=code, stage=stage)


@bp.post(f"/calls/<code>/grid/{STAGE}/criteria/<int:criterion_id>/delete")
def grid_criterion_delete(code: str, stage: str, criterion_id: int) -> Response:
    call = _call(code)
    if not ActionForm().validate_on_submit():
        raise ValidationFailed("the form expired; try again")
    try:
        evaluation.delete_criterion(call, stage, _user(), criterion_id)
    except DomainError as exc:
        return _refused(exc, ".grid", code=code, stage=stage)
    return _done("Criterion deleted.", ".grid", code=code, stage=stage)


# --------------------------------------------------------------------------
# Opening and administrative check
# --------------------------------------------------------------------------


@bp.get("/calls/<code>/admin-check")
def admin_checks(code: str) -> str:
    call = _call(code)
    waiting = db.session.scalars(
        select(Application)
        .where(Application.call_id == call.id,
               Application.state.in_(tuple(admin_check.EVENTS)))
        .order_by(Application.reference)
    ).all()
    return render_template("manage/admin_checks.html", call=call, stages=_stages(call),
                           applications=waiting)


@bp.route("/applications/<int:application_id>/admin-check", methods=["GET", "POST"])
def admin_check_form_view(application_id: int) -> Response | str:
    application = _application(application_id)
    user = _user()
    recorded = admin_check.checklist(application, user)
    data: dict[str, object] = {}
    for item, check in recorded.items():
        data[f"result_{item}"] = "pass" if check.passed else "fail"
        data[f"reason_{item}"] = check.reason or ""
    form = admin_check_form(admin_check.ITEM_LABELS, data)
    if form.validate_on_submit():
        results = {}
        for item in admin_check.ITEM_LABELS:
            answer = form[f"result_{item}"].data
            if answer in ("pass", "fail"):
                results[item] = admin_check.ItemResult(answer == "pass",
                                                       form[f"reason_{item}"].data)
        try:
            event = admin_check.record(application, results, user)
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            flash(exc.message, "error")
            errors = getattr(exc, "fields", {})
            return render_template("manage/admin_check.html", application=application,
                                   form=form, labels=admin_check.ITEM_LABELS, errors=errors,
                                   reasons=exc.reasons), exc.status  # type: ignore[return-value]
        word = "admitted to evaluation" if event.startswith("admit") else "rejected"
        return _done(f"{application.label} {word}.", ".admin_checks", code=application.call.code)
    return render_template("manage/admin_check.html", application=application, form=form,
                           labels=admin_check.ITEM_LABELS, errors={}, reasons=[])


# --------------------------------------------------------------------------
# Panel and assignments
# --------------------------------------------------------------------------


@bp.get(f"/calls/<code>/panel/{STAGE}")
def panel(code: str, stage: str) -> str:
    call = _call(code)
    members = panels.panel(call)
    add = PanelAddForm(formdata=None)
    add.evaluator_id.choices = [(u.id, u.name) for u in panels.candidate_evaluators(call)]
    manual = ManualAssignForm(formdata=None)
    manual.application_id.choices = [
        (a.id, a.reference or a.label)
        for a in db.session.scalars(
            select(Application)
            .where(Application.call_id == call.id,
                   Application.state.in_(panels.evaluating_states(call, stage)))
            .order_by(Application.id)
        )
    ]
    manual.evaluator_id.choices = [(u.id, u.name) for u in members]
    return render_template(
        "manage/panel.html", call=call, stage=stage, stages=_stages(call), members=members,
        add=add, auto=AutoAssignForm(formdata=None), manual=manual,
        assignments=panels.assignments_of(call, stage), action=ActionForm(),
        remove=RemoveAssignmentForm(formdata=None), reopen=ReopenForm(formdata=None),
    )


@bp.post(f"/calls/<code>/panel/{STAGE}/members")
def panel_add(code: str, stage: str) -> Response:
    call = _call(code)
    form = PanelAddForm()
    form.evaluator_id.choices = [(u.id, u.name) for u in panels.candidate_evaluators(call)]
    if not form.validate_on_submit():
        flash("Choose an evaluator.", "error")
        return redirect(url_for(".panel", code=code, stage=stage))
    evaluator = db.session.get(User, form.evaluator_id.data)
    if evaluator is None:
        raise NotFound("no such evaluator")
    try:
        panels.add_to_panel(call, evaluator, _user())
    except DomainError as exc:
        return _refused(exc, ".panel", code=code, stage=stage)
    return _done(f"{evaluator.name} joined the panel.", ".panel", code=code, stage=stage)


@bp.post(f"/calls/<code>/panel/{STAGE}/members/<int:user_id>/delete")
def panel_remove(code: str, stage: str, user_id: int) -> Response:
    call = _call(code)
    if not ActionForm().validate_on_submit():
        raise ValidationFailed("the form expired; try again")
    evaluator = db.session.get(User, user_id)
    if evaluator is None:
        raise NotFound("no such evaluator")
    try:
        panels.remove_from_panel(call, evaluator, _user())
    except DomainError as exc:
        return _refused(exc, ".panel", code=code, stage=stage)
    return _done(f"{evaluator.name} left the panel.", ".panel", code=code, stage=stage)


@bp.post(f"/calls/<code>/panel/{STAGE}/auto")
def auto_assign(code: str, stage: str) -> Response:
    call = _call(code)
    form = AutoAssignForm()
    if not form.validate_on_submit():
        flash("The due date is not a date.", "error")
        return redirect(url_for(".panel", code=code, stage=stage))
    due = None
    if form.due_date.data:
        due = datetime.combine(form.due_date.data, time(17, 0), tzinfo=call.zone)
    try:
        round_ = panels.auto_assign(call, stage, _user(), due_at=due)
    except DomainError as exc:
        return _refused(exc, ".panel", code=code, stage=stage)
    message = f"{len(round_.created)} assignment(s) created."
    if round_.short:
        message += " Not enough eligible evaluators for: " + ", ".join(
            f"{label} ({n} missing)" for label, n in round_.short.items()
        )
    return _done(message, ".panel", code=code, stage=stage)


@bp.post(f"/calls/<code>/panel/{STAGE}/assign")
def assign(code: str, stage: str) -> Response:
    call = _call(code)
    form = ManualAssignForm()
    posted = _posted_id(request.form.get("application_id"))
    form.application_id.choices = [(posted, "")] if posted is not None else []
    form.evaluator_id.choices = [(u.id, u.name) for u in panels.panel(call)]
    if not form.validate_on_submit():
        flash("Choose an application and an evaluator, and give a reason.", "error")
        return redirect(url_for(".panel", code=code, stage=stage))
    application = _application(form.application_id.data)
    evaluator = db.session.get(User, form.evaluator_id.data)
    if evaluator is None or application.call_id != call.id:
        raise NotFound("no such application or evaluator")
    try:
        panels.assign_manually(application, evaluator, _user(), form.comment.data, stage=stage)
    except DomainError as exc:
        return _refused(exc, ".panel", code=code, stage=stage)
    return _done(f"{evaluator.name} assigned to {application.label}.", ".panel", code=code,
                 stage=stage)


@bp.post("/assignments/<int:assignment_id>/remove")
def remove_assignment(assignment_id: int) -> Response:
    item = db.session.get(Assignment, assignment_id)
    if item is None:
        raise NotFound("no such assignment")
    code, stage = item.application.call.code, item.stage
    form = RemoveAssignmentForm()
    if not form.validate_on_submit():
        flash("Give the reason for removing the evaluator.", "error")
        return redirect(url_for(".panel", code=code, stage=stage))
    try:
        replacement = panels.remove_assignment(item, _user(), form.comment.data,
                                               replace=bool(form.replace.data))
    except DomainError as exc:
        return _refused(exc, ".panel", code=code, stage=stage)
    message = "Evaluator removed."
    if form.replace.data:
        message += (f" Replaced by {replacement.evaluator.name}." if replacement
                    else " No eligible replacement is left on the panel.")
    return _done(message, ".panel", code=code, stage=stage)


@bp.post("/assignments/<int:assignment_id>/reopen")
def reopen_assignment(assignment_id: int) -> Response:
    item = db.session.get(Assignment, assignment_id)
    if item is None:
        raise NotFound("no such assignment")
    code, stage = item.application.call.code, item.stage
    form = ReopenForm()
    if not form.validate_on_submit():
        flash("Give the reason for reopening the evaluation.", "error")
        return redirect(url_for(".panel", code=code, stage=stage))
    try:
        transition(item, "reopen", _user(), comment=form.comment.data)
    except DomainError as exc:
        return _refused(exc, ".panel", code=code, stage=stage)
    return _done("Evaluation reopened.", ".panel", code=code, stage=stage)


# --------------------------------------------------------------------------
# Results and consensus
# --------------------------------------------------------------------------


@bp.get(f"/calls/<code>/results/{STAGE}")
def results(code: str, stage: str) -> str:
    call = _call(code)
    return render_template(
        "manage/results.html", call=call, stage=stage, stages=_stages(call),
        results=evaluation.results_of(call, stage), grid=call.grid_for(stage),
        action=ActionForm(),
    )


@bp.post(f"/calls/<code>/results/{STAGE}")
def compute_results(code: str, stage: str) -> Response:
    call = _call(code)
    if not ActionForm().validate_on_submit():
        raise ValidationFailed("the form expired; try again")
    round_ = evaluation.compute_results(call, stage, _user())
    message = f"{round_.computed} result(s) computed."
    if round_.waiting:
        message += " Waiting: " + "; ".join(f"{k}: {v}" for k, v in round_.waiting.items())
    return _done(message, ".results", code=code, stage=stage)


@bp.route(f"/applications/<int:application_id>/consensus/{STAGE}", methods=["GET", "POST"])
def consensus(application_id: int, stage: str) -> Response | str:
    application = _application(application_id)
    call = application.call
    current = call.grid_for(stage)
    if current is None:
        raise NotFound("no grid")
    codes = [s.code for s in current.sections if not evaluation.is_carried(s)]
    form = consensus_form(codes, {})
    if form.validate_on_submit():
        try:
            evaluation.record_consensus(
                application, stage, _user(), {c: form[f"section_{c}"].data for c in codes},
                form.justification.data,
            )
        except DomainError as exc:
            return _refused(exc, ".consensus", application_id=application_id, stage=stage)
        return _done("Consensus score recorded.", ".results", code=call.code, stage=stage)
    return render_template("manage/consensus.html", application=application, stage=stage,
                           form=form, codes=codes, grid=current)


# --------------------------------------------------------------------------
# Ranking, selection and the committee report
# --------------------------------------------------------------------------


@bp.get(f"/calls/<code>/ranking/{STAGE}")
def ranking(code: str, stage: str) -> str:
    call = _call(code)
    proposal = selection.build_proposal(call, stage)
    form = ConfirmSelectionForm(formdata=None, fingerprint=proposal.fingerprint)
    return render_template(
        "manage/ranking.html", call=call, stage=stage, stages=_stages(call), proposal=proposal,
        summary=selection.summary(proposal), form=form, grid=call.grid_for(stage),
    )


@bp.post(f"/calls/<code>/ranking/{STAGE}")
@recent_login_required
def confirm(code: str, stage: str) -> Response:
    call = _call(code)
    form = ConfirmSelectionForm()
    if not form.validate_on_submit():
        raise ValidationFailed("the form expired; review the ranking again")
    try:
        counts = selection.confirm(call, stage, _user(), form.fingerprint.data)
    except DomainError as exc:
        return _refused(exc, ".ranking", code=code, stage=stage)
    return _done(
        f"Decisions recorded: {counts['selected']} selected, {counts['reserve']} on the reserve "
        f"list, {counts['rejected']} rejected.", ".ranking", code=code, stage=stage,
    )


@bp.get(f"/calls/<code>/committee-report/{STAGE}.pdf")
def committee_report(code: str, stage: str) -> Response:
    call = _call(code)
    pdf = committee_report_pdf(call, stage, _user())
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="committee-report-{code}-{stage}.pdf"'
    })


# --------------------------------------------------------------------------
# Documents published with the call
# --------------------------------------------------------------------------


@bp.route("/calls/<code>/documents", methods=["GET", "POST"])
def documents(code: str) -> Response | tuple[str, int]:
    call = _call(code)
    form = CallDocumentForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            upload = request.files["file"]
            try:
                call_documents.add_document(
                    _user(), call, title=form.title.data or "", language=form.language.data,
                    kind=form.kind.data, filename=upload.filename or "", stream=upload.stream,
                )
            except ValidationFailed as exc:
                form.file.errors = [exc.message]
                status = 422
            else:
                return _done("The document is published with the call.", ".documents", code=code)
        else:
            status = 422
    return render_template(
        "manage/documents.html", call=call, stages=_stages(call), form=form, action=ActionForm(),
        documents=call_documents.documents(call), public=call_documents.is_public(call),
        kinds=dict(KIND_CHOICES),
    ), status


@bp.post("/calls/<code>/documents/<int:document_id>/delete")
def document_delete(code: str, document_id: int) -> Response:
    call = _call(code)
    if not ActionForm().validate_on_submit():
        raise ValidationFailed("the form expired; try again")
    call_documents.remove_document(_user(), call, document_id)
    return _done("The document is removed from the call.", ".documents", code=code)


@bp.post("/calls/<code>/documents/guidelines")
def documents_guidelines(code: str) -> Response:
    """Generate the guidelines from the call's own settings, in English and French."""
    call = _call(code)
    if not ActionForm().validate_on_submit():
        raise ValidationFailed("the form expired; try again")
    try:
        call_documents.publish_guidelines(_user(), call)
    except DomainError as exc:
        return _refused(exc, ".documents", code=code)
    return _done("The guidelines are generated in English and French and published with the "
                 "call.", ".documents", code=code)
