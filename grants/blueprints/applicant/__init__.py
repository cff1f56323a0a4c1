"""The applicant portal: organisations, the application form, submission and receipt.

Views are thin: each calls one service use case with the signed-in person as
the actor. Section pages never lose what was typed: a correction, a conflict
or an expired session shows the page again with the typed values.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf.csrf import CSRFError

from forms.application import (
    ROWS,
    ConfirmForm,
    SectionForm,
    StartForm,
    UploadForm,
    section_data,
    version_of,
)
from forms.organisation import InviteForm, OrganisationForm

from ...extensions import db
from ...labels import object_name, state_name
from ...models import BUDGET_HEADINGS, Application, Call, Country
from ...policy import can_view_as_applicant
from ...rules.eligibility import Failure
from ...services import applications, attachments, organisations, releases
from ...services.accounts import authenticate, login_throttle
from ...services.eligibility_text import LocalisedFailure, failure_text, localise
from ...services.errors import DomainError, GuardFailed, NotFound, ValidationFailed

bp = Blueprint("applicant", __name__, url_prefix="/applicant")

EXTRA_ROWS = 3


def _actor() -> Any:
    return current_user._get_current_object()


def _countries() -> list[Country]:
    return list(db.session.scalars(db.select(Country).order_by(Country.name)))


@bp.before_request
def _organisation_and_staff_only() -> None:
    """An application's portal pages are its organisation's and the programme staff's. An
    assigned evaluator reads it in the evaluation area only (after declaring no conflict of
    interest, anonymised when the review is blind): here they get everyone else's 404."""
    application_id = (request.view_args or {}).get("application_id")
    if application_id is None or not current_user.is_authenticated:
        return
    found = db.session.get(Application, application_id)
    if found is not None and not can_view_as_applicant(_actor(), found):
        raise NotFound("no such application")


# ---------------------------------------------------------------- dashboard


@bp.get("/")
@login_required
def dashboard() -> str:
    rows = applications.dashboard(_actor())
    return render_template(
        "applicant/dashboard.html",
        rows=rows,
        memberships=_actor().memberships,
        released=releases.released([row.application for row in rows]),
    )


