"""Forms of the notifications area and of delivery administration."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SubmitField


class PreferencesForm(FlaskForm):
    delivery = RadioField(
        "How should we email you?",
        choices=[
            ("immediate", "At once, one email per notification"),
            ("daily_digest", "Once a day, in a single summary"),
        ],
        default="immediate",
    )
    reminders = BooleanField("Send me reminders (deadlines, scoring, reports due)")
    submit = SubmitField("Save preferences")


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (mark read, retry a delivery)."""

    submit = SubmitField("Go")
