"""Forms of the manager's evaluation screens: grids, opening check, panel, results, ranking."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .fields import DecimalField  # refuses NaN, infinities, overflowing amounts


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST (use the default grid, compute results...)."""

    submit = SubmitField("Go")


class GridSettingsForm(FlaskForm):
    total_threshold = DecimalField("Total threshold", places=2, validators=[DataRequired()])
    submit = SubmitField("Save threshold and minimums")


def grid_settings_form(section_codes: Iterable[str], data: dict[str, object]) -> GridSettingsForm:
    class Settings(GridSettingsForm):
        pass

    for code in section_codes:
        setattr(
            Settings,
            f"minimum_{code}",
            DecimalField(
                f"Minimum of {code}", places=2, validators=[Optional(), NumberRange(min=0)]
            ),
        )
    return Settings(data=data)


class SectionForm(FlaskForm):
    code = StringField("Code (e.g. impact)", validators=[DataRequired(), Length(max=40)])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    minimum = DecimalField("Minimum (optional)", places=2, validators=[Optional()])
    submit = SubmitField("Add section")


class CriterionForm(FlaskForm):
    section_id = SelectField("Section", coerce=int)
    criterion_id = HiddenField()
    code = StringField("Code (e.g. 1.5)", validators=[DataRequired(), Length(max=10)])
    title = StringField("Title", validators=[DataRequired(), Length(max=300)])
    guidance = TextAreaField("Guidance for evaluators", validators=[Length(max=5000)])
    weight = SelectField("Weight", choices=[(1, "x1"), (2, "x2")], coerce=int, default=1)
    submit = SubmitField("Save criterion")


class AdminCheckForm(FlaskForm):
    submit = SubmitField("Record the check and decide")


def admin_check_form(items: dict[str, str], data: dict[str, object]) -> AdminCheckForm:
    class Check(AdminCheckForm):
        pass

    for item, label in items.items():
        setattr(
            Check,
            f"result_{item}",
            RadioField(
                label, choices=[("pass", "Passed"), ("fail", "Failed")], validators=[Optional()]
            ),
        )
        setattr(
            Check,
            f"reason_{item}",
            StringField("Reason (when failed)", validators=[Optional(), Length(max=1000)]),
        )
    return Check(data=data)


class PanelAddForm(FlaskForm):
    evaluator_id = SelectField("Evaluator", coerce=int)
    submit = SubmitField("Add to the panel")


class AutoAssignForm(FlaskForm):
    due_date = DateField("Scores due by (optional)", validators=[Optional()])
    submit = SubmitField("Assign evaluators automatically")


class ManualAssignForm(FlaskForm):
    application_id = SelectField("Application", coerce=int)
    evaluator_id = SelectField("Evaluator", coerce=int)
    comment = StringField("Reason", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Assign")


class RemoveAssignmentForm(FlaskForm):
    comment = StringField("Reason", validators=[DataRequired(), Length(max=1000)])
    replace = BooleanField("Assign a replacement", default=True)
    submit = SubmitField("Remove")


class ReopenForm(FlaskForm):
    comment = StringField("Reason", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Reopen")


class ConsensusForm(FlaskForm):
    justification = TextAreaField("Justification", validators=[DataRequired(), Length(max=5000)])
    submit = SubmitField("Record the consensus score")


def consensus_form(section_codes: Iterable[str], data: dict[str, object]) -> ConsensusForm:
    class Consensus(ConsensusForm):
        pass

    for code in section_codes:
        setattr(
            Consensus,
            f"section_{code}",
            DecimalField(
                f"Score of {code}", places=2, validators=[DataRequired(), NumberRange(min=0)]
            ),
        )
    return Consensus(data=data)


class ConfirmSelectionForm(FlaskForm):
    fingerprint = HiddenField(validators=[DataRequired()])
    submit = SubmitField("Confirm these decisions")
