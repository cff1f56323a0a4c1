"""Forms of the evaluator's area: the declaration and the scoring sheet."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

SCALE_CHOICES = [
    (1, _l("1 very poor")),
    (2, _l("2 poor")),
    (3, _l("3 adequate")),
    (4, _l("4 good")),
    (5, _l("5 very good")),
]


class DeclarationForm(FlaskForm):
    conflict = RadioField(
        _l("Declaration of impartiality and confidentiality"),
        choices=[
            (
                "no",
                _l(
                    "I have no conflict of interest with this application and will keep its "
                    "content and the evaluation confidential."
                ),
            ),
            (
                "yes",
                _l("I have a conflict of interest with this application (I will be replaced)."),
            ),
        ],
        default="no",
    )
    statement = TextAreaField(
        _l("Statement (required when you declare a conflict)"),
        validators=[Optional(), Length(max=2000)],
    )
    submit = SubmitField(_l("Send my declaration"))


class ScoreSheetForm(FlaskForm):
    """A score (1-5) and a comment per criterion; fields are added per grid."""

    save = SubmitField(_l("Save draft"))
    submit_sheet = SubmitField(_l("Submit my evaluation"))

    def entries(self, criterion_ids: Iterable[int]) -> dict[int, tuple[int | None, str]]:
        result: dict[int, tuple[int | None, str]] = {}
        for cid in criterion_ids:
            score = self[f"score_{cid}"].data
            result[cid] = (int(score) if score else None, self[f"comment_{cid}"].data or "")
        return result


def score_sheet_form(
    criterion_ids: Iterable[int], data: dict[str, object] | None = None
) -> ScoreSheetForm:
    """A ScoreSheetForm class with one score and one comment field per criterion."""

    class Sheet(ScoreSheetForm):
        pass

    for cid in criterion_ids:
        setattr(
            Sheet,
            f"score_{cid}",
            RadioField(_l("Score"), choices=SCALE_CHOICES, coerce=int, validators=[Optional()]),
        )
        setattr(
            Sheet,
            f"comment_{cid}",
            TextAreaField(_l("Comment"), validators=[Optional(), Length(max=5000)]),
        )
    return Sheet(data=data)