def _pdf(name: str, document: bytes) -> Response:
    response = Response(document, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/applications/<int:application_id>/decision-letter.pdf")
@login_required
def decision_letter(application_id: int) -> Response:
    """The decision letter once released, in the reader's language; members only (else 404)."""
    return _pdf(*releases.decision_letter(_actor(), application_id, _language()))


@bp.get(
    "/applications/<int:application_id>/evaluation-summary/"
    "<any(concept_note, full_application):stage>.pdf"
)
@login_required
def evaluation_summary(application_id: int, stage: str) -> Response:
    """A stage's evaluation summary once released, in the reader's language, without
    evaluators' names; members only."""
    return _pdf(*releases.evaluation_summary(_actor(), application_id, stage, _language()))


# ---------------------------------------------------------------- organisations


@bp.route("/organisations/new", methods=["GET", "POST"])
@login_required
def new_organisation() -> Response | str | tuple[str, int]:
    form = OrganisationForm()
    form.country_iso2.choices = [(c.iso2, c.name) for c in _countries()]
    duplicates = None
    if form.validate_on_submit():
        data = organisations.OrganisationData(
            **{
                k: form[k].data or ""
                for k in (
                    "name",
                    "acronym",
                    "org_type",
                    "country_iso2",
                    "registration_number",
                    "address",
                    "website",
                    "contact_email",
                    "contact_phone",
                )
            }
        )
        try:
            created = organisations.create_organisation(_actor(), data)
        except organisations.DuplicateOrganisation as exc:
            duplicates = exc.matches
        except ValidationFailed as exc:
            for name, errors in exc.fields.items():
                form[name].errors = [field_error(e) for e in errors]
        else:
            flash(_("The organisation is registered; you are its owner."), "info")
            return redirect(url_for("applicant.organisation", organisation_id=created.id))
    status = 409 if duplicates else 200
    return render_template(
        "applicant/organisation_new.html", form=form, duplicates=duplicates
    ), status


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@login_required
def organisation(organisation_id: int) -> Response | str:
    found = organisations.organisation_for(_actor(), organisation_id)
    form = InviteForm()
    link = None
    if form.validate_on_submit():
        token = organisations.invitation_token(
            _actor(), organisation_id, form.email.data, form.role.data
        )
        link = url_for("applicant.invitation", token=token, _external=True)
        organisations.send_invitation(_actor(), found, form.email.data, form.role.data, link)
        flash(_("The invitation is sent to %(email)s.", email=form.email.data), "info")
        return redirect(url_for("applicant.organisation", organisation_id=organisation_id))
    return render_template(
        "applicant/organisation.html",
        organisation=found,
        form=form,
        members=organisations.members(_actor(), organisation_id),
        is_owner=_actor().membership_in(organisation_id).role == "owner",
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@login_required
def invitation(token: str) -> Response | str:
    invitation = organisations.read_invitation(token)
    form = ConfirmForm()
    if form.validate_on_submit():
        membership = organisations.accept_invitation(_actor(), token)
        flash(_("You are now a member of %(name)s.", name=membership.organisation.name), "info")
        return redirect(url_for("applicant.dashboard"))
    return render_template("applicant/invitation.html", invitation=invitation, form=form)


# ---------------------------------------------------------------- starting


@bp.route("/calls/<code>/apply", methods=["GET", "POST"])
@login_required
def start(code: str) -> Response | str:
    call = db.session.scalar(db.select(Call).where(Call.code == code))
    if call is None or call.state == "draft":
        abort(404)
    form = StartForm()
    editable = [m for m in _actor().memberships if m.can_edit]
    form.organisation_id.choices = [(m.organisation_id, m.organisation.name) for m in editable]
    if form.validate_on_submit():
        created = applications.start_application(_actor(), call.id, form.organisation_id.data)
        return redirect(url_for("applicant.overview", application_id=created.id))
    return render_template("applicant/start.html", call=call, form=form, editable=editable)


# ---------------------------------------------------------------- the form


@bp.get("/applications/<int:application_id>")
@login_required
def overview(application_id: int) -> str:
    app = applications.get_application(_actor(), application_id)
    return render_template(
        "applicant/overview.html",
        app=app,
        parts=applications.sections_for(app),
        readiness=applications.readiness(_actor(), application_id),
        editable=applications.can_edit(_actor(), app),
        can_withdraw=applications.can_withdraw(_actor(), app),
        confirm=ConfirmForm(),
    )


def _rows_with_blanks(key: str, values: dict[str, Any]) -> dict[str, Any]:
    if key in ROWS:
        prefix, fields = ROWS[key]
        rows = [r for r in values.get(prefix) or []]
        values = {**values, prefix: rows + [dict.fromkeys(fields, "")] * EXTRA_ROWS}
    return values


def _section_page(
    app: Any,
    key: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    conflict: Any = None,
    version: int | None = None,
    status: int = 200,
    login_needed: bool = False,
) -> tuple[str, int]:
    form = SectionForm()
    row = app.section(key)
    form.version.data = str(version if version is not None else (row.version if row else ""))
    shown = applications.form_values(
        key, values if values is not None else applications.current_data(app, key)
    )
    return render_template(
        "applicant/section.html",
        app=app,
        key=key,
        form=form,
        values=_rows_with_blanks(key, shown),
        errors=errors or {},
        conflict=conflict,
        parts=applications.sections_for(app),
        limits=applications.LIMITS,
        locked=applications.is_section_locked(app, key),
        editable=current_user.is_authenticated and applications.can_edit(_actor(), app),
        countries=_countries(),
        headings=BUDGET_HEADINGS,
        login_needed=login_needed,
        budget=applications.budget_summary(app) if key == "budget" else None,
    ), status


def _wants_json() -> bool:
    return request.headers.get("X-Autosave") == "1"


@bp.route("/applications/<int:application_id>/sections/<key>", methods=["GET", "POST"])
def section(application_id: int, key: str) -> Any:
    if key not in applications.SECTIONS:
        abort(404)
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for("account.login", next=request.path))
        # The session ended while typing: log in from this page, and save in one go.
        user = None
        email, password = request.form.get("email", ""), request.form.get("password", "")
        if email and password and not login_throttle.blocked(email, request.remote_addr):
            user = authenticate(email, password)
            if user is None:
                login_throttle.failed(email, request.remote_addr)
        if user is None or user.email_verified_at is None:
            if _wants_json():
                return jsonify({"code": "unauthenticated", "message": _("Log in again.")}), 401
            return _expired_page(application_id, key)
        login_user(user)
        session.permanent = True
        _organisation_and_staff_only()  # signed in only now: the portal's check once more
    app = applications.get_application(_actor(), application_id)
    if request.method == "GET":
        return _section_page(app, key)
    data = section_data(key, request.form)
    try:
        saved = applications.save_section(
            _actor(), application_id, key, version_of(request.form), data
        )
    except applications.SectionConflict as exc:
        if _wants_json():
            return jsonify(
                {**exc.to_dict(), "version": exc.version, "changed": exc.changed_fields}
            ), 409
        return _section_page(app, key, values=data, conflict=exc, version=exc.version, status=409)
    except ValidationFailed as exc:
        if _wants_json():
            return jsonify(exc.to_dict()), 422
        return _section_page(
            app, key, values=data, errors=exc.fields, version=version_of(request.form), status=422
        )
    if _wants_json():
        return jsonify({"saved": True, "version": saved.version})
    flash(_("Section saved."), "info")
    parts = applications.sections_for(app)
    following = (
        parts[parts.index(key) + 1] if key in parts and parts.index(key) + 1 < len(parts) else None
    )
    if request.form.get("continue") and following:
        if following == "attachments":
            return redirect(url_for("applicant.attachments_page", application_id=app.id))
        return redirect(url_for("applicant.section", application_id=app.id, key=following))
    return redirect(url_for("applicant.section", application_id=app.id, key=key))


def _expired_page(application_id: int, key: str) -> tuple[str, int]:
    """The section with what was typed, and log-in fields: nothing is lost."""
    return render_template(
        "applicant/section_expired.html",
        key=key,
        application_id=application_id,
        fields=[
            (k, v)
            for k, v in request.form.items(multi=True)
            if k not in ("csrf_token", "email", "password")
        ],
    ), 401


@bp.app_errorhandler(CSRFError)
def csrf_error(exc: CSRFError) -> Any:
    """A refused token on a section save keeps the typed text (the session probably ended)."""
    if request.endpoint == "applicant.section" and request.method == "POST":
        if _wants_json():
            return jsonify({"code": "csrf", "message": _("Reload the page and log in again.")}), 400
        page, _status = _expired_page(request.view_args["application_id"], request.view_args["key"])
        return page, 400
    return render_template(
        "errors/error.html", status=400, message=exc.description, reasons=[]
    ), 400


# ---------------------------------------------------------------- attachments


@bp.route("/applications/<int:application_id>/attachments", methods=["GET", "POST"])
@login_required
def attachments_page(application_id: int) -> Any:
    app = applications.get_application(_actor(), application_id)
    form = UploadForm()
    kinds = attachments.kinds_for(applications.mandatory_attachments(app))
    form.kind.choices = [(k, str(KIND_LABELS.get(k, k.replace("_", " ")))) for k in kinds]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            upload = request.files["file"]
            try:
                attachments.upload(
                    _actor(), app.id, form.kind.data, upload.filename or "", upload.stream
                )
            except ValidationFailed as exc:
                form.file.errors = [error_text(exc)]
                status = exc.status  # 422, or 507 when the server has no room for the file
            else:
                flash(_("The file is uploaded."), "info")
                return redirect(url_for("applicant.attachments_page", application_id=app.id))
        else:
            status = 422
    return render_template(
        "applicant/attachments.html",
        app=app,
        form=form,
        parts=applications.sections_for(app),
        editable=applications.can_edit(_actor(), app),
        confirm=ConfirmForm(),
        max_mb=attachments.max_bytes() // (1024 * 1024),
        accepted=", ".join(attachments.ACCEPTED_EXTENSIONS),
    ), status


@bp.get("/applications/<int:application_id>/attachments/<int:attachment_id>")
@login_required
def download(application_id: int, attachment_id: int) -> Response:
    stored = attachments.open_attachment(_actor(), application_id, attachment_id)
    response = send_file(
        stored.path,
        mimetype=stored.content_type,
        as_attachment=True,
        download_name=stored.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/applications/<int:application_id>/attachments/<int:attachment_id>/delete")
@login_required
def delete_attachment(application_id: int, attachment_id: int) -> Response:
    attachments.delete(_actor(), application_id, attachment_id)
    flash(_("The file is removed."), "info")
    return redirect(url_for("applicant.attachments_page", application_id=application_id))


# ---------------------------------------------------------------- preview, submit, withdraw


@bp.get("/applications/<int:application_id>/preview")
@login_required
def preview(application_id: int) -> str:
    app = applications.get_application(_actor(), application_id)
    return render_template(
        "applicant/preview.html",
        app=app,
        readiness=applications.readiness(_actor(), app.id),
        budget=applications.budget_summary(app),
        confirm=ConfirmForm(),
        editable=applications.can_edit(_actor(), app),
        data={k: applications.current_data(app, k) for k in applications.SECTIONS},
    )


@bp.post("/applications/<int:application_id>/submit")
@login_required
def submit(application_id: int) -> Any:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        applications.submit(_actor(), application_id)
    except GuardFailed as exc:
        app = applications.get_application(_actor(), application_id)
        readiness = applications.readiness(_actor(), app.id)
        return render_template(
            "applicant/preview.html",
            app=app,
            reasons=_localise_reasons(exc.reasons, readiness),
            readiness=readiness,
            budget=applications.budget_summary(app),
            confirm=ConfirmForm(),
            editable=applications.can_edit(_actor(), app),
            data={k: applications.current_data(app, k) for k in applications.SECTIONS},
        ), 409
    return redirect(url_for("applicant.receipt", application_id=application_id))


@bp.post("/applications/<int:application_id>/withdraw")
@login_required
def withdraw(application_id: int) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    applications.withdraw(_actor(), application_id, form.reason.data)
    flash(_("The application is withdrawn."), "info")
    return redirect(url_for("applicant.dashboard"))


@bp.get("/applications/<int:application_id>/receipt")
@login_required
def receipt(application_id: int) -> str:
    submission = applications.latest_submission(_actor(), application_id)
    return render_template(
        "applicant/receipt.html", app=submission.application, submission=submission
    )


@bp.get("/applications/<int:application_id>/receipt.pdf")
@login_required
def receipt_pdf(application_id: int) -> Response:
    document = applications.receipt_pdf(_actor(), application_id, _language())
    response = Response(document.content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _language() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])[:2]


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError) -> Any:
    if _wants_json():
        return jsonify(exc.to_dict()), exc.status
    return render_template(
        "errors/error.html",
        status=exc.status,
        message=error_text(exc),
        reasons=[reason_text(r) for r in exc.reasons],
    ), exc.status


