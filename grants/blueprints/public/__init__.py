"""Public pages: the calls and a pre-registration eligibility check, open to every visitor."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from forms.organisation import EligibilityCheckForm

from ...extensions import db
from ...models import Country
from ...rules import eligibility as rules
from ...services import eligibility, listings

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
    )


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
