"""Changes to a signed contract (PRAG general conditions, article on amendments).

By notification, recorded at once: a transfer between budget headings that
keeps every heading it touches within 25% of its ORIGINAL amount, counted
cumulatively over every notified transfer; a new bank account; a new address.

By addendum, approved or refused by a manager: anything else (a transfer
beyond 25%, a new end date, a lower grant...). The maximum grant is never
increased, and no change is made after the end of the implementation period.

Every change recorded produces the next contract version, whose ``terms``
hold the contract's terms as amended (budget per heading, amount, end date,
bank account, address).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ..clock import now
from ..extensions import db
from ..models import BUDGET_HEADINGS, Amendment, ContractVersion, Grant, User
from ..policy import has_workflow_role, is_manager
from ..rules import payments as rules
from . import audit
from .actors import Actor
from .errors import GuardFailed, PermissionDenied, ValidationFailed

NOTIFICATION_TYPES = ("budget_transfer", "bank_account", "address")
AMENDABLE_STATES = ("active", "suspended")


def original_budget(grant: Grant) -> dict[str, Decimal]:
    """The budget per heading of the contract as signed (from the application's lines)."""
    budget = dict.fromkeys(BUDGET_HEADINGS, rules.ZERO)
    for line in grant.application.budget_lines:
        budget[line.heading] += line.total
    return {heading: rules.to_money(amount) for heading, amount in budget.items()}


def base_terms(grant: Grant) -> dict[str, Any]:
    app = grant.application
    return {
        "amount": str(rules.to_money(grant.amount)),
        "end_date": grant.end_date.isoformat(),
        "budget": {k: str(v) for k, v in original_budget(grant).items()},
        "bank_account": "",
        "address": app.organisation.address,
        "transfers": [],
    }


def current_terms(grant: Grant) -> dict[str, Any]:
    """The contract's terms as amended so far."""
    terms = base_terms(grant)
    for version in grant.contracts:
        terms.update(version.terms or {})
    return terms


def current_budget(grant: Grant) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in current_terms(grant)["budget"].items()}


def notified_transfers(grant: Grant) -> list[rules.Transfer]:
    return [
        rules.Transfer(t["from_heading"], t["to_heading"], Decimal(t["amount"]))
        for t in current_terms(grant)["transfers"]
    ]


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, AttributeError):
        raise ValidationFailed(f"{field} is not an amount", {field: ["not an amount"]}) from None
    if not amount.is_finite():
        raise ValidationFailed(f"{field} is not an amount", {field: ["not an amount"]})
    return rules.to_money(amount)


def _check_open(grant: Grant, today: date) -> list[str]:
    reasons = []
    if grant.state not in AMENDABLE_STATES:
        reasons.append(f"{grant.label} is {grant.state.replace('_', ' ')}: it cannot be amended")
    if today > grant.end_date:
        reasons.append(
            f"the implementation period ended on {grant.end_date:%Y-%m-%d}: "
            "no amendment after the end of implementation"
        )
    return reasons


def _may_request(actor: Actor, grant: Grant) -> None:
    if not (is_manager(actor) or has_workflow_role(actor, "applicant_editor", grant)):
        raise PermissionDenied("owners and editors of the grantee organisation only")


def _new_version(
    grant: Grant, reason: str, changes: dict[str, Any], moment: Any
) -> ContractVersion:
    first = grant.contracts[0] if grant.contracts else None
    if first is not None and not first.terms:
        # The contract as signed, kept before anything changes, so every earlier version
        # still renders to the document it was signed on.
        first.terms = base_terms(grant)
    number = max((v.number for v in grant.contracts), default=0) + 1
    version = ContractVersion(number=number, reason=reason[:300], terms=changes, created_at=moment)
    grant.contracts.append(version)
    return version


def _audit(
    grant: Grant, actor: Actor, event: str, comment: str | None, data: dict[str, Any]
) -> None:
    audit.record(actor, grant.object_type, grant.id, event, comment=comment,
                 data={k: str(v) for k, v in data.items()},
                 from_state=grant.state, to_state=grant.state)


def _transfer_terms(
    grant: Grant, from_heading: str, to_heading: str, amount: Decimal
) -> dict[str, Any]:
    terms = current_terms(grant)
    budget = {k: Decimal(v) for k, v in terms["budget"].items()}
    budget[from_heading] -= amount
    budget[to_heading] += amount
    return {"budget": {k: str(rules.to_money(v)) for k, v in budget.items()}}


def notify_change(
    grant: Grant, actor: User, change: str, description: str, values: dict[str, Any]
) -> Amendment:
    """Record a change by notification; refused with every reason when it needs an addendum."""
    _may_request(actor, grant)
    moment = now()
    reasons = _check_open(grant, moment.date())
    if change not in NOTIFICATION_TYPES:
        reasons.append(f"'{change}' cannot be changed by notification: request an addendum")
    new_terms: dict[str, Any] = {}
    record: dict[str, Any] = {"type": change}
    if change == "budget_transfer":
        amount = _money(values.get("amount"), "amount")
        transfer = rules.Transfer(
            str(values.get("from_heading", "")), str(values.get("to_heading", "")), amount
        )
        problems = rules.check_budget_transfer(
            original_budget(grant), notified_transfers(grant), transfer
        )
        if problems:
            reasons += [*problems, "this transfer needs an addendum to the contract"]
        else:
            new_terms = _transfer_terms(grant, transfer.from_heading, transfer.to_heading, amount)
            transfers = list(current_terms(grant)["transfers"])
            transfers.append(
                {
                    "from_heading": transfer.from_heading,
                    "to_heading": transfer.to_heading,
                    "amount": str(amount),
                }
            )
            new_terms["transfers"] = transfers
            record.update(transfers[-1])
    elif change in ("bank_account", "address"):
        value = str(values.get(change, "")).strip()
        if not value:
            reasons.append(f"the new {change.replace('_', ' ')} is empty")
        new_terms = {change: value}
        record[change] = value
    if reasons:
        raise GuardFailed(f"{grant.label}: the change cannot be made by notification", reasons)
    amendment = Amendment(
        grant=grant,
        kind="notification",
        status="approved",
        description=description.strip() or change.replace("_", " "),
        changes=record,
        requested_by_id=actor.id,
        requested_at=moment,
        decided_by_id=actor.id,
        decided_at=moment,
        decision_comment="recorded by notification",
    )
    db.session.add(amendment)
    _new_version(grant, f"Notification: {amendment.description}", new_terms, moment)
    _audit(grant, actor, "amendment_notified", amendment.description, record)
    db.session.commit()
    return amendment


