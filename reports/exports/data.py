"""What every open-data export shares: the grants, loaded at once, and who publishes them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from grants.extensions import db
from grants.models import (
    Application,
    ApplicationPartner,
    Grant,
    Organisation,
    Payment,
)

# The defaults are the programme's own; a deployment overrides them in its config.
DEFAULTS: dict[str, str] = {
    # Assigned by the IATI registry when the programme registers as a publisher;
    # "XI-IATI-" is the prefix of identifiers the IATI itself assigns.
    "IATI_REPORTING_ORG_REF": "XI-IATI-MMD",
    # OrganisationType 40 "Multilateral": the programme is run by an
    # intergovernmental organisation on behalf of the EU.
    "IATI_REPORTING_ORG_TYPE": "40",
    # The EU's Directorate-General for International Partnerships, which funds MMD,
    # under the identifier it publishes its own IATI data with.
    "IATI_FUNDING_ORG_REF": "XI-IATI-EC_INTPA",
    "IATI_FUNDING_ORG_NAME": "European Union",
    "IATI_FUNDING_ORG_TYPE": "40",
    # The Joint Valletta Action Plan, the "vocabulary" the JVAP domains come from.
    "JVAP_VOCABULARY_URI": "https://www.consilium.europa.eu/media/21839/action_plan_en.pdf",
    # Where the published documents (signed contracts) can be fetched from.
    "EXPORT_BASE_URL": "https://grants.mmd.example.org",
    # The 360Giving prefix the programme registers with 360Giving.
    "GIVING360_PREFIX": "360G-MMD",
}


class NothingToExport(ValueError):
    """The format cannot express an empty list (its schema requires at least one grant)."""


@dataclass(frozen=True)
class Publisher:
    """Who publishes the data and who funds it: the settings every export reads."""

    programme_name: str
    reporting_org_ref: str
    reporting_org_type: str
    funding_org_ref: str
    funding_org_name: str
    funding_org_type: str
    jvap_vocabulary_uri: str
    base_url: str
    giving360_prefix: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Publisher:
        def get(key: str) -> str:
            return str(config.get(key) or DEFAULTS[key])

        return cls(
            programme_name=str(config.get("PROGRAMME_NAME") or "MMD Grant Facility"),
            reporting_org_ref=get("IATI_REPORTING_ORG_REF"),
            reporting_org_type=get("IATI_REPORTING_ORG_TYPE"),
            funding_org_ref=get("IATI_FUNDING_ORG_REF"),
            funding_org_name=get("IATI_FUNDING_ORG_NAME"),
            funding_org_type=get("IATI_FUNDING_ORG_TYPE"),
            jvap_vocabulary_uri=get("JVAP_VOCABULARY_URI"),
            base_url=get("EXPORT_BASE_URL").rstrip("/"),
            giving360_prefix=get("GIVING360_PREFIX"),
        )

    def contract_url(self, grant: Grant) -> str:
        return f"{self.base_url}/grants/{grant.number}/contract.pdf"


def load_grants(
    states: Collection[str] | None = None, grant_ids: Collection[int] | None = None
) -> list[Grant]:
    """Grants in number order with everything the exports read, in a fixed number of queries.

    Many-to-one links are joined into the first query; each collection is then
    loaded for all grants at once (selectinload), so the number of queries does
    not grow with the number of grants and rendering issues none.
    """
    organisation = joinedload(Application.organisation).joinedload(Organisation.country)
    query = (
        select(Grant)
        .options(
            selectinload(Grant.payments),
            selectinload(Grant.contracts),
            joinedload(Grant.application).options(
                joinedload(Application.call),
                organisation,
                selectinload(Application.partners)
                .joinedload(ApplicationPartner.organisation)
                .joinedload(Organisation.country),
                selectinload(Application.countries),
                selectinload(Application.dialogues),
                selectinload(Application.jvap_links),
                selectinload(Application.sections),
            ),
        )
        .order_by(Grant.number)
    )
    if states is not None:
        query = query.where(Grant.state.in_(list(states)))
    if grant_ids is not None:
        query = query.where(Grant.id.in_(list(grant_ids)))
    return list(db.session.scalars(query))


def description(grant: Grant) -> str:
    """The action's summary as the applicant wrote it, or its title when there is none."""
    text = grant.application.section_data("summary").get("text")
    return str(text).strip() if text and str(text).strip() else grant.application.title


def implementing_organisations(grant: Grant) -> list[Organisation]:
    """The grantee first, then its co-applicants (affiliated entities do not sign)."""
    return [grant.application.organisation, *grant.application.co_applicants]


def equal_shares(count: int, total: Decimal = Decimal("100")) -> list[Decimal]:
    """`count` shares of `total` to two places that add up to it exactly (the last takes the rest).

    Recipient countries and sectors have no weights of their own in an
    application, so each gets an equal part of 100%.
    """
    if count <= 0:
        return []
    share = (total / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return [share] * (count - 1) + [total - share * (count - 1)]


def money(amount: Decimal) -> str:
    """An amount as exact text with two decimals: money is never a float here."""
    return f"{amount.quantize(Decimal('0.01')):f}"


def paid_payments(grant: Grant) -> list[Payment]:
    return [p for p in grant.payments if p.state == "paid" and p.paid_at is not None]