# ---------------------------------------------------------------- locale-aware display

KIND_LABELS = {
    "registration_certificate": _l("Registration certificate"),
    "budget_annex": _l("Budget annex"),
    "other": _l("Other document"),
}


def _localise_reasons(reasons: list[str], readiness: applications.Readiness) -> list[str]:
    """The guard's reasons in the page's language: an eligibility failure by its code."""
    texts = {f.message: failure_text(f, _language())[0] for f in readiness.failures}
    return [texts.get(reason) or reason_text(reason) for reason in reasons]


def error_text(exc: DomainError) -> str:
    """A service's message in the page's language: the catalogue's text, figures put back."""
    template = getattr(exc, "template", None)
    if not isinstance(template, str):  # translated where it was raised (lazy text)
        return str(exc.message)
    if exc.params:
        return _(template, **exc.params)
    return reason_text(exc.message)


def _state(value: str) -> str:
    return state_name(value, _language())


def _object_label(label: str) -> str:
    """An object's label ("Application MMD-2026-C02-0007") in the page's language."""
    return object_name(label, _language())


# Reasons the guards and the policy give with figures in them (grants.services.guards,
# grants.policy), by their pattern; fixed ones go through the catalogue as they are.
REASON_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (
        re.compile(r"incomplete: (?P<part>.+)"),
        lambda m: _("incomplete: %(part)s", part=_(m["part"])),
    ),
    (
        re.compile(r"the deadline passed at (?P<moment>.+)"),
        lambda m: _("the deadline passed at %(moment)s", moment=m["moment"]),
    ),
    (
        re.compile(r"the full-application deadline passed at (?P<moment>.+)"),
        lambda m: _("the full-application deadline passed at %(moment)s", moment=m["moment"]),
    ),
    (
        re.compile(r"call (?P<code>\S+) is (?P<state>\w+), not open for submissions"),
        lambda m: _(
            "call %(code)s is %(state)s, not open for submissions",
            code=m["code"],
            state=_state(m["state"]),
        ),
    ),
    (
        re.compile(
            r"(?P<object>.+) is '(?P<state>\w+)' in the \w+ workflow: "
            r"'\w+' cannot be fired there \(allowed: .*\)"
        ),
        lambda m: _(
            "%(object)s is %(state)s: this cannot be done any more",
            object=_object_label(m["object"]),
            state=_state(m["state"]),
        ),
    ),
    (
        re.compile(r"you may not '\w+' (?P<object>.+?): (?P<reason>.+)"),
        lambda m: _(
            "you may not do this on %(object)s: %(reason)s",
            object=_object_label(m["object"]),
            reason=reason_text(m["reason"]),
        ),
    ),
    (
        re.compile(r"the application is (?P<state>\w+) and can no longer be edited"),
        lambda m: _(
            "the application is %(state)s and can no longer be edited", state=_state(m["state"])
        ),
    ),
)
# Reasons of the policy shown to applicants (grants.policy), for the catalogue.
POLICY_REASONS = (
    _l("not a member of the organisation"),
    _l("owners and editors of the organisation only"),
    _l("owners of the organisation only"),
    _l("the call is not published"),
)


