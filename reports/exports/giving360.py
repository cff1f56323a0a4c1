"""360Giving Data Standard 1.4.3: a package of the grants awarded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from grants import clock
from grants.models import Grant, Organisation

from .data import NothingToExport, Publisher, description, paid_payments

SCHEMA_VERSION = "1.4"
# Grants whose contract was never signed: the award did not take effect, so
# 360Giving, a record of grants made, leaves them out.
NOT_MADE = frozenset({"lapsed"})
ORGANISATION_TYPES = {
    "cso": "Civil society organisation",
    "local_authority": "Local authority",
    "diaspora": "Diaspora organisation",
}


def giving360_package(
    grants: Sequence[Grant], publisher: Publisher, generated_at: datetime | None = None
) -> str:
    """The grants as a 360Giving JSON package.

    Raises NothingToExport when no grant is left to publish: the package
    schema requires at least one grant.
    """
    made = [g for g in grants if g.state not in NOT_MADE]
    if not made:
        raise NothingToExport("a 360Giving package must hold at least one grant")
    generated = generated_at or clock.now()
    package = {
        "version": SCHEMA_VERSION,
        "title": f"{publisher.programme_name}: grants awarded",
        "issued": generated.date().isoformat(),
        "modified": generated.isoformat(timespec="seconds"),
        "publisher": {"identifier": publisher.reporting_org_ref, "name": publisher.programme_name},
        "grants": [grant_record(g, publisher) for g in made],
    }
    return json.dumps(package, ensure_ascii=False, indent=2) + "\n"


def grant_identifier(grant: Grant, publisher: Publisher) -> str:
    return f"{publisher.giving360_prefix}-{grant.number}"


def organisation_identifier(organisation: Organisation, publisher: Publisher) -> str:
    """Our own stable identifier under the 360Giving prefix.

    360Giving asks for a registered organisation identifier where one is
    known; for applicants from dozens of countries we hold none, and the
    guidance then wants the publisher's prefix with its own record id.
    """
    return f"{publisher.giving360_prefix}-ORG-{organisation.id}"


def grant_record(grant: Grant, publisher: Publisher) -> dict[str, Any]:
    application = grant.application
    organisation = application.organisation
    record: dict[str, Any] = {
        "id": grant_identifier(grant, publisher),
        "title": application.title,
        "description": description(grant),
        "currency": grant.currency,
        "amountAwarded": _number(grant.amount),
        "awardDate": grant.awarded_at.date().isoformat(),
        "plannedDates": [
            {
                "startDate": grant.start_date.isoformat(),
                "endDate": grant.end_date.isoformat(),
            }
        ],
        "recipientOrganization": [
            {
                "id": organisation_identifier(organisation, publisher),
                "name": organisation.name,
                "addressCountry": organisation.country.name,
                "organisationType": ORGANISATION_TYPES[organisation.org_type],
                **({"url": organisation.website} if _is_url(organisation.website) else {}),
            }
        ],
        "fundingOrganization": [
            {"id": publisher.reporting_org_ref, "name": publisher.programme_name}
        ],
        "grantProgramme": [{"code": application.call.code, "title": application.call.title}],
        "fromOpenCall": "Yes",  # every grant comes from a published call for proposals
        "beneficiaryLocation": [
            {"id": c.iso2, "name": c.name, "countryCode": c.iso2}
            for c in sorted(application.countries, key=lambda c: c.iso2)
        ],
        "classifications": [
            {
                "vocabulary": publisher.jvap_vocabulary_uri,
                "code": str(d.number),
                "title": f"JVAP domain {d.number}: {d.title}",
            }
            for d in sorted(application.jvap_domains, key=lambda d: d.number)
        ]
        + [
            {"vocabulary": "MMD dialogue", "code": d.code, "title": d.name}
            for d in sorted(application.dialogues, key=lambda d: d.code)
        ],
    }
    paid = paid_payments(grant)
    if paid:
        amounts = [p.amount if p.amount is not None else p.planned_amount for p in paid]
        record["amountDisbursed"] = _number(sum(amounts, Decimal("0")))
        record["disbursementTransaction"] = [
            {
                "id": f"{record['id']}-P{p.sequence}",
                "transactionDate": p.paid_at.date().isoformat(),
                "currency": grant.currency,
                "value": _number(amount),
            }
            for p, amount in zip(paid, amounts, strict=True)
        ]
    return record


def _number(amount: Decimal) -> float:
    """JSON has one kind of number. Amounts have at most 14 significant digits
    (Numeric(14, 2)); a double gives any such value back as the same shortest text."""
    return float(amount.quantize(Decimal("0.01")))


def _is_url(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("http://", "https://"))
