"""The manager's form to publish a document with a call."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FileField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

KIND_CHOICES = [
    ("guidelines", "Guidelines for applicants"),
    ("application_form", "Application form template"),
    ("budget_template", "Budget template"),
    ("annex", "Annex"),
]
LANGUAGE_CHOICES = [("en", "English"), ("fr", "French")]


class CallDocumentForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    language = SelectField("Language", choices=LANGUAGE_CHOICES)
    kind = SelectField("Kind", choices=KIND_CHOICES)
    file = FileField("File", validators=[DataRequired()])
    submit = SubmitField("Publish the document")