def reason_text(reason: str) -> str:
    """One reason in the page's language; one the catalogue does not know is shown as is."""
    return "; ".join(_reason_part(part) for part in reason.split("; "))


def _reason_part(reason: str) -> str:
    for pattern, render in REASON_PATTERNS:
        found = pattern.fullmatch(reason)
        if found:
            return str(render(found))
    return _(reason)


# What the form's checks say about a field (grants.services.applications), in the page's
# language: fixed answers through the catalogue, answers with figures by their pattern.
FIELD_ERRORS = {
    "required": _l("required"),
    "not a number": _l("not a number"),
    "a whole number": _l("a whole number"),
    "before the start": _l("before the start"),
    "choose a domain of this call": _l("choose a domain of this call"),
    "choose domains of this call": _l("choose domains of this call"),
    "choose dialogues of this call": _l("choose dialogues of this call"),
    "choose the primary domain first": _l("choose the primary domain first"),
    "choose a heading": _l("choose a heading"),
    "choose a listed country": _l("choose a listed country"),
    "choose listed countries": _l("choose listed countries"),
    "choose a listed type": _l("choose a listed type"),
    "the co-applicant cannot be the lead applicant": _l(
        "the co-applicant cannot be the lead applicant"
    ),
    "the total is too large": _l("the total is too large"),
    "cannot exceed the total cost of the action": _l("cannot exceed the total cost of the action"),
}
FIELD_ERROR_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (
        re.compile(r"at most (?P<limit>\d+) characters \((?P<typed>\d+) typed\)"),
        lambda m: _("at most %(limit)s characters (%(typed)s typed)", **m.groupdict()),
    ),
    (
        re.compile(r"between (?P<low>\d+) and (?P<high>\d+)"),
        lambda m: _("between %(low)s and %(high)s", **m.groupdict()),
    ),
    (
        re.compile(r"at most (?P<n>\d+) rows"),
        lambda m: _("at most %(n)s rows", **m.groupdict()),
    ),
    (
        re.compile(r"at most (?P<n>\d+) lines"),
        lambda m: _("at most %(n)s lines", **m.groupdict()),
    ),
    (
        re.compile(r"must be above 0 and at most (?P<max>[\d,]+)"),
        lambda m: _("must be above 0 and at most %(max)s", max=_number(m["max"])),
    ),
    (
        re.compile(r"must be at least 0 and at most (?P<max>[\d,]+)"),
        lambda m: _("must be at least 0 and at most %(max)s", max=_number(m["max"])),
    ),
    (
        re.compile(r"cannot exceed the budget total of (?P<cur>[A-Z]{3}) (?P<total>[\d,.]+)"),
        lambda m: _(
            "cannot exceed the budget total of %(total)s",
            total=local_money(_number(m["total"]), m["cur"]),
        ),
    ),
    (
        re.compile(
            r"the budget total \((?P<cur>[A-Z]{3}) (?P<total>[\d,.]+)\) is below the "
            r"requested amount \([A-Z]{3} (?P<requested>[\d,.]+)\)"
        ),
        lambda m: _(
            "the budget total (%(total)s) is below the requested amount (%(requested)s)",
            total=local_money(_number(m["total"]), m["cur"]),
            requested=local_money(_number(m["requested"]), m["cur"]),
        ),
    ),
)


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


