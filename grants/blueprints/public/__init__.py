"""Public pages: the calls and a pre-registration eligibility check, open to every visitor."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, send_file
from flask_babel import gettext as _
from flask_login import current_user

from forms.organisation import EligibilityCheckForm

from ...extensions import db
from ...models import Country
from ...rules import eligibility as rules
from ...services import call_documents, eligibility, listings

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return render_template("public/index.html", calls=listings.public_calls())


@bp.get("/calls/<code>")
def call(code: str) -> str:
    found = listings.public_call(code)
    if found is None:
        abort(404)
    return render_template(
        "public/call.html",
        call=found,
        rules=eligibility.call_rules(found),
        type_labels=rules.APPLICANT_TYPE_LABELS,
        documents=call_documents.documents(found),
        document_kinds={k: _(v) for k, v in call_documents.KIND_LABELS.items()},
        document_languages={k: _(v) for k, v in call_documents.LANGUAGE_LABELS.items()},
    )


@bp.get("/calls/<code>/documents/<int:document_id>")
def call_document(code: str, document_id: int) -> Response:
    """A document of a public call, for anyone (a draft call's: programme managers only)."""
    stored = call_documents.open_document(current_user, code, document_id)
    response = send_file(
        stored.path,
        mimetype=stored.content_type,
        as_attachment=True,
        download_name=stored.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/calls/<code>/eligibility", methods=["GET", "POST"])
def check(code: str) -> str:
    """Before registering: may an organisation of this type, based there, apply?"""
    found = listings.public_call(code)
    if found is None:
        abort(404)
    form = EligibilityCheckForm()
    countries = list(db.session.scalars(db.select(Country).order_by(Country.name)))
    form.country_iso2.choices = [(c.iso2, c.name) for c in countries]
    failures = None
    if form.validate_on_submit():
        country = db.session.get(Country, form.country_iso2.data)
        applicant = rules.Applicant(form.org_type.data, eligibility.as_country(country), "")
        failures = rules.check_applicant(eligibility.call_rules(found), applicant)
    return render_template("public/eligibility.html", call=found, form=form, failures=failures)


@bp.app_template_filter("file_size")
def file_size(size: int) -> str:
    """A file's size for the page's language (French says ko and Mo)."""
    from babel.numbers import format_decimal
    from flask_babel import get_locale

    locale = str(get_locale() or "en")
    if size < 1024 * 1024:
        return _("%(size)s KB", size=format_decimal(max(1, round(size / 1024)), locale=locale))
    return _("%(size)s MB", size=format_decimal(round(size / (1024 * 1024), 1), locale=locale))
