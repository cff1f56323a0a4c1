"""Forms of the application: each section posts plain fields; this module reads them.

The section forms are FlaskForms for the CSRF token and the version the
section was loaded at; the rows (logframe, workplan, budget) are numbered
fields (``objectives-0-objective``...) so the page works without JavaScript
and nothing typed is lost when the server asks for a correction.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import FileField, HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

ROWS = {
    "logframe": ("objectives", ("objective", "result", "indicator", "baseline", "target")),
    "workplan": ("activities", ("activity", "start_month", "end_month", "responsible")),
    "budget": ("lines", ("heading", "description", "unit", "quantity", "unit_cost")),
}
MAX_ROWS = 80


class SectionForm(FlaskForm):
    version = HiddenField()
    submit = SubmitField(_l("Save this section"))


class StartForm(FlaskForm):
    organisation_id = SelectField(_l("Organisation"), coerce=int, choices=[])
    submit = SubmitField(_l("Start an application"))


class UploadForm(FlaskForm):
    kind = SelectField(_l("What the document is"), choices=[])
    file = FileField(_l("File"), validators=[DataRequired()])
    submit = SubmitField(_l("Upload"))


class ConfirmForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Confirm"))


def _rows(form: MultiDict[str, str], prefix: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for n in range(MAX_ROWS):
        row = {f: form.get(f"{prefix}-{n}-{f}", "") for f in fields}
        if not any(f"{prefix}-{n}-{f}" in form for f in fields):
            break
        rows.append(row)
    return rows


def section_data(key: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted fields of one section, in the shape the service takes."""
    if key in ROWS:
        prefix, fields = ROWS[key]
        return {prefix: _rows(form, prefix, fields)}
    if key == "summary":
        return {
            k: form.get(k, "")
            for k in ("title", "text", "requested_amount", "total_cost", "duration_months")
        }
    if key == "domains":
        return {
            "primary": form.get("primary") or None,
            "secondary": form.getlist("secondary"),
            "dialogues": form.getlist("dialogues"),
        }
    if key == "countries":
        return {"countries": form.getlist("countries")}
    if key == "partners":
        if not form.get("has_co_applicant"):
            return {"co_applicant": None}
        return {
            "co_applicant": {
                k: form.get(f"co_{k}", "")
                for k in ("name", "org_type", "country_iso2", "registration_number")
            }
        }
    if key == "description":
        return {k: form.get(k, "") for k in ("text", "target_groups", "sustainability")}
    return {}


def version_of(form: MultiDict[str, str]) -> int | None:
    value = form.get("version", "")
    return int(value) if value.isdigit() else None
