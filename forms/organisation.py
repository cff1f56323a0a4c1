"""Forms of applicant organisations: registering one, inviting members."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import URL, DataRequired, Email, Length, Optional

ORGANISATION_TYPE_CHOICES = [
    ("cso", _l("Civil society organisation")),
    ("local_authority", _l("Local authority")),
    ("diaspora", _l("Diaspora organisation")),
]
ROLE_CHOICES = [
    ("viewer", _l("Viewer: reads the applications")),
    ("editor", _l("Editor: fills and submits the applications")),
    ("owner", _l("Owner: also manages members and withdraws")),
]


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])
    acronym = StringField(_l("Acronym"), validators=[Optional(), Length(max=40)])
    org_type = SelectField(_l("Type"), choices=ORGANISATION_TYPE_CHOICES)
    country_iso2 = SelectField(_l("Country where it is registered"), choices=[])
    registration_number = StringField(
        _l("Legal registration number"), validators=[DataRequired(), Length(max=100)]
    )
    address = TextAreaField(_l("Address"), validators=[DataRequired(), Length(max=500)])
    website = StringField(
        _l("Website"), validators=[Optional(), URL(require_tld=True), Length(max=300)]
    )
    contact_email = EmailField(
        _l("Contact email"), validators=[Optional(), Email(), Length(max=254)]
    )
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=50)])
    submit = SubmitField(_l("Register the organisation"))


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Email of the person"), validators=[DataRequired(), Email(), Length(max=254)]
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="editor")
    submit = SubmitField(_l("Send the invitation"))


class EligibilityCheckForm(FlaskForm):
    org_type = SelectField(_l("Type of organisation"), choices=ORGANISATION_TYPE_CHOICES)
    country_iso2 = SelectField(_l("Country where it is registered"), choices=[])
    submit = SubmitField(_l("Check"))
