"""Forms of the account area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length
from wtforms.widgets import CheckboxInput, ListWidget

from grants.services.accounts import MIN_PASSWORD_LENGTH

LANGUAGE_CHOICES = [("en", "English"), ("fr", "Français")]


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Log in"))


class RegistrationForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    confirm = PasswordField(_l("Password again"), validators=[DataRequired(), EqualTo("password")])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default="en")
    submit = SubmitField(_l("Create the account"))


class EmailForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    submit = SubmitField(_l("Send the link"))


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("password")]
    )
    submit = SubmitField(_l("Save the password"))


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    submit = SubmitField(_l("Change"))


class CodeForm(FlaskForm):
    """The second step of a login: a code from the authenticator app, or a recovery code."""

    code = StringField(
        _l("Code"), validators=[DataRequired(), Length(max=20)], filters=[lambda v: v and v.strip()]
    )
    submit = SubmitField(_l("Continue"))


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Code shown by the app"),
        validators=[DataRequired(), Length(max=20)],
        filters=[lambda v: v and v.strip()],
    )
    submit = SubmitField(_l("Turn on two-factor login"))


class ReauthForm(FlaskForm):
    """Confirm it is still you: the password again, and a code when two-factor login is on.

    The names are prefixed so the fields can ride along with another form's data.
    """

    reauth_password = PasswordField(
        _l("Your password"), validators=[DataRequired(), Length(max=200)]
    )
    reauth_code = StringField(_l("Code from your authenticator app (or a recovery code)"),
                              validators=[Length(max=20)])
    submit = SubmitField(_l("Confirm"))


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token is checked."""

    submit = SubmitField(_l("Confirm"))


class RolesForm(FlaskForm):
    roles = SelectMultipleField(
        _l("Staff roles"),
        choices=[
            ("evaluator", _l("Evaluator")),
            ("programme_manager", _l("Programme manager")),
            ("admin", _l("Administrator")),
        ],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )
    submit = SubmitField(_l("Save the roles"))
