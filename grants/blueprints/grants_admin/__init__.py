"""The programme manager's grant screens: every grant's state and money, awards, signatures,
payments, report reviews and addenda."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.grants import AwardForm, CommentForm, DecisionForm, PostForm

from ...clock import now
from ...extensions import db
from ...models import Amendment, Grant, Payment, Report, User
from ...policy import is_manager
from ...services import amendments, awards, payments, reporting
from ...services.errors import DomainError, NotFound, PermissionDenied
from ...services.transitions import allowed_transitions, history, transition
from ..account.session_auth import recent_login_required, recent_login_required_when

bp = Blueprint("grants_admin", __name__, url_prefix="/manage/grants")

# Grant events a manager fires from the grant page with an optional comment; sending and
# signing have their own use cases (they render and record the document).
PLAIN_EVENTS = ("suspend", "resume", "end_implementation", "close", "terminate", "lapse")
PAYMENT_EVENTS = ("approve", "pay", "reject")
REPORT_EVENTS = ("approve", "request_changes")


@bp.before_request
@login_required
def _managers_only() -> None:
    if not is_manager(current_user):
        raise PermissionDenied("programme managers only")


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _get(model: type, object_id: int):  # type: ignore[no-untyped-def]
    found = db.session.get(model, object_id)
    if found is None:
        raise NotFound("not found")
    return found


def _back(grant_id: int, message: str, category: str = "info") -> Response:
    flash(message, category)
    return redirect(url_for("grants_admin.grant", grant_id=grant_id))


def _refused(exc: DomainError, grant_id: int) -> Response:
    if exc.status in (403, 404):
        raise exc
    return _back(grant_id, " ".join(exc.reasons), "error")


@bp.get("/")
def index() -> str:
    grants = awards.all_grants()
    return render_template(
        "grants_admin/index.html",
        grants=grants,
        summaries={g.id: payments.summary(g) for g in grants},
        awaiting_award=awards.awaiting_award(),
        awaiting_review=reporting.awaiting_review(),
        overdue=reporting.overdue(),
        addenda=amendments.pending_addenda(),
        requested=list(db.session.scalars(
            db.select(Payment).where(Payment.state.in_(("requested", "approved")))
            .order_by(Payment.requested_at)
        )),
        award_form=AwardForm(formdata=None),
    )


@bp.post("/award/<int:application_id>")
@recent_login_required
def award(application_id: int) -> Response:
    application = awards.get_application(_user(), application_id)
    form = AwardForm()
    if not form.validate():
        flash("Check the amount and the start date.", "error")
        return redirect(url_for("grants_admin.index"))
    try:
        grant = awards.award(application, _user(), amount=form.amount.data,
                             start_date=form.start_date.data,
                             documents_verified=bool(form.documents_verified.data))
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(" ".join(exc.reasons), "error")
        return redirect(url_for("grants_admin.index"))
    return _back(grant.id, f"{application.label} awarded: {grant.label} created.")


@bp.get("/<int:grant_id>")
def grant(grant_id: int) -> str:
    found: Grant = _get(Grant, grant_id)
    user = _user()
    return render_template(
        "grants_admin/grant.html",
        grant=found,
        contract=found.current_contract,
        allowed=[t for t in allowed_transitions(found, user) if t.event in PLAIN_EVENTS],
        may_send=found.state == "contract_preparation",
        may_countersign=found.state == "awaiting_signature" and found.current_contract is not None
        and any(s.side == "grantee" for s in found.current_contract.signatures),
        summary=payments.summary(found),
        recoveries=payments.recovery_orders(found),
        cofinancing=awards.cofinancing(found),
        terms=amendments.current_terms(found),
        history=history(found),
        comment_form=CommentForm(formdata=None),
        decision_form=DecisionForm(formdata=None),
        post=PostForm(),
        today=now().date(),
    )


@bp.post("/<int:grant_id>/send")
def send(grant_id: int) -> Response:
    found = _get(Grant, grant_id)
    if not PostForm().validate():
        return _back(grant_id, "The form expired; try again.", "error")
    try:
        awards.send_for_signature(found, _user())
    except DomainError as exc:
        return _refused(exc, grant_id)
    return _back(grant_id, "Contract sent for signature.")


@bp.post("/<int:grant_id>/countersign")
def countersign(grant_id: int) -> Response:
    found = _get(Grant, grant_id)
    if not PostForm().validate():
        return _back(grant_id, "The form expired; try again.", "error")
    try:
        awards.countersign(found, _user(), address=request.remote_addr or "unknown")
    except DomainError as exc:
        return _refused(exc, grant_id)
    return _back(grant_id, "Contract signed: the grant is active, payments and reports planned.")


@bp.post("/<int:grant_id>/<any(" + ", ".join(PLAIN_EVENTS) + "):event>")
def fire(grant_id: int, event: str) -> Response:
    found = _get(Grant, grant_id)
    form = CommentForm()
    if not form.validate():
        return _back(grant_id, "The form expired; try again.", "error")
    try:
        transition(found, event, _user(), comment=form.comment.data)
    except DomainError as exc:
        return _refused(exc, grant_id)
    return _back(grant_id, f"{found.label}: {event.replace('_', ' ')} done.")


@bp.post("/payments/<int:payment_id>/<any(approve, pay, reject):event>")
@recent_login_required_when(lambda event, **_: event in ("approve", "pay"))
def payment_event(payment_id: int, event: str) -> Response:
    payment: Payment = _get(Payment, payment_id)
    form = CommentForm()
    if not form.validate():
        return _back(payment.grant_id, "The form expired; try again.", "error")
    try:
        transition(payment, event, _user(), comment=form.comment.data)
    except DomainError as exc:
        return _refused(exc, payment.grant_id)
    return _back(payment.grant_id, f"{payment.label}: {event} done.")


@bp.get("/reports/<int:report_id>")
def report(report_id: int) -> str:
    found: Report = _get(Report, report_id)
    return render_template(
        "grants_admin/report.html", report=found, grant=found.grant,
        rows=reporting.narrative_rows(found), financial=reporting.financial_rows(found),
        form=CommentForm(formdata=None), today=now().date(),
    )


@bp.post("/reports/<int:report_id>/<any(approve, request_changes):event>")
def report_event(report_id: int, event: str) -> Response:
    found: Report = _get(Report, report_id)
    form = CommentForm()
    if not form.validate():
        return _back(found.grant_id, "The form expired; try again.", "error")
    try:
        transition(found, event, _user(), comment=form.comment.data)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(" ".join(exc.reasons), "error")
        return redirect(url_for("grants_admin.report", report_id=report_id))
    return _back(found.grant_id, f"{found.label}: {event.replace('_', ' ')} done.")


@bp.post("/amendments/<int:amendment_id>")
def decide(amendment_id: int) -> Response:
    amendment: Amendment = _get(Amendment, amendment_id)
    form = DecisionForm()
    if not form.validate():
        return _back(amendment.grant_id, "The form expired; try again.", "error")
    try:
        amendments.decide_addendum(amendment, _user(), form.decision.data == "approve",
                                   form.comment.data or "")
    except DomainError as exc:
        return _refused(exc, amendment.grant_id)
    return _back(amendment.grant_id, f"Addendum {amendment.status}.")
