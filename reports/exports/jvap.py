"""Records for the JVAP follow-up database: one per grant, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from grants.models import Grant

from .data import Publisher, implementing_organisations, money

# Every record is a grant-funded project; the follow-up database also holds
# other kinds of initiative (policies, programmes), hence the field.
RECORD_TYPE = "project"
# The follow-up database speaks of an initiative's progress, not of contract steps.
STATUS = {
    "contract_preparation": "planned",
    "awaiting_signature": "planned",
    "active": "ongoing",
    "suspended": "suspended",
    "final_reporting": "ongoing",
    "closed": "completed",
    "terminated": "terminated",
    "lapsed": "cancelled",
}
FIELDS = (
    "reference",
    "title",
    "type",
    "jvap_domains",
    "dialogues",
    "countries",
    "funder",
    "implementing_partners",
    "budget",
    "currency",
    "start_date",
    "end_date",
    "status",
)
# How lists are joined into one CSV cell.
SEPARATOR = "; "


def jvap_record(grant: Grant, publisher: Publisher) -> dict[str, Any]:
    """One record, lists kept as lists; the budget as exact decimal text."""
    application = grant.application
    return {
        "reference": grant.number,
        "title": application.title,
        "type": RECORD_TYPE,
        "jvap_domains": [
            {"number": d.number, "title": d.title}
            for d in sorted(application.jvap_domains, key=lambda d: d.number)
        ],
        "dialogues": [
            {"code": d.code, "name": d.name}
            for d in sorted(application.dialogues, key=lambda d: d.code)
        ],
        "countries": [
            {"iso2": c.iso2, "name": c.name}
            for c in sorted(application.countries, key=lambda c: c.iso2)
        ],
        "funder": publisher.funding_org_name,
        "implementing_partners": [
            {"name": o.name, "country": o.country.iso2} for o in implementing_organisations(grant)
        ],
        "budget": money(grant.amount),
        "currency": grant.currency,
        "start_date": grant.start_date.isoformat(),
        "end_date": grant.end_date.isoformat(),
        "status": STATUS[grant.state],
    }


def jvap_json(grants: Sequence[Grant], publisher: Publisher) -> str:
    """A JSON array of records (empty when there are no grants)."""
    records = [jvap_record(g, publisher) for g in grants]
    return json.dumps(records, ensure_ascii=False, indent=2) + "\n"


def jvap_csv(grants: Sequence[Grant], publisher: Publisher) -> str:
    """CSV with a header row (only the header when there are no grants); lists joined by "; "."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for grant in grants:
        record = jvap_record(grant, publisher)
        writer.writerow(
            {
                **record,
                "jvap_domains": SEPARATOR.join(
                    f"{d['number']}. {d['title']}" for d in record["jvap_domains"]
                ),
                "dialogues": SEPARATOR.join(d["name"] for d in record["dialogues"]),
                "countries": SEPARATOR.join(c["name"] for c in record["countries"]),
                "implementing_partners": SEPARATOR.join(
                    p["name"] for p in record["implementing_partners"]
                ),
            }
        )
    return out.getvalue()
