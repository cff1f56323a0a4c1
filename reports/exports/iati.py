"""IATI Standard 2.03 activity XML: one activity per grant, from award onwards.

Only codes from the IATI 2.03 codelists are written; the tests check every
one of them against the official lists, which the schema alone does not.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from grants import clock
from grants.models import Grant, Organisation

from .data import (
    NothingToExport,
    Publisher,
    description,
    equal_shares,
    implementing_organisations,
    money,
    paid_payments,
)

IATI_VERSION = "2.03"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# ActivityStatus: where the grant's own state puts the activity.
ACTIVITY_STATUS = {
    "contract_preparation": "1",  # Pipeline/identification: awarded, not yet contracted
    "awaiting_signature": "1",
    "active": "2",  # Implementation
    "suspended": "6",  # Suspended
    "final_reporting": "3",  # Finalisation: implementation over, final report and balance due
    "closed": "4",  # Closed
    "terminated": "5",  # Cancelled: ended before its term
    "lapsed": "5",  # Cancelled: the contract was never signed
}
# States in which the contract was signed, so the money is committed and work began.
SIGNED_STATES = frozenset({"active", "suspended", "final_reporting", "closed", "terminated"})

# OrganisationRole
ROLE_FUNDING, ROLE_ACCOUNTABLE, ROLE_IMPLEMENTING = "1", "2", "4"
# ActivityDateType
PLANNED_START, ACTUAL_START, PLANNED_END, ACTUAL_END = "1", "2", "3", "4"
# TransactionType
OUTGOING_COMMITMENT, DISBURSEMENT = "2", "3"
# SectorVocabulary: OECD DAC CRS 5-digit purpose codes, and the reporting organisation's own.
VOCABULARY_DAC5, VOCABULARY_REPORTING_ORG = "1", "99"
# Sector 15190: "Facilitation of orderly, safe, regular and responsible migration and mobility".
SECTOR_MIGRATION = "15190"
SECTOR_MIGRATION_NAME = (
    "Facilitation of orderly, safe, regular and responsible migration and mobility"
)
# BudgetType 1 "Original"; BudgetStatus 1 "Indicative", 2 "Committed".
BUDGET_ORIGINAL, BUDGET_INDICATIVE, BUDGET_COMMITTED = "1", "1", "2"
# FlowType 10 "ODA", FinanceType 110 "Standard grant", AidType C01 "Project-type interventions".
FLOW_ODA, FINANCE_GRANT, AID_PROJECT = "10", "110", "C01"
# DescriptionType 1 "General"; DocumentCategory A11 "Contract".
DESCRIPTION_GENERAL, DOCUMENT_CONTRACT = "1", "A11"
# OrganisationType: 11 "Local Government", 22 "National NGO" (based in a provider
# country, here the EU), 24 "Partner Country based NGO".
ORG_LOCAL_GOVERNMENT, ORG_NATIONAL_NGO, ORG_PARTNER_COUNTRY_NGO = "11", "22", "24"

# Characters XML 1.0 cannot carry: user text may hold them, and one makes the file unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def iati_activities(
    grants: Sequence[Grant], publisher: Publisher, generated_at: datetime | None = None
) -> bytes:
    """The grants as an `<iati-activities>` document (UTF-8, with XML declaration).

    Raises NothingToExport for an empty list: the schema requires at least one activity.
    """
    if not grants:
        raise NothingToExport("IATI activity files must hold at least one activity")
    generated = generated_at or clock.now()
    root = ET.Element(
        "iati-activities",
        {"version": IATI_VERSION, "generated-datetime": generated.isoformat(timespec="seconds")},
    )
    today = generated.date()
    for grant in grants:
        root.append(_activity(grant, publisher, today))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def activity_identifier(grant: Grant, publisher: Publisher) -> str:
    """Stable: the publisher's organisation identifier, then the grant's number, never reused."""
    return f"{publisher.reporting_org_ref}-{grant.number}"


def organisation_type(organisation: Organisation) -> str:
    if organisation.org_type == "local_authority":
        return ORG_LOCAL_GOVERNMENT
    # CSOs and diaspora organisations are NGOs; where they sit decides which kind.
    return ORG_NATIONAL_NGO if organisation.country.eu_member else ORG_PARTNER_COUNTRY_NGO


def _activity(grant: Grant, publisher: Publisher, today: date) -> ET.Element:
    application = grant.application
    activity = ET.Element(
        "iati-activity",
        {XML_LANG: application.language, "default-currency": grant.currency},
    )
    _text(activity, "iati-identifier", activity_identifier(grant, publisher))
    reporting = _sub(
        activity,
        "reporting-org",
        ref=publisher.reporting_org_ref,
        type=publisher.reporting_org_type,
    )
    _narrative(reporting, publisher.programme_name, "en")
    _narrative(_sub(activity, "title"), application.title)
    _narrative(_sub(activity, "description", type=DESCRIPTION_GENERAL), description(grant))

    funder = _sub(
        activity,
        "participating-org",
        ref=publisher.funding_org_ref,
        role=ROLE_FUNDING,
        type=publisher.funding_org_type,
    )
    _narrative(funder, publisher.funding_org_name, "en")
    accountable = _sub(
        activity,
        "participating-org",
        ref=publisher.reporting_org_ref,
        role=ROLE_ACCOUNTABLE,
        type=publisher.reporting_org_type,
    )
    _narrative(accountable, publisher.programme_name, "en")
    for organisation in implementing_organisations(grant):
        # No `ref`: we know no registration agency's identifier for applicants,
        # and IATI prefers no identifier to an invented one.
        implementer = _sub(
            activity,
            "participating-org",
            role=ROLE_IMPLEMENTING,
            type=organisation_type(organisation),
        )
        _narrative(implementer, organisation.name)

    _sub(activity, "activity-status", code=ACTIVITY_STATUS[grant.state])
    _dated(activity, "activity-date", grant.start_date, type=PLANNED_START)
    # Actual dates may not lie in the future: only what has happened is reported.
    if grant.state in SIGNED_STATES and grant.start_date <= today:
        _dated(activity, "activity-date", grant.start_date, type=ACTUAL_START)
    _dated(activity, "activity-date", grant.end_date, type=PLANNED_END)
    if grant.state == "closed" and grant.end_date <= today:
        _dated(activity, "activity-date", grant.end_date, type=ACTUAL_END)

    countries = sorted(application.countries, key=lambda c: c.iso2)
    for country, share in zip(countries, equal_shares(len(countries)), strict=True):
        recipient = _sub(activity, "recipient-country", code=country.iso2, percentage=str(share))
        _narrative(recipient, country.name, "en")

    sector = _sub(
        activity, "sector", vocabulary=VOCABULARY_DAC5, code=SECTOR_MIGRATION, percentage="100"
    )
    _narrative(sector, SECTOR_MIGRATION_NAME, "en")
    domains = sorted(application.jvap_domains, key=lambda d: d.number)
    for domain, share in zip(domains, equal_shares(len(domains)), strict=True):
        jvap = _sub(
            activity,
            "sector",
            vocabulary=VOCABULARY_REPORTING_ORG,
            **{"vocabulary-uri": publisher.jvap_vocabulary_uri},
            code=str(domain.number),
            percentage=str(share),
        )
        _narrative(jvap, f"JVAP domain {domain.number}: {domain.title}", "en")

    _sub(activity, "default-flow-type", code=FLOW_ODA)
    _sub(activity, "default-finance-type", code=FINANCE_GRANT)
    _sub(activity, "default-aid-type", code=AID_PROJECT)

    signed = grant.signed_at is not None and grant.state in SIGNED_STATES
    status = BUDGET_COMMITTED if signed else BUDGET_INDICATIVE
    for start, end, amount in budget_periods(grant.start_date, grant.end_date, grant.amount):
        budget = _sub(activity, "budget", type=BUDGET_ORIGINAL, status=status)
        _dated(budget, "period-start", start)
        _dated(budget, "period-end", end)
        _text(budget, "value", money(amount), **{"value-date": start.isoformat()})

    if signed and grant.signed_at is not None:
        _transaction(
            activity,
            OUTGOING_COMMITMENT,
            grant.signed_at.date(),
            grant.amount,
            "Grant contract signed",
            publisher,
            grant,
        )
    for payment in paid_payments(grant):
        _transaction(
            activity,
            DISBURSEMENT,
            payment.paid_at.date(),
            payment.amount if payment.amount is not None else payment.planned_amount,
            f"Payment {payment.sequence}: {payment.kind.replace('_', ' ')}",
            publisher,
            grant,
        )

    # The contract is published once signed: before that it is a draft, not a document.
    contract = grant.current_contract
    if signed and contract is not None and grant.signed_at is not None:
        link = _sub(
            activity, "document-link", url=publisher.contract_url(grant), format="application/pdf"
        )
        _narrative(_sub(link, "title"), f"Grant contract {grant.number}", "en")
        _sub(link, "category", code=DOCUMENT_CONTRACT)
        _sub(link, "language", code=application.language)
        _dated(link, "document-date", grant.signed_at.date())
    return activity


def budget_periods(start: date, end: date, amount: Decimal) -> list[tuple[date, date, Decimal]]:
    """The grant's budget cut into periods of at most a year, shared by days, adding up exactly.

    IATI's rules hold a budget period to one year at most; grants run up to
    several years, so one period per year of the grant.
    """
    periods: list[tuple[date, date]] = []
    period_start = start
    while period_start <= end:
        try:
            year_later = period_start.replace(year=period_start.year + 1)
        except ValueError:  # 29 February: the year after has none
            year_later = period_start.replace(year=period_start.year + 1, day=28)
        period_end = min(end, date.fromordinal(year_later.toordinal() - 1))
        periods.append((period_start, period_end))
        period_start = date.fromordinal(period_end.toordinal() + 1)
    total_days = (end - start).days + 1
    result: list[tuple[date, date, Decimal]] = []
    allocated = Decimal("0")
    for index, (p_start, p_end) in enumerate(periods):
        if index == len(periods) - 1:
            share = amount - allocated
        else:
            days = (p_end - p_start).days + 1
            share = (amount * days / total_days).quantize(Decimal("0.01"))
        allocated += share
        result.append((p_start, p_end, share))
    return result


def _transaction(
    activity: ET.Element,
    kind: str,
    on: date,
    amount: Decimal,
    text: str,
    publisher: Publisher,
    grant: Grant,
) -> None:
    transaction = _sub(activity, "transaction")
    _sub(transaction, "transaction-type", code=kind)
    _dated(transaction, "transaction-date", on)
    _text(transaction, "value", money(amount), **{"value-date": on.isoformat()})
    _narrative(_sub(transaction, "description"), text, "en")
    provider = _sub(
        transaction,
        "provider-org",
        ref=publisher.reporting_org_ref,
        type=publisher.reporting_org_type,
    )
    _narrative(provider, publisher.programme_name, "en")
    grantee = grant.application.organisation
    receiver = _sub(transaction, "receiver-org", type=organisation_type(grantee))
    _narrative(receiver, grantee.name)


def _sub(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, attributes)


def _dated(parent: ET.Element, tag: str, on: date, **attributes: str) -> ET.Element:
    return _sub(parent, tag, **attributes, **{"iso-date": on.isoformat()})


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = _sub(parent, tag, **attributes)
    element.text = text
    return element


def _narrative(parent: ET.Element, text: str, language: str | None = None) -> None:
    """A narrative; its language only where it differs from the activity's (our own texts)."""
    attributes = {XML_LANG: language} if language else {}
    element = ET.SubElement(parent, "narrative", attributes)
    element.text = _NOT_XML.sub("", text)
