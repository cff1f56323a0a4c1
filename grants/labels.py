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

from .services.errors import N_

# The shapes of the models' labels (grants.models: Application, Grant, Payment,
# Report, Assignment).
_SHAPES = {
    "application": re.compile(r"Application (?P<reference>\S+)"),
    "grant": re.compile(r"Grant (?P<number>\S+)"),
    "payment": re.compile(r"Payment (?P<sequence>\d+) of Grant (?P<number>\S+)"),
    "interim_report": re.compile(r"Interim report (?P<sequence>\d+) of Grant (?P<number>\S+)"),
    "final_report": re.compile(r"Final report (?P<sequence>\d+) of Grant (?P<number>\S+)"),
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
    "reports": ("interim_report", "final_report"),
    "assignments": ("assignment", "application"),
}
# Each shape's catalogue messages: as a name (a subject, a list item, a title), and
# inside a sentence, where French needs the article and a small letter ("…concernant
# la demande MMD-…").
_MESSAGES = {
    "application": (N_("Application %(reference)s"), N_("application %(reference)s")),
    "grant": (N_("Grant %(number)s"), N_("grant %(number)s")),
    "payment": (
        N_("Payment %(sequence)s of Grant %(number)s"),
        N_("payment %(sequence)s of grant %(number)s"),
    ),
    "interim_report": (
        N_("Interim report %(sequence)s of Grant %(number)s"),
        N_("interim report %(sequence)s of grant %(number)s"),
    ),
    "final_report": (
        N_("Final report %(sequence)s of Grant %(number)s"),
        N_("final report %(sequence)s of grant %(number)s"),
    ),
    "assignment": (
        N_("Assignment %(id)s (%(evaluator)s on Application %(reference)s)"),
        N_("assignment %(id)s (%(evaluator)s on application %(reference)s)"),
    ),
}
_AS_NAME, _IN_TEXT = 0, 1


def _named(label: str, language: str, object_type: str | None, form: int) -> str:
    """The label in `language` if it has a known shape (of the notice's `object_type`,
    a table name; without one, any shape); free text as written."""
    shapes = _SHAPES_OF.get(object_type, ()) if object_type else tuple(_SHAPES)
    for shape in shapes:
        if found := _SHAPES[shape].fullmatch(label):
            with force_locale(language):
                return _(_MESSAGES[shape][form], **found.groupdict())
    return label


def object_name(label: str, language: str, object_type: str | None = None) -> str:
    """The object a label names, in `language`, as a name: a subject, a list item, a title."""
    return _named(label, language, object_type, _AS_NAME)


def object_in_text(label: str, language: str, object_type: str | None = None) -> str:
    """The same object named inside a sentence."""
    return _named(label, language, object_type, _IN_TEXT)


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


# In French an application (« demande »), a grant (« subvention ») and an evaluation
# assignment (« mission d'évaluation ») are feminine: said of one of them, these states
# agree (« la demande … : retirée »). Said alone they agree with « état », as above.
FEMININE_OBJECTS = frozenset({"applications", "grants", "assignments"})
FRENCH_FEMININE_LABELS = {
    "submitted": "soumise",
    "admin_rejected": "rejetée (contrôle administratif)",
    "invited": "invitée",
    "rejected": "rejetée",
    "lapsed": "caduque",
    "provisionally_selected": "sélectionnée à titre provisoire",
    "awarded": "attribuée",
    "withdrawn": "retirée",
    "closed": "clôturée",
    "accepted": "acceptée",
    "recused": "récusée",
    "reopened": "rouverte",
    "removed": "retirée",
    "suspended": "suspendue",
    "terminated": "résiliée",
}


def state_name(value: str, language: str, object_type: str | None = None) -> str:
    """A workflow state or stage in words, in `language`; agreeing in French with the
    object it is said of, when `object_type` (a table name) is given."""
    if language.startswith("fr"):
        if object_type in FEMININE_OBJECTS and value in FRENCH_FEMININE_LABELS:
            return FRENCH_FEMININE_LABELS[value]
        if value in FRENCH_LABELS:
            return FRENCH_LABELS[value]
    return value.replace("_", " ")
