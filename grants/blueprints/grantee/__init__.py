"""The grantee's screens: contracts to sign, payments, reports due, amendment requests, letters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.grants import (
    AddendumForm,
    NotificationForm,
    PostForm,
    SignForm,
    UploadSignedForm,
    report_form,
)

from ...clock import now
from ...extensions import db
from ...labels import object_in_text, object_name
from ...models import BUDGET_HEADINGS, Application, Grant, Payment, Report, User
from ...policy import can_view, can_view_as_applicant, has_workflow_role
from ...services import amendments, awards, letters, payments, reporting
from ...services.contracts import render_contract
from ...services.errors import DomainError, NotFound
from ..helpers import state_text

bp = Blueprint("grantee", __name__, url_prefix="/grants")


@bp.before_request
@login_required
def _logged_in() -> None:
    return None


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _language() -> str:
    return str(get_locale() or "en")


def _named(label: str) -> str:
    """A grant's, payment's or report's label in the reader's language."""
    return object_name(label, _language())


def _address() -> str:
    return request.remote_addr or "unknown"


def _grant(grant_id: int) -> Grant:
    return awards.get_grant(_user(), grant_id)


def _owned(model: type[Payment] | type[Report], object_id: int) -> Any:
    found = db.session.get(model, object_id)
    if found is None or not can_view(_user(), found):
        raise NotFound("not found")
    return found


def _back(grant_id: int, message: str, category: str = "info") -> Response:
    flash(message, category)
    return redirect(url_for("grantee.grant", grant_id=grant_id))


def _reasons(exc: DomainError) -> str:
    """Why the service refused, in the reader's language when it gave a single message."""
    if exc.reasons == [exc.message]:
        return _(exc.template, **exc.params)
    return " ".join(exc.reasons)


def _refused(exc: DomainError, grant_id: int) -> Response:
    if exc.status in (403, 404):
        raise exc
    return _back(grant_id, _reasons(exc), "error")


def _request_hint(payment: Payment) -> str:
    """Why the payment cannot be requested yet, in the reader's language ("" if it can)."""
    if not payments.request_reasons(payment):
        return ""
    grant = payment.grant
    if grant.state not in payments.PAYABLE_GRANT_STATES:
        return _("No payment is due while the grant is %(state)s.",
                 state=state_text(grant.state, object_type="grants"))
    report = payments.opening_report(payment)
    if report is not None and report.state != "approved":
        return _("Due once %(report)s is approved.",
                 report=object_in_text(report.label, _language(), "reports"))
    return _("Nothing is due for this payment.")


@bp.get("/")
def index() -> str:
    user = _user()
    grants = awards.grants_for(user)
    return render_template(
        "grantee/index.html",
        grants=grants,
        summaries={g.id: payments.summary(g) for g in grants},
        decided=awards.decided_applications_for(user),
        report_labels={r.id: _named(r.label) for g in grants for r in g.reports},
        today=now().date(),
    )


@bp.get("/<int:grant_id>")
def grant(grant_id: int) -> str:
    found = _grant(grant_id)
    user = _user()
    contract = found.current_contract
    may_sign = bool(has_workflow_role(user, "applicant_owner", found))
    may_edit = bool(has_workflow_role(user, "applicant_editor", found))
    sign_form = SignForm(formdata=None, data={
        "name": user.name, "document_sha256": contract.document_sha256 if contract else ""
    })
    return render_template(
        "grantee/grant.html",
        grant=found,
        contract=contract,
        signed_sides={s.side for s in contract.signatures} if contract else set(),
        may_sign=may_sign and found.state == "awaiting_signature",
        may_edit=may_edit,
        sign_form=sign_form,
        upload_form=UploadSignedForm(formdata=None, data={"name": user.name}),
        post=PostForm(),
        notification_form=NotificationForm(formdata=None),
        addendum_form=AddendumForm(formdata=None),
        summary=payments.summary(found),
        request_hints={p.id: _request_hint(p) for p in found.payments},
        terms=amendments.current_terms(found),
        recoveries=payments.recovery_orders(found),
        cofinancing=awards.cofinancing(found),
        today=now().date(),
    )


@bp.get("/<int:grant_id>/contract.pdf")
def contract_pdf(grant_id: int) -> Response:
    found = _grant(grant_id)
    document = render_contract(found)
    db.session.commit()  # the version's document hash
    version = found.current_contract
    return Response(
        document,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{found.number}-v{version.number}.pdf"'}
        if version else {},
    )


@bp.post("/<int:grant_id>/sign")
def sign(grant_id: int) -> Response:
    found = _grant(grant_id)
    form = SignForm()
    if not form.validate():
        return _back(grant_id, _("Type your name and confirm you have read the contract."), "error")
    try:
        awards.sign_in_app(found, _user(), name=form.name.data or "", address=_address(),
                           document_sha256=form.document_sha256.data or "")
    except DomainError as exc:
        return _refused(exc, grant_id)
    return _back(grant_id, _("Contract signed. The programme will countersign it."))