@bp.app_template_filter("field_error")
def field_error(message: str) -> str:
    """A field's error in the page's language; an unknown one is shown as it is."""
    known = FIELD_ERRORS.get(message)
    if known is not None:
        return str(known)
    for pattern, render in FIELD_ERROR_PATTERNS:
        found = pattern.fullmatch(message)
        if found:
            return str(render(found))
    return _(message)  # marked in the service (N_), or shown as it is


@bp.app_template_filter("localise_failures")
def localise_failures(failures: list[Failure]) -> list[LocalisedFailure]:
    """Eligibility failures with their message and fix in the page's language."""
    return localise(failures, _language())


@bp.app_template_filter("local_moment")
def local_moment(value: Any, zone: str = "Europe/Brussels") -> Any:
    """A moment in the call's zone, formatted for the page's language; scripts add the
    visitor's own zone from the machine-readable datetime."""
    from zoneinfo import ZoneInfo

    from babel.dates import format_datetime
    from flask_babel import get_locale
    from markupsafe import Markup, escape

    if value is None:
        return "—"
    locale = str(get_locale() or "en")
    shown = format_datetime(value, "medium", tzinfo=ZoneInfo(zone), locale=locale)
    iso = value.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" data-local>{} ({})</time>').format(
        iso, escape(shown), escape(zone)
    )


@bp.app_template_filter("local_money")
def local_money(value: Any, currency: str = "EUR") -> str:
    from babel.numbers import format_currency
    from flask_babel import get_locale

    if value is None:
        return "—"
    return format_currency(value, currency, locale=str(get_locale() or "en"))
