"""What notices name, in the reader's language: objects by their labels, workflow states.

The services record what a notice is about by the model's English label (`label`:
"Application MMD-2026-C02-0007", "Interim report 1 of Grant G-…"). Those labels have
fixed shapes, so pages and mail can name them in the reader's language; anything
else (an application's title) is shown as written. Mail is rendered by a background
job, outside any request, so every function here takes the language explicitly.
"""

from __future__ import annotations

import re

from flask_babel import force_locale
from flask_babel import gettext as _

# The shapes of the models' labels (grants.models: Application, Grant, Payment,
# Report, Assignment).
_SHAPES = {
    "application": re.compile(r"Application (?P<reference>\S+)"),
    "grant": re.compile(r"Grant (?P<number>\S+)"),
    "payment": re.compile(r"Payment (?P<sequence>\d+) of Grant (?P<number>\S+)"),
    "report": re.compile(
        r"(?P<kind>Interim|Final) report (?P<sequence>\d+) of Grant (?P<number>\S+)"
    ),
    "assignment": re.compile(
        r"Assignment (?P<id>\d+) \((?P<evaluator>.+) on Application (?P<reference>\S+)\)"
    ),
}
# The shapes a notice about each kind of object may carry: its own label, and for an
# assignment also its application's (assignment notices name only the application,
# as reviews may be blind). An application's title matches none of another kind's.
_SHAPES_OF = {
    "applications": ("application",),
    "grants": ("grant",),
    "payments": ("payment",),
    "reports": ("report",),
    "assignments": ("assignment", "application"),
}


def _parse(label: str, object_type: str | None) -> tuple[str, dict[str, str]] | None:
    """The label's shape and parts; None for free text. Without a type, any shape."""
    shapes = _SHAPES_OF.get(object_type, ()) if object_type else tuple(_SHAPES)
    for shape in shapes:
        if found := _SHAPES[shape].fullmatch(label):
            return shape, found.groupdict()
    return None


def object_name(label: str, language: str, object_type: str | None = None) -> str:
    """The object a label names, in `language`, as a name: a subject, a list item, a title.

    `object_type` is the notice's (a table name); without it any known shape is named.
    """
    parsed = _parse(label, object_type)
    if parsed is None:
        return label
    shape, parts = parsed
    with force_locale(language):
        if shape == "application":
            return _("Application %(reference)s", reference=parts["reference"])
        if shape == "grant":
            return _("Grant %(number)s", number=parts["number"])
        if shape == "payment":
            return _("Payment %(sequence)s of Grant %(number)s",
                     sequence=parts["sequence"], number=parts["number"])
        if shape == "report" and parts["kind"] == "Interim":
            return _("Interim report %(sequence)s of Grant %(number)s",
                     sequence=parts["sequence"], number=parts["number"])
        if shape == "report":
            return _("Final report %(sequence)s of Grant %(number)s",
                     sequence=parts["sequence"], number=parts["number"])
        return _("Assignment %(id)s (%(evaluator)s on Application %(reference)s)",
                 id=parts["id"], evaluator=parts["evaluator"], reference=parts["reference"])


def object_in_text(label: str, language: str, object_type: str | None = None) -> str:
    """The same object named inside a sentence: French needs the article and a small
    letter there ("…concernant la demande MMD-…"), where a name starts with a capital."""
    parsed = _parse(label, object_type)
    if parsed is None:
        return label
    shape, parts = parsed
    with force_locale(language):
        if shape == "application":
            return _("application %(reference)s", reference=parts["reference"])
        if shape == "grant":
            return _("grant %(number)s", number=parts["number"])
        if shape == "payment":
            return _("payment %(sequence)s of grant %(number)s",
                     sequence=parts["sequence"], number=parts["number"])
        if shape == "report" and parts["kind"] == "Interim":
            return _("interim report %(sequence)s of grant %(number)s",
                     sequence=parts["sequence"], number=parts["number"])
        if shape == "report":
            return _("final report %(sequence)s of grant %(number)s",
                     sequence=parts["sequence"], number=parts["number"])
        return _("assignment %(id)s (%(evaluator)s on application %(reference)s)",
                 id=parts["id"], evaluator=parts["evaluator"], reference=parts["reference"])


# French names of workflow states and stages; English reads them off the identifiers.
FRENCH_LABELS = {
    "draft": "brouillon",
    "submitted": "soumis",
    "in_evaluation": "en évaluation",
    "admin_rejected": "rejeté (contrôle administratif)",
    "invited": "invité",
    "rejected": "rejeté",
    "fa_submitted": "demande complète soumise",
    "lapsed": "caduc",
    "fa_in_evaluation": "demande complète en évaluation",
    "provisionally_selected": "sélectionné à titre provisoire",
    "reserve": "liste de réserve",
    "awarded": "attribué",
    "ineligible": "inéligible",
    "withdrawn": "retiré",
    "open": "ouvert",
    "closed": "clôturé",
    "evaluation": "évaluation",
    "decided": "décidé",
    "archived": "archivé",
    "cancelled": "annulé",
    "accepted": "accepté",
    "recused": "récusé",
    "reopened": "rouvert",
    "removed": "retiré",
    "contract_preparation": "contrat en préparation",
    "awaiting_signature": "en attente de signature",
    "active": "en cours",
    "suspended": "suspendu",
    "final_reporting": "rapport final",
    "terminated": "résilié",
    "planned": "prévu",
    "requested": "demandé",
    "approved": "approuvé",
    "paid": "payé",
    "due": "attendu",
    "changes_requested": "modifications demandées",
    "concept_note": "note succincte",
    "full_application": "demande complète",
}


def state_name(value: str, language: str) -> str:
    """A workflow state or stage in words, in `language`."""
    if language.startswith("fr") and value in FRENCH_LABELS:
        return FRENCH_LABELS[value]
    return value.replace("_", " ")