@bp.post("/<int:grant_id>/sign-upload")
def sign_upload(grant_id: int) -> Response:
    found = _grant(grant_id)
    form = UploadSignedForm()
    if not form.validate():
        return _back(grant_id, _("Choose the signed contract (PDF) to upload."), "error")
    try:
        awards.sign_by_upload(found, _user(), name=form.name.data or "", address=_address(),
                              stream=form.file.data.stream)
    except DomainError as exc:
        return _refused(exc, grant_id)
    return _back(grant_id, _("Signed contract received. The programme will countersign it."))


@bp.get("/signed/<int:signature_id>")
def signed_copy(signature_id: int) -> Response:
    stored = awards.uploaded_contract(_user(), signature_id)
    return send_file(stored.path, mimetype="application/pdf", download_name=stored.filename)


@bp.post("/payments/<int:payment_id>/request")
def request_payment(payment_id: int) -> Response:
    payment = _owned(Payment, payment_id)
    if not PostForm().validate():
        return _back(payment.grant_id, _("The form expired; try again."), "error")
    try:
        payments.request(payment, _user())
    except DomainError as exc:
        return _refused(exc, payment.grant_id)
    return _back(payment.grant_id, _("%(payment)s requested.", payment=_named(payment.label)))


def _report_data(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = {"summary": (report.narrative or {}).get("summary", "")}
    for row in reporting.narrative_rows(report):
        data[f"progress_{row.key}"] = row.progress
        for indicator in row.indicators:
            data[f"achieved_{indicator.key}"] = indicator.achieved
    for heading, amount in reporting.spent_by_heading(report).items():
        data[f"spent_{heading}"] = amount
    return data


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
def report(report_id: int) -> Any:
    found = _owned(Report, report_id)
    rows = reporting.narrative_rows(found)
    form = report_form(rows, BUDGET_HEADINGS, _report_data(found),
                       formdata=request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate():
        results = {
            row.key: {
                "progress": form[f"progress_{row.key}"].data or "",
                "indicators": {i.key: form[f"achieved_{i.key}"].data or "" for i in row.indicators},
            }
            for row in rows
        }
        spent = {h: form[f"spent_{h}"].data or Decimal(0) for h in BUDGET_HEADINGS}
        try:
            reporting.save_report(found, _user(), form.summary.data or "", results, spent)
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            flash(_reasons(exc), "error")
        else:
            flash(_("Report saved."), "info")
            return redirect(url_for("grantee.report", report_id=report_id))
    return render_template(
        "grantee/report.html", report=found, grant=found.grant, form=form, rows=rows,
        report_label=_named(found.label),
        headings=BUDGET_HEADINGS, financial=reporting.financial_rows(found), post=PostForm(),
        editable=found.state in reporting.EDITABLE_STATES, today=now().date(),
    )


@bp.post("/reports/<int:report_id>/submit")
def submit_report(report_id: int) -> Response:
    found = _owned(Report, report_id)
    if PostForm().validate():
        try:
            reporting.submit(found, _user())
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            flash(_reasons(exc), "error")
            return redirect(url_for("grantee.report", report_id=report_id))
    return _back(found.grant_id, _("%(report)s submitted for review.", report=_named(found.label)))


@bp.post("/<int:grant_id>/notify")
def notify(grant_id: int) -> Response:
    found = _grant(grant_id)
    form = NotificationForm()
    if not form.validate():
        return _back(grant_id, _("Describe the change."), "error")
    values = {
        "from_heading": form.from_heading.data, "to_heading": form.to_heading.data,
        "amount": form.amount.data if form.amount.data is not None else "",
        "bank_account": form.bank_account.data or "", "address": form.address.data or "",
    }
    try:
        amendments.notify_change(found, _user(), form.change.data or "",
                                 form.description.data or "", values)
    except DomainError as exc:
        return _refused(exc, grant_id)
    return _back(grant_id, _("Change recorded: a new contract version is in force."))


@bp.post("/<int:grant_id>/addendum")
def addendum(grant_id: int) -> Response:
    found = _grant(grant_id)
    form = AddendumForm()
    if not form.validate():
        return _back(grant_id, _("Describe the addendum requested."), "error")
    changes = {"amount": form.amount.data, "end_date": form.end_date.data,
               "other": form.other.data or ""}
    try:
        amendments.request_addendum(found, _user(), form.description.data or "", changes)
    except DomainError as exc:
        return _refused(exc, grant_id)
    return _back(grant_id, _("Addendum requested: the programme will decide on it."))


@bp.get("/letters/<int:application_id>.pdf")
def letter(application_id: int) -> Response:
    # The applicant's letter (scores, comments, the organisation's name): not for evaluators.
    found = db.session.get(Application, application_id)
    if found is None or not can_view_as_applicant(_user(), found):
        raise NotFound("no such application")
    name, document = letters.decision_letter(_user(), application_id)
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})
