"""The call's eligibility rules applied to an application (see grants.rules.eligibility)."""

from __future__ import annotations

from typing import Any

from ..models import Application, Call, Country, Organisation
from ..rules import eligibility as rules

# Rules held in the call's own columns (queried and constrained there); the rest of
# CallRules lives in the call's eligibility_rules JSON.
COLUMN_RULES = (
    "grant_min",
    "grant_max",
    "max_funding_rate",
    "duration_min_months",
    "duration_max_months",
)


def call_rules(call: Call) -> rules.CallRules:
    data: dict[str, Any] = dict(call.eligibility_rules)
    for name in COLUMN_RULES:
        value = getattr(call, name)
        data[name] = value if isinstance(value, int) else str(value)
    return rules.CallRules.from_dict(data)


def rules_json(call_rules_: rules.CallRules) -> dict[str, Any]:
    """What the call stores in eligibility_rules: everything but the column rules."""
    return {k: v for k, v in call_rules_.to_dict().items() if k not in COLUMN_RULES}


def as_country(country: Country) -> rules.Country:
    return rules.Country(country.iso2, country.au_member, country.eu_member)


def as_applicant(organisation: Organisation) -> rules.Applicant:
    return rules.Applicant(
        organisation.org_type, as_country(organisation.country), organisation.name
    )


def as_proposal(app: Application) -> rules.Proposal:
    return rules.Proposal(
        lead=as_applicant(app.organisation),
        co_applicants=tuple(as_applicant(o) for o in app.co_applicants),
        requested_amount=app.requested_amount,
        total_cost=app.total_cost,
        duration_months=app.duration_months,
        countries=tuple(as_country(c) for c in app.countries),
        jvap_domains=tuple(str(link.domain_number) for link in app.jvap_links),
        dialogues=tuple(d.code for d in app.dialogues),
        attachment_kinds=tuple(a.kind for a in app.attachments),
    )


def failures(app: Application) -> list[rules.Failure]:
    """Every eligibility rule the application fails now, with how to fix it."""
    return rules.check_proposal(call_rules(app.call), as_proposal(app))


def missing_parts(app: Application) -> list[str]:
    """The parts of the form still empty; the eligibility rules judge the rest."""
    missing = []
    if not app.title.strip():
        missing.append("the title")
    summary = app.section_data("summary")
    if not str(summary.get("text", "")).strip():
        missing.append("the summary")
    description = app.section_data("description")
    if not str(description.get("text", "")).strip():
        missing.append("the description of the action")
    if app.stage == "full_application" or app.state == "invited":
        if not app.section_data("logframe").get("objectives"):
            missing.append("the logframe")
        if not app.section_data("workplan").get("activities"):
            missing.append("the workplan")
        if not app.budget_lines:
            missing.append("the budget")
    if not any(link.is_primary for link in app.jvap_links):
        missing.append("the primary JVAP domain")
    return missing
