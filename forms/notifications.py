"""Forms of the notifications area and of delivery administration."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SubmitField


class PreferencesForm(FlaskForm):
    delivery = RadioField(
        _l("How should we email you?"),
        choices=[
            ("immediate", _l("At once, one email per notification")),
            ("daily_digest", _l("Once a day, in a single summary")),
        ],
        default="immediate",
    )
    reminders = BooleanField(_l("Send me reminders (deadlines, scoring, reports due)"))
    submit = SubmitField(_l("Save preferences"))


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (mark read, retry a delivery)."""

    submit = SubmitField(_l("Go"))