def _addendum_reasons(grant: Grant, changes: dict[str, Any], today: date) -> list[str]:
    reasons = _check_open(grant, today)
    if "amount" in changes and Decimal(changes["amount"]) > grant.amount:
        reasons.append(
            f"the maximum grant of {grant.currency} {grant.amount:,.2f} may not be increased"
        )
    if "amount" in changes and Decimal(changes["amount"]) <= 0:
        reasons.append("the grant amount must stay positive")
    if "end_date" in changes and date.fromisoformat(changes["end_date"]) <= grant.start_date:
        reasons.append("the new end date must come after the start date")
    if "budget" in changes:
        total = sum((Decimal(v) for v in changes["budget"].values()), rules.ZERO)
        current = sum(current_budget(grant).values(), rules.ZERO)
        if total != current:
            reasons.append(
                f"the headings add up to {total:,.2f}, not the budget total of {current:,.2f}"
            )
    if not any(k in changes for k in ("amount", "end_date", "budget", "other")):
        reasons.append("the addendum changes nothing")
    return reasons


def request_addendum(
    grant: Grant, actor: User, description: str, changes: dict[str, Any]
) -> Amendment:
    """Ask for an addendum; `changes` may hold amount, end_date, budget (per heading), other."""
    _may_request(actor, grant)
    clean: dict[str, Any] = {}
    if changes.get("amount") not in (None, ""):
        clean["amount"] = str(_money(changes["amount"], "amount"))
    if changes.get("end_date"):
        end = changes["end_date"]
        clean["end_date"] = (
            end.isoformat() if isinstance(end, date) else date.fromisoformat(end).isoformat()
        )
    if changes.get("budget"):
        headings = set(BUDGET_HEADINGS)
        clean["budget"] = {
            k: str(_money(v, f"budget {k}")) for k, v in changes["budget"].items() if k in headings
        }
        for heading in BUDGET_HEADINGS:
            clean["budget"].setdefault(heading, str(current_budget(grant)[heading]))
    if str(changes.get("other", "")).strip():
        clean["other"] = str(changes["other"]).strip()
    if not description.strip():
        raise ValidationFailed("describe the change requested", {"description": ["required"]})
    moment = now()
    reasons = _addendum_reasons(grant, clean, moment.date())
    if reasons:
        raise GuardFailed(f"{grant.label}: the addendum cannot be requested", reasons)
    amendment = Amendment(
        grant=grant,
        kind="addendum",
        status="requested",
        description=description.strip(),
        changes=clean,
        requested_by_id=actor.id,
        requested_at=moment,
    )
    db.session.add(amendment)
    _audit(grant, actor, "addendum_requested", amendment.description, clean)
    db.session.commit()
    return amendment


def decide_addendum(amendment: Amendment, actor: User, approve: bool, comment: str) -> Amendment:
    """A manager approves (a new contract version) or refuses (with a reason) an addendum."""
    if not is_manager(actor):
        raise PermissionDenied("programme managers only")
    if amendment.kind != "addendum" or amendment.status != "requested":
        raise GuardFailed("this amendment is not awaiting a decision", [amendment.status])
    grant = amendment.grant
    moment = now()
    comment = comment.strip()
    if not approve:
        if not comment:
            raise ValidationFailed("a refusal needs a reason", {"comment": ["required"]})
    else:
        reasons = _addendum_reasons(grant, amendment.changes, moment.date())
        if reasons:
            raise GuardFailed(f"{grant.label}: the addendum cannot be approved", reasons)
        changes = dict(amendment.changes)
        terms: dict[str, Any] = {k: v for k, v in changes.items() if k != "other"}
        if "amount" in changes:
            grant.amount = Decimal(changes["amount"])
        if "end_date" in changes:
            grant.end_date = date.fromisoformat(changes["end_date"])
        if "other" in changes:
            terms["other"] = changes["other"]
        _new_version(grant, f"Addendum: {amendment.description}", terms, moment)
    amendment.status = "approved" if approve else "refused"
    amendment.decided_by_id = actor.id
    amendment.decided_at = moment
    amendment.decision_comment = comment or None
    _audit(
        grant, actor, f"addendum_{amendment.status}", comment or None, {"amendment": amendment.id}
    )
    db.session.commit()
    return amendment


def pending_addenda() -> list[Amendment]:
    return list(
        db.session.scalars(
            db.select(Amendment)
            .where(Amendment.kind == "addendum", Amendment.status == "requested")
            .order_by(Amendment.requested_at)
        )
    )
