"""The application form: starting, saving each section with conflict detection, submitting.

Every section of the form is saved on its own. Each has an `ApplicationSection`
row whose version (SQLAlchemy's version_id_col) is the section's lock: a save
names the version it was typed against; when someone saved the section since,
the save is refused with both versions (`SectionConflict`) and nothing is
overwritten. The row's UPDATE ... WHERE version = n also catches two saves
racing between the check and the commit.

Sections whose content lives in related rows (JVAP domains and dialogues,
countries, co-applicant, budget lines) keep a copy of what was saved in their
section row, so a conflict can show it and the version covers them too.

State changes (submit, submit_full, withdraw) go through `transition()` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from .. import policy
from ..clock import now
from ..extensions import db
from ..models import (
    BUDGET_HEADINGS,
    ORGANISATION_TYPES,
    Application,
    ApplicationJvapDomain,
    ApplicationPartner,
    ApplicationSection,
    BudgetLine,
    Call,
    Country,
    Dialogue,
    EvaluationResult,
    Membership,
    Organisation,
    Submission,
    User,
)
from ..rules import eligibility as rules
from . import eligibility
from .actors import Actor
from .errors import N_, ConcurrentChange, NotFound, PermissionDenied, ValidationFailed
from .transitions import allowed_transitions, transition

# The form, in order. "attachments" is not a saved section: files are uploaded one by one.
SECTIONS = (
    "summary",
    "domains",
    "countries",
    "partners",
    "description",
    "logframe",
    "workplan",
    "budget",
)
FORM_PARTS = (*SECTIONS, "attachments")
# What the concept note holds: scored at that stage, so frozen once invited to apply in full.
CONCEPT_NOTE_SECTIONS = ("summary", "domains", "countries", "partners", "description")
FULL_APPLICATION_SECTIONS = ("logframe", "workplan", "budget")

# Limits shown while typing and enforced here.
LIMITS: dict[str, int] = {
    "title": 300,
    "summary": 2000,
    "description": 10000,
    "target_groups": 3000,
    "sustainability": 3000,
    "row_text": 500,
    "activity": 300,
    "budget_description": 300,
    "unit": 40,
    "logframe_rows": 12,
    "workplan_rows": 24,
    "budget_lines": 60,
    "months": 120,
}
MAX_AMOUNT = Decimal("99999999.99")
CENT = Decimal("0.01")

EDITABLE_STATES = ("draft", "invited")
DRAFT_STATES = ("draft",)


class SectionConflict(ConcurrentChange):
    """Someone saved the section since it was loaded: theirs and yours, nothing overwritten."""

    def __init__(
        self,
        key: str,
        current: dict[str, Any],
        yours: dict[str, Any],
        section: ApplicationSection,
        updated_by: str | None,
    ):
        super().__init__(
            N_(
                "someone else saved this section since you opened it; your text is kept below "
                "next to theirs: merge them and save again"
            )
        )
        self.key = key
        self.current = current
        self.yours = yours
        self.version = section.version
        self.updated_at: datetime = section.updated_at
        self.updated_by = updated_by

    @property
    def changed_fields(self) -> list[str]:
        keys = list(dict.fromkeys([*self.current, *self.yours]))
        return [k for k in keys if self.current.get(k) != self.yours.get(k)]


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def get_application(actor: Actor, application_id: int) -> Application:
    """The application, if the actor may know it exists; NotFound (404) otherwise."""
    found = db.session.get(Application, application_id)
    if found is None or not policy.can_view(actor, found):
        raise NotFound(N_("no such application"))
    return found


def can_edit(actor: Actor, app: Application) -> bool:
    return bool(policy.can_edit_application(actor, app))


def is_section_locked(app: Application, key: str) -> bool:
    """Concept-note content cannot change once the application is invited to apply in full."""
    return app.state == "invited" and key in CONCEPT_NOTE_SECTIONS


def sections_for(app: Application) -> tuple[str, ...]:
    """The parts the applicant fills at the application's current stage."""
    if app.call.is_two_stage and app.state == "draft":
        return (*CONCEPT_NOTE_SECTIONS, "attachments")
    return FORM_PARTS


def section_row(app: Application, key: str) -> ApplicationSection:
    row = app.section(key)
    if row is None:  # applications created before this form had every section row
        row = ApplicationSection(key=key, data={})
        app.sections.append(row)
        db.session.flush()
    return row


