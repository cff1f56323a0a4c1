"""The frozen copy of an application as submitted, and its hash."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from ..models import Application


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def application_snapshot(app: Application) -> dict[str, Any]:
    """Everything the applicant submitted, as plain JSON."""
    primary = next((link.domain_number for link in app.jvap_links if link.is_primary), None)
    return {
        "reference": app.reference,
        "call": app.call.code,
        "stage": app.stage,
        "title": app.title,
        "language": app.language,
        "lead_applicant": {
            "name": app.organisation.name,
            "type": app.organisation.org_type,
            "country": app.organisation.country_iso2,
            "registration_number": app.organisation.registration_number,
        },
        "co_applicants": [
            {"name": o.name, "type": o.org_type, "country": o.country_iso2}
            for o in app.co_applicants
        ],
        "lot": app.lot.code if app.lot else None,
        "requested_amount": _plain(app.requested_amount),
        "total_cost": _plain(app.total_cost),
        "duration_months": app.duration_months,
        "countries": sorted(c.iso2 for c in app.countries),
        "jvap_domains": sorted(link.domain_number for link in app.jvap_links),
        "primary_jvap_domain": primary,
        "dialogues": sorted(d.code for d in app.dialogues),
        "sections": {s.key: s.data for s in sorted(app.sections, key=lambda s: s.key)},
        "budget_lines": [
            {
                "heading": line.heading,
                "description": line.description,
                "unit": line.unit,
                "quantity": _plain(line.quantity),
                "unit_cost": _plain(line.unit_cost),
                "total": _plain(line.total),
            }
            for line in app.budget_lines
        ],
        "attachments": [
            {"kind": a.kind, "filename": a.filename, "sha256": a.sha256}
            for a in sorted(app.attachments, key=lambda a: a.id)
        ],
    }


def snapshot_hash(snapshot: dict[str, Any]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
