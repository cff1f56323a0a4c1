"""Forms of the grant screens: award, signature, payments, reports, amendments, reviews."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .fields import DecimalField  # refuses NaN, infinities, overflowing amounts

# The grantee's forms (signature, amendments, reports) are in the reader's language;
# the staff's (award, comment, decision) stay in English, as the staff pages do.
HEADING_LABELS = {
    "human_resources": _l("1. Human resources"),
    "travel": _l("2. Travel"),
    "equipment": _l("3. Equipment and supplies"),
    "local_office": _l("4. Local office"),
    "other_services": _l("5. Other costs, services"),
    "other": _l("6. Other"),
}


class PostForm(FlaskForm):
    """A bare CSRF-protected POST (request a payment, approve, pay...)."""

    submit = SubmitField("Go")


class CommentForm(FlaskForm):
    comment = TextAreaField("Comment or reason", validators=[Optional(), Length(max=4000)])
    submit = SubmitField("Confirm")


class AwardForm(FlaskForm):
    amount = DecimalField(
        "Grant amount (at most the amount requested and the call's maximum)",
        places=2, validators=[Optional(), NumberRange(min=0.01)],
    )
    start_date = DateField("Start of implementation", validators=[Optional()])
    documents_verified = BooleanField("The supporting documents have been verified")
    submit = SubmitField("Award")


class SignForm(FlaskForm):
    name = StringField(_l("Your full name"), validators=[DataRequired(), Length(max=200)])
    document_sha256 = HiddenField(validators=[DataRequired(), Length(min=64, max=64)])
    confirm = BooleanField(
        _l("I have read the contract and sign it for the grantee"), validators=[DataRequired()]
    )
    submit = SubmitField(_l("Sign the contract"))


class UploadSignedForm(FlaskForm):
    name = StringField(_l("Name of the signatory"), validators=[DataRequired(), Length(max=200)])
    file = FileField(_l("Countersigned contract (PDF)"), validators=[FileRequired()])
    submit = SubmitField(_l("Upload the signed contract"))


class NotificationForm(FlaskForm):
    change = SelectField(
        _l("Kind of change"),
        choices=[
            ("budget_transfer", _l("Transfer between budget headings")),
            ("bank_account", _l("Bank account")),
            ("address", _l("Address")),
        ],
    )
    description = StringField(_l("Why"), validators=[DataRequired(), Length(max=2000)])
    from_heading = SelectField(_l("From heading"), choices=list(HEADING_LABELS.items()))
    to_heading = SelectField(_l("To heading"), choices=list(HEADING_LABELS.items()))
    amount = DecimalField(_l("Amount transferred"), places=2, validators=[Optional()])
    bank_account = StringField(_l("New bank account (IBAN)"), validators=[Length(max=100)])
    address = TextAreaField(_l("New address"), validators=[Length(max=500)])
    submit = SubmitField(_l("Notify the change"))


class AddendumForm(FlaskForm):
    description = TextAreaField(_l("What should change, and why"), validators=[DataRequired()])
    amount = DecimalField(_l("Lower grant amount"), places=2, validators=[Optional()])
    end_date = DateField(_l("New end of implementation"), validators=[Optional()])
    other = TextAreaField(_l("Other change"), validators=[Optional(), Length(max=4000)])
    submit = SubmitField(_l("Request the addendum"))


class DecisionForm(FlaskForm):
    decision = SelectField("Decision", choices=[("approve", "Approve"), ("refuse", "Refuse")])
    comment = TextAreaField("Comment (required to refuse)", validators=[Length(max=4000)])
    submit = SubmitField("Decide")


class ReportFormBase(FlaskForm):
    summary = TextAreaField(_l("Summary of progress"), validators=[Length(max=20000)])
    submit = SubmitField(_l("Save the report"))


def report_form(rows: Iterable[Any], headings: Iterable[str], data: dict[str, Any] | None = None,
                formdata: Any = None) -> ReportFormBase:
    """The report form: progress per result, achieved value per indicator, spent per heading."""

    class ReportForm(ReportFormBase):
        pass

    for row in rows:
        setattr(ReportForm, f"progress_{row.key}",
                TextAreaField(_l("Progress on result %(key)s", key=row.key),
                              validators=[Length(max=8000)]))
        for indicator in row.indicators:
            setattr(ReportForm, f"achieved_{indicator.key}",
                    StringField(_l("Achieved: %(indicator)s", indicator=indicator.indicator),
                                validators=[Length(max=200)]))
    for heading in headings:
        setattr(ReportForm, f"spent_{heading}",
                DecimalField(HEADING_LABELS.get(heading, heading), places=2,
                             validators=[InputRequired(), NumberRange(min=0)], default=0))
    return ReportForm(formdata=formdata, data=data or {})