def _text(value: Any) -> str:
    return str(value or "").replace("\r\n", "\n").strip()


def _amount(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return f"{Decimal(str(value)).quantize(CENT)}"


def current_data(app: Application, key: str) -> dict[str, Any]:
    """The section as stored, in the shape `save_section` takes."""
    stored = app.section_data(key)
    if key == "summary":
        return {
            "title": app.title,
            "text": stored.get("text", ""),
            "requested_amount": _amount(app.requested_amount),
            "total_cost": _amount(stored.get("total_cost") or app.total_cost),
            "duration_months": app.duration_months,
        }
    if key == "domains":
        return {
            "primary": next((x.domain_number for x in app.jvap_links if x.is_primary), None),
            "secondary": sorted(x.domain_number for x in app.jvap_links if not x.is_primary),
            "dialogues": sorted(d.code for d in app.dialogues),
        }
    if key == "countries":
        return {"countries": sorted(c.iso2 for c in app.countries)}
    if key == "partners":
        co = next((p.organisation for p in app.partners if p.role == "co_applicant"), None)
        return {
            "co_applicant": None
            if co is None
            else {
                "name": co.name,
                "org_type": co.org_type,
                "country_iso2": co.country_iso2,
                "registration_number": co.registration_number,
            }
        }
    if key == "description":
        return {k: stored.get(k, "") for k in ("text", "target_groups", "sustainability")}
    if key == "logframe":
        return {"objectives": list(stored.get("objectives", []))}
    if key == "workplan":
        return {"activities": list(stored.get("activities", []))}
    if key == "budget":
        return {
            "lines": [
                {
                    "heading": line.heading,
                    "description": line.description,
                    "unit": line.unit,
                    "quantity": f"{line.quantity.normalize():f}",
                    "unit_cost": _amount(line.unit_cost),
                }
                for line in app.budget_lines
            ]
        }
    raise NotFound(N_("no such part of the form: %(key)s"), params={"key": key})


def form_values(key: str, data: dict[str, Any]) -> dict[str, Any]:
    """A section's data as the form shows it: the logframe as one row per indicator."""
    if key != "logframe":
        return data
    rows = []
    for objective in data.get("objectives") or []:
        if "results" not in objective:
            rows.append(objective)  # a posted row, shown as typed
            continue
        first_of_objective = True
        for result in objective.get("results") or [{"result": "", "indicators": []}]:
            first_of_result = True
            for indicator in result.get("indicators") or [{}]:
                rows.append(
                    {
                        "objective": objective.get("objective", "") if first_of_objective else "",
                        "result": result.get("result", "") if first_of_result else "",
                        "indicator": indicator.get("indicator", ""),
                        "baseline": indicator.get("baseline", ""),
                        "target": indicator.get("target", ""),
                    }
                )
                first_of_objective = first_of_result = False
    return {"objectives": rows}


@dataclass(frozen=True)
class BudgetSummary:
    by_heading: dict[str, Decimal]
    total: Decimal
    requested: Decimal | None
    co_financing: Decimal | None
    funding_rate: Decimal | None


def budget_summary(app: Application) -> BudgetSummary:
    by_heading: dict[str, Decimal] = {}
    for line in app.budget_lines:
        by_heading[line.heading] = by_heading.get(line.heading, Decimal("0.00")) + line.total
    total = app.total_cost or Decimal("0.00")
    requested = app.requested_amount
    co = (total - requested) if requested is not None and total else None
    rate = (requested / total).quantize(Decimal("0.0001")) if requested and total else None
    return BudgetSummary(by_heading, total, requested, co, rate)


# --------------------------------------------------------------------------
# Starting an application
# --------------------------------------------------------------------------


def start_application(actor: User, call_id: int, organisation_id: int) -> Application:
    """A new draft for the organisation (or its existing one for this call)."""
    call = db.session.get(Call, call_id)
    if call is None or not policy.can_view(actor, call):
        raise NotFound(N_("no such call"))
    membership = actor.membership_in(organisation_id)
    if membership is None:
        raise NotFound(N_("no such organisation"))
    if not membership.can_edit:
        raise PermissionDenied(
            N_("only owners and editors of the organisation may start an application")
        )
    existing = db.session.scalar(
        select(Application).where(
            Application.call_id == call.id,
            Application.organisation_id == organisation_id,
            Application.state != "withdrawn",
        )
    )
    if existing is not None:
        return existing
    if call.state != "open" or now() > call.deadline_at:
        raise ValidationFailed(
            N_("call %(code)s is not open for applications"), params={"code": call.code}
        )
    app = Application(
        call=call,
        organisation_id=organisation_id,
        created_by=actor,
        state="draft",
        language=actor.language,
    )
    app.sections = [
        ApplicationSection(key=key, data={}, updated_by_id=actor.id) for key in SECTIONS
    ]
    db.session.add(app)
    db.session.commit()
    return app


# --------------------------------------------------------------------------
# Saving a section
# --------------------------------------------------------------------------


def save_section(
    actor: User, application_id: int, key: str, version: int | None, data: dict[str, Any]
) -> ApplicationSection:
    """Save one section typed against `version`; SectionConflict if someone saved it since."""
    if key not in SECTIONS:
        raise NotFound(N_("no such part of the form: %(key)s"), params={"key": key})
    for attempt in range(3):
        app = get_application(actor, application_id)
        allowed = policy.can_edit_application(actor, app)
        if not allowed:
            raise PermissionDenied(allowed.reason)
        if is_section_locked(app, key):
            raise PermissionDenied(
                N_("this part was scored at the concept-note stage and can no longer change")
            )
        row = section_row(app, key)
        clean = _clean(app, key, data)
        if version is not None and version != row.version:
            if clean == current_data(app, key):
                return row  # the same content was saved already: nothing to merge
            raise _conflict(app, key, row, clean)
        try:
            _apply(app, key, clean, actor)
            row.data = _stored(key, clean)
            row.updated_at = now()
            row.updated_by_id = actor.id
            db.session.commit()
            return row
        except (StaleDataError, IntegrityError):
            db.session.rollback()
            db.session.expire_all()
            # Decide again from fresh rows: a newer section version is a conflict;
            # a change to another part of the application only needs a retry.
            if attempt == 2:
                raise ConcurrentChange(
                    N_("the application was changed by someone else at the same time; try again")
                ) from None
    raise AssertionError("unreachable")


def _conflict(
    app: Application, key: str, row: ApplicationSection, yours: dict[str, Any]
) -> SectionConflict:
    editor = db.session.get(User, row.updated_by_id) if row.updated_by_id else None
    return SectionConflict(key, current_data(app, key), yours, row, editor.name if editor else None)


def _stored(key: str, clean: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in clean.items() if not k.startswith("_")}


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed(N_("some fields need correcting; nothing was lost"), errors)


def _limit(errors: dict[str, list[str]], field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors.setdefault(field, []).append(f"at most {limit} characters ({len(value)} typed)")


def _decimal(
    errors: dict[str, list[str]],
    field: str,
    value: Any,
    *,
    positive: bool = False,
    required: bool = False,
) -> Decimal | None:
    if value is None or str(value).strip() == "":
        if required:
            errors.setdefault(field, []).append("required")
        return None
    try:
        number = Decimal(str(value).strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        errors.setdefault(field, []).append("not a number")
        return None
    if not number.is_finite() or number < 0 or (positive and number == 0) or number > MAX_AMOUNT:
        errors.setdefault(field, []).append(
            f"must be {'above' if positive else 'at least'} 0 and at most {MAX_AMOUNT:,}"
        )
        return None
    return number


def _int(errors: dict[str, list[str]], field: str, value: Any, low: int, high: int) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        errors.setdefault(field, []).append("a whole number")
        return None
    if not low <= number <= high:
        errors.setdefault(field, []).append(f"between {low} and {high}")
        return None
    return number


def _clean(app: Application, key: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate one section's data; ValidationFailed names every field to correct."""
    errors: dict[str, list[str]] = {}
    call = app.call
    if key == "summary":
        title, text = _text(data.get("title")), _text(data.get("text"))
        _limit(errors, "title", title, LIMITS["title"])
        _limit(errors, "text", text, LIMITS["summary"])
        requested = _decimal(
            errors, "requested_amount", data.get("requested_amount"), positive=True
        )
        total = _decimal(errors, "total_cost", data.get("total_cost"), positive=True)
        if requested is not None and total is not None and requested > total:
            errors.setdefault("requested_amount", []).append(
                "cannot exceed the total cost of the action"
            )
        duration = _int(errors, "duration_months", data.get("duration_months"), 1, LIMITS["months"])
        _fail(errors)
        if app.budget_lines and requested is not None and requested > app.budget_total:
            errors.setdefault("requested_amount", []).append(
                f"cannot exceed the budget total of {call.currency} {app.budget_total:,.2f}"
            )
        _fail(errors)
        return {
            "title": title,
            "text": text,
            "requested_amount": _amount(requested),
            "total_cost": _amount(total),
            "duration_months": duration,
        }
    if key == "domains":
        offered = {d.number for d in call.jvap_domains}
        dialogues = {d.code for d in call.dialogues}
        primary = _int(errors, "primary", data.get("primary"), 1, 99)
        if primary is not None and primary not in offered:
            errors.setdefault("primary", []).append("choose a domain of this call")
        secondary = sorted({int(x) for x in data.get("secondary") or [] if str(x).isdigit()})
        if any(x not in offered for x in secondary):
            errors.setdefault("secondary", []).append("choose domains of this call")
        secondary = [x for x in secondary if x != primary]
        chosen = sorted({str(x) for x in data.get("dialogues") or []})
        if any(x not in dialogues for x in chosen):
            errors.setdefault("dialogues", []).append("choose dialogues of this call")
        if secondary and primary is None:
            errors.setdefault("primary", []).append("choose the primary domain first")
        _fail(errors)
        return {"primary": primary, "secondary": secondary, "dialogues": chosen}
    if key == "countries":
        chosen = sorted({str(x).upper() for x in data.get("countries") or []})
        known = set(db.session.scalars(select(Country.iso2).where(Country.iso2.in_(chosen))))
        if set(chosen) - known:
            errors["countries"] = ["choose listed countries"]
        _fail(errors)
        return {"countries": chosen}
    if key == "partners":
        co = data.get("co_applicant")
        if not co or not any(_text(v) for v in co.values()):
            return {"co_applicant": None}
        cleaned = {
            k: _text(co.get(k)) for k in ("name", "org_type", "country_iso2", "registration_number")
        }
        if not cleaned["name"]:
            errors["co_name"] = ["required"]
        _limit(errors, "co_name", cleaned["name"], 300)
        if cleaned["org_type"] not in ORGANISATION_TYPES:
            errors["co_org_type"] = ["choose a listed type"]
        if db.session.get(Country, cleaned["country_iso2"] or "") is None:
            errors["co_country_iso2"] = ["choose a listed country"]
        if not cleaned["registration_number"]:
            errors["co_registration_number"] = ["required"]
        _limit(errors, "co_registration_number", cleaned["registration_number"], 100)
        if cleaned["country_iso2"] == app.organisation.country_iso2 and (
            cleaned["registration_number"] == app.organisation.registration_number
        ):
            errors["co_registration_number"] = ["the co-applicant cannot be the lead applicant"]
        _fail(errors)
        return {"co_applicant": cleaned}
    if key == "description":
        out = {}
        for field, limit in (
            ("text", "description"),
            ("target_groups", "target_groups"),
            ("sustainability", "sustainability"),
        ):
            out[field] = _text(data.get(field))
            _limit(errors, field, out[field], LIMITS[limit])
        _fail(errors)
        return out
    if key == "logframe":
        objectives: list[dict[str, Any]] = []
        count = 0
        for n, raw in enumerate(data.get("objectives") or []):
            if "results" in raw:  # already in the stored shape
                objectives.append(raw)
                continue
            row = {
                k: _text(raw.get(k))
                for k in ("objective", "result", "indicator", "baseline", "target")
            }
            if not any(row.values()):
                continue
            count += 1
            for field, value in row.items():
                _limit(errors, f"objectives-{n}-{field}", value, LIMITS["row_text"])
            # A row without an objective continues the one above; likewise for results.
            if row["objective"] or not objectives:
                if not row["objective"]:
                    errors.setdefault(f"objectives-{n}-objective", []).append("required")
                objectives.append({"objective": row["objective"], "results": []})
            results = objectives[-1]["results"]
            if row["result"] or not results:
                results.append({"result": row["result"], "indicators": []})
            if row["indicator"] or row["baseline"] or row["target"]:
                results[-1]["indicators"].append(
                    {k: row[k] for k in ("indicator", "baseline", "target")}
                )
        if count > LIMITS["logframe_rows"]:
            errors["objectives"] = [f"at most {LIMITS['logframe_rows']} rows"]
        _fail(errors)
        return {"objectives": objectives}
    if key == "workplan":
        rows = []
        months = app.duration_months or call.duration_max_months
        for n, raw in enumerate(data.get("activities") or []):
            activity = _text(raw.get("activity"))
            responsible = _text(raw.get("responsible"))
            if not activity and not _text(raw.get("start_month")) and not responsible:
                continue
            if not activity:
                errors.setdefault(f"activities-{n}-activity", []).append("required")
            _limit(errors, f"activities-{n}-activity", activity, LIMITS["activity"])
            _limit(errors, f"activities-{n}-responsible", responsible, LIMITS["row_text"])
            start = _int(errors, f"activities-{n}-start_month", raw.get("start_month"), 1, months)
            end = _int(errors, f"activities-{n}-end_month", raw.get("end_month"), 1, months)
            if start is not None and end is not None and end < start:
                errors.setdefault(f"activities-{n}-end_month", []).append("before the start")
            months = list(range(start, (end or start) + 1)) if start else []
            rows.append(
                {
                    "activity": activity,
                    "start_month": start,
                    "end_month": end,
                    "months": months,
                    "responsible": responsible,
                }
            )
        if len(rows) > LIMITS["workplan_rows"]:
            errors["activities"] = [f"at most {LIMITS['workplan_rows']} rows"]
        _fail(errors)
        return {"activities": rows}
    if key == "budget":
        lines = []
        total = Decimal("0.00")
        for n, raw in enumerate(data.get("lines") or []):
            description = _text(raw.get("description"))
            if (
                not description
                and not _text(raw.get("quantity"))
                and not _text(raw.get("unit_cost"))
            ):
                continue
            heading = _text(raw.get("heading"))
            if heading not in BUDGET_HEADINGS:
                errors.setdefault(f"lines-{n}-heading", []).append("choose a heading")
            if not description:
                errors.setdefault(f"lines-{n}-description", []).append("required")
            _limit(errors, f"lines-{n}-description", description, LIMITS["budget_description"])
            unit = _text(raw.get("unit"))
            _limit(errors, f"lines-{n}-unit", unit, LIMITS["unit"])
            quantity = _decimal(
                errors, f"lines-{n}-quantity", raw.get("quantity"), positive=True, required=True
            )
            cost = _decimal(errors, f"lines-{n}-unit_cost", raw.get("unit_cost"), required=True)
            if quantity is not None and cost is not None:
                total += (quantity * cost).quantize(CENT)
            lines.append(
                {
                    "heading": heading,
                    "description": description,
                    "unit": unit,
                    "quantity": None if quantity is None else f"{quantity.normalize():f}",
                    "unit_cost": _amount(cost),
                }
            )
        if len(lines) > LIMITS["budget_lines"]:
            errors["lines"] = [f"at most {LIMITS['budget_lines']} lines"]
        if total > MAX_AMOUNT:
            errors["lines"] = ["the total is too large"]
        requested = app.requested_amount
        if lines and requested is not None and total < requested:
            errors.setdefault("lines", []).append(
                f"the budget total ({call.currency} {total:,.2f}) is below the requested "
                f"amount ({call.currency} {requested:,.2f})"
            )
        _fail(errors)
        return {"lines": lines}
    raise NotFound(N_("no such part of the form: %(key)s"), params={"key": key})


def _apply(app: Application, key: str, clean: dict[str, Any], actor: User) -> None:
    """Write a validated section to the application."""
    if key == "summary":
        app.title = clean["title"]
        app.requested_amount = (
            Decimal(clean["requested_amount"]) if clean["requested_amount"] else None
        )
        if not app.budget_lines:
            app.total_cost = Decimal(clean["total_cost"]) if clean["total_cost"] else None
        app.duration_months = clean["duration_months"]
    elif key == "domains":
        wanted = {n: False for n in clean["secondary"]}
        if clean["primary"] is not None:
            wanted[clean["primary"]] = True
        links = {link.domain_number: link for link in app.jvap_links}
        for number, link in list(links.items()):
            if number not in wanted:
                app.jvap_links.remove(link)
        for number, is_primary in wanted.items():
            if number in links:
                links[number].is_primary = is_primary
            else:
                app.jvap_links.append(
                    ApplicationJvapDomain(domain_number=number, is_primary=is_primary)
                )
        app.primary_jvap_domain_number = clean["primary"]
        app.dialogues = [db.session.get(Dialogue, code) for code in clean["dialogues"]]
    elif key == "countries":
        app.countries = [db.session.get(Country, iso) for iso in clean["countries"]]
    elif key == "partners":
        co = clean["co_applicant"]
        app.partners = [p for p in app.partners if p.role != "co_applicant"]
        if co is not None:
            organisation = db.session.scalar(
                select(Organisation).where(
                    Organisation.country_iso2 == co["country_iso2"],
                    Organisation.registration_number == co["registration_number"],
                )
            )
            if organisation is None:
                # A partner known only from this application: no members until it registers.
                organisation = Organisation(
                    name=co["name"],
                    org_type=co["org_type"],
                    country_iso2=co["country_iso2"],
                    registration_number=co["registration_number"],
                    address="",
                )
                db.session.add(organisation)
                db.session.flush()
            app.partners.append(
                ApplicationPartner(
                    organisation_id=organisation.id, organisation=organisation, role="co_applicant"
                )
            )
    elif key == "budget":
        app.budget_lines = [
            BudgetLine(
                heading=line["heading"],
                description=line["description"],
                unit=line["unit"],
                quantity=Decimal(line["quantity"]),
                unit_cost=Decimal(line["unit_cost"]),
                position=n,
            )
            for n, line in enumerate(clean["lines"])
        ]
        if clean["lines"]:
            app.total_cost = sum(
                (
                    (Decimal(x["quantity"]) * Decimal(x["unit_cost"])).quantize(CENT)
                    for x in clean["lines"]
                ),
                Decimal("0.00"),
            )
        else:
            app.total_cost = Decimal(app.section_data("summary").get("total_cost") or 0) or None
    app.updated_at = now()


# --------------------------------------------------------------------------
# Eligibility, submission, withdrawal
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    missing: list[str]
    failures: list[rules.Failure]

    @property
    def ready(self) -> bool:
        return not self.missing and not self.failures


def readiness(actor: Actor, application_id: int) -> Readiness:
    """What still stops the application: empty parts, and every failing eligibility rule."""
    app = get_application(actor, application_id)
    return Readiness(eligibility.missing_parts(app), eligibility.failures(app))


def submit(actor: User, application_id: int) -> Application:
    """Submit (or, when invited, submit the full application) through the pipeline."""
    app = get_application(actor, application_id)
    event = "submit_full" if app.state == "invited" else "submit"
    transition(app, event, actor)
    return app


def withdraw(actor: User, application_id: int, reason: str | None = None) -> Application:
    app = get_application(actor, application_id)
    transition(app, "withdraw", actor, comment=reason)
    return app


def latest_submission(actor: Actor, application_id: int) -> Submission:
    app = get_application(actor, application_id)
    if not app.submissions:
        raise NotFound(N_("the application has not been submitted"))
    return app.submissions[-1]


def can_withdraw(actor: Actor, app: Application) -> bool:
    return any(t.event == "withdraw" for t in allowed_transitions(app, actor, check_guards=False))


# --------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------

DECIDED_STATES = (
    "admin_rejected",
    "rejected",
    "invited",
    "lapsed",
    "provisionally_selected",
    "reserve",
    "awarded",
    "ineligible",
)


@dataclass(frozen=True)
class DashboardRow:
    application: Application
    next_step: str
    deadline: datetime | None
    can_edit: bool
    result: EvaluationResult | None


def next_step(app: Application) -> str:
    return {
        "draft": "complete the form and submit before the deadline",
        "submitted": "wait for the administrative check",
        "in_evaluation": "wait for the evaluation",
        "invited": "complete the full application and submit it before the deadline",
        "fa_submitted": "wait for the administrative check of the full application",
        "fa_in_evaluation": "wait for the evaluation of the full application",
        "provisionally_selected": "prepare the supporting documents",
        "reserve": "wait: the application is on the reserve list",
        "awarded": "see the grant contract",
    }.get(app.state, "nothing more to do")


def dashboard(actor: User) -> list[DashboardRow]:
    """The applications of every organisation the actor belongs to, newest first."""
    apps = list(
        db.session.scalars(
            select(Application)
            .join(Membership, Membership.organisation_id == Application.organisation_id)
            .where(Membership.user_id == actor.id)
            .options(selectinload(Application.call), selectinload(Application.organisation))
            .order_by(Application.created_at.desc(), Application.id.desc())
        )
    )
    results: dict[int, EvaluationResult] = {}
    decided = [a.id for a in apps if a.state in DECIDED_STATES]
    if decided:
        for result in db.session.scalars(
            select(EvaluationResult)
            .where(EvaluationResult.application_id.in_(decided), EvaluationResult.final.is_(True))
            .order_by(EvaluationResult.id)
        ):
            results[result.application_id] = result
    rows = []
    for app in apps:
        deadline = (
            app.call.full_deadline_at
            if app.state == "invited"
            else (app.call.deadline_at if app.state == "draft" else None)
        )
        rows.append(
            DashboardRow(
                app,
                next_step(app),
                deadline,
                app.state in EDITABLE_STATES and can_edit(actor, app),
                results.get(app.id),
            )
        )
    return rows


# --------------------------------------------------------------------------
# Receipt
# --------------------------------------------------------------------------


def mandatory_attachments(app: Application) -> tuple[str, ...]:
    return eligibility.call_rules(app.call).mandatory_attachments


@dataclass(frozen=True)
class ReceiptDocument:
    content: bytes
    filename: str
    reference: str
    sha256: str


RECEIPT_LABELS = {
    "en": {
        "title": "Submission receipt",
        "intro": "The application below was received by the MMD Grant Facility.",
        "reference": "Reference number",
        "call": "Call",
        "stage": "Stage",
        "applicant": "Lead applicant",
        "action": "Title of the action",
        "submitted_at": "Received at",
        "by": "Submitted by",
        "requested": "Amount requested",
        "attachments": "Attachments",
        "hash": "SHA-256 of the submitted content",
        "hash_note": "This fingerprint identifies exactly what was submitted: any change to "
        "the content would give another value.",
        "concept_note": "Concept note",
        "full_application": "Full application",
    },
    "fr": {
        "title": "Accusé de réception",
        "intro": "La demande ci-dessous a été reçue par la Facilité de subventions du MMD.",
        "reference": "Numéro de référence",
        "call": "Appel",
        "stage": "Étape",
        "applicant": "Demandeur principal",
        "action": "Titre de l'action",
        "submitted_at": "Reçue le",
        "by": "Soumise par",
        "requested": "Montant demandé",
        "attachments": "Pièces jointes",
        "hash": "SHA-256 du contenu soumis",
        "hash_note": "Cette empreinte identifie exactement ce qui a été soumis : toute "
        "modification du contenu donnerait une autre valeur.",
        "concept_note": "Note conceptuelle",
        "full_application": "Demande complète",
    },
}


def receipt_context(submission: Submission, language: str) -> dict[str, Any]:
    app = submission.application
    local = submission.submitted_at.astimezone(app.call.zone)
    snapshot = submission.snapshot
    labels = RECEIPT_LABELS["fr" if language == "fr" else "en"]
    submitter = db.session.get(User, submission.submitted_by_id)
    stamp = submission.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "language": "fr" if language == "fr" else "en",
        "labels": labels,
        "document": {
            "title": f"{labels['title']} {snapshot.get('reference')}",
            "author": "MMD Grant Facility",
            "created": stamp,
            "modified": stamp,
        },
        "snapshot": snapshot,
        "submission": submission,
        "application": app,
        "call": app.call,
        "received": f"{local:%Y-%m-%d %H:%M:%S} ({app.call.time_zone})",
        "submitter": submitter.name if submitter else "",
        "requested": Decimal(snapshot["requested_amount"])
        if snapshot.get("requested_amount")
        else None,
    }


def receipt_pdf(actor: Actor, application_id: int, language: str) -> ReceiptDocument:
    """The receipt of the latest submission as PDF, carrying the snapshot's hash."""
    from reports.pdf import render_pdf

    submission = latest_submission(actor, application_id)
    reference = submission.snapshot.get("reference") or submission.application.reference or ""
    content = render_pdf("receipt.html", receipt_context(submission, language))
    return ReceiptDocument(content, f"receipt-{reference}.pdf", reference, submission.sha256)
