"""The forms of the token page: name a new token, revoke one (both CSRF-protected)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from ...services.tokens import NAME_MAX


class NewTokenForm(FlaskForm):
    name = StringField(
        _l("What the token is for"),
        validators=[DataRequired(), Length(max=NAME_MAX)],
        description=_l("For example: the reporting script of our finance office."),
    )
    submit = SubmitField(_l("Create a token"))


class RevokeTokenForm(FlaskForm):
    submit = SubmitField(_l("Revoke"))
