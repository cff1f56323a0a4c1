"""Open-data exports of the grants: IATI 2.03 activity XML, 360Giving JSON, JVAP records.

Each function takes grants loaded by `load_grants` (every relationship the
exports read, loaded for all grants at once) and returns the document; the
publisher's identifiers come from the app config (see `data.DEFAULTS`).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app

from grants.models import Grant

from .data import DEFAULTS, NothingToExport, Publisher, load_grants
from .giving360 import giving360_package
from .iati import iati_activities
from .jvap import jvap_csv, jvap_json

__all__ = [
    "DEFAULTS",
    "NothingToExport",
    "Publisher",
    "export_360giving",
    "export_iati",
    "export_jvap_csv",
    "export_jvap_json",
    "load_grants",
]


def _publisher() -> Publisher:
    return Publisher.from_config(current_app.config)


def export_iati(grants: Sequence[Grant]) -> bytes:
    """IATI activity XML; raises NothingToExport for no grants (the schema needs one)."""
    return iati_activities(grants, _publisher())


def export_360giving(grants: Sequence[Grant]) -> str:
    """A 360Giving package; raises NothingToExport when no grant was made."""
    return giving360_package(grants, _publisher())


def export_jvap_csv(grants: Sequence[Grant]) -> str:
    return jvap_csv(grants, _publisher())


def export_jvap_json(grants: Sequence[Grant]) -> str:
    return jvap_json(grants, _publisher())
