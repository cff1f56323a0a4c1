"""The API's collections: model, JSON, who sees which rows, filters, transition data.

The visibility conditions say in SQL what `policy.can_view` says of one object,
so a list holds exactly the rows a read by id would show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import joinedload, selectinload

import workflows

from ...models import (
    Application,
    Assignment,
    Call,
    Grant,
    Membership,
    Payment,
    Report,
    User,
)
from ...models.calls import APPLICATION_WORKFLOWS, STAGES
from ...policy import is_admin, is_manager
from . import serializers

# Identifiers are 32-bit integers on every database we run on.
MAX_ID = 2_147_483_647
# Assignments an evaluator still holds: what makes the application visible to them.
LIVE_ASSIGNMENT_STATES = ("invited", "accepted", "submitted", "reopened")


class FieldError(ValueError):
    """A value that does not fit its field; the message says what would."""


@dataclass(frozen=True)
class Filter:
    """A query parameter that narrows a list to rows whose `column` equals its value."""

    name: str
    column: Any  # a column, or a function of the value giving the condition
    kind: str  # "id", "int" or "enum"
    description: str
    values: tuple[str, ...] = ()

    def condition(self, value: Any) -> ColumnElement[bool]:
        if callable(self.column) and not hasattr(self.column, "property"):
            return self.column(value)  # type: ignore[no-any-return]
        return self.column == value  # type: ignore[no-any-return]

    def parse(self, raw: str) -> Any:
        if self.kind == "enum":
            if raw not in self.values:
                raise FieldError("one of " + ", ".join(self.values))
            return raw
        try:
            value = int(raw)
        except ValueError:
            raise FieldError("an integer") from None
        low = 1 if self.kind == "id" else 0
        if not low <= value <= MAX_ID:
            raise FieldError(f"an integer from {low} to {MAX_ID}")
        return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError("true or false")
    return value


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError('an amount as a string, e.g. "120000.00"')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise FieldError('an amount, e.g. "120000.00"') from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12"):
        raise FieldError("a positive amount below 1,000,000,000,000")
    if amount != amount.quantize(Decimal("0.01")):
        raise FieldError("an amount with at most two decimals")
    return amount.quantize(Decimal("0.01"))


EARLIEST_START, LATEST_START = date(2000, 1, 1), date(2099, 12, 31)


def _start_date(value: Any) -> date:
    if not isinstance(value, str):
        raise FieldError('a date, e.g. "2027-01-01"')
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise FieldError('a date, e.g. "2027-01-01"') from None
    if not EARLIEST_START <= parsed <= LATEST_START:
        raise FieldError(f"a date from {EARLIEST_START} to {LATEST_START}")
    return parsed


@dataclass(frozen=True)
class DataField:
    """A field of a transition's `data`: its parser and its JSON Schema."""

    parse: Callable[[Any], Any]
    schema: dict[str, Any]


AWARD_DATA = {
    "documents_verified": DataField(
        _boolean,
        {"type": "boolean", "description": "The supporting documents have been verified."},
    ),
    "amount": DataField(
        _amount,
        {
            "type": "string",
            "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
            "description": "The grant amount; at most the amount requested and the call's "
            "maximum (default: that ceiling).",
        },
    ),
    "start_date": DataField(
        _start_date,
        {
            "type": "string",
            "format": "date",
            "description": "Start of implementation (default: the first of next month).",
        },
    ),
}


@dataclass(frozen=True)
class Collection:
    name: str
    singular: str
    model: Any
    workflow_names: tuple[str, ...]
    serialize: Callable[[Any, Any], dict[str, Any]]
    visible: Callable[[User], ColumnElement[bool] | None]
    filters: tuple[Filter, ...]
    # Per event, the fields its `data` may carry.
    data: dict[str, dict[str, DataField]] = field(default_factory=dict)
    # What the JSON of a row reads, loaded with the page (no query per row).
    load: tuple[Any, ...] = ()

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(s for name in self.workflow_names for s in workflows.ALL[name].states)
        )

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                t.event for name in self.workflow_names for t in workflows.ALL[name].transitions
            )
        )

    def query(self, user: User) -> Select[Any]:
        """Every row of the collection the user may know of."""
        query = select(self.model).options(*self.load)
        condition = self.visible(user)
        return query if condition is None else query.where(condition)


def _sees_everything(user: User) -> bool:
    return is_manager(user) or is_admin(user)


def _member_organisations(user: User) -> Select[Any]:
    return select(Membership.organisation_id).where(Membership.user_id == user.id)


def _member_grants(user: User) -> Select[Any]:
    return (
        select(Grant.id)
        .join(Application, Application.id == Grant.application_id)
        .where(Application.organisation_id.in_(_member_organisations(user)))
    )


def _calls_visible(user: User) -> ColumnElement[bool] | None:
    return None if _sees_everything(user) else Call.state != "draft"


def _applications_visible(user: User) -> ColumnElement[bool] | None:
    if _sees_everything(user):
        return None
    conditions = [Application.organisation_id.in_(_member_organisations(user))]
    if user.has_role("evaluator"):
        conditions.append(
            Application.id.in_(
                select(Assignment.application_id).where(
                    Assignment.evaluator_id == user.id,
                    Assignment.state.in_(LIVE_ASSIGNMENT_STATES),
                )
            )
        )
    return or_(*conditions)


def _assignments_visible(user: User) -> ColumnElement[bool] | None:
    return None if _sees_everything(user) else Assignment.evaluator_id == user.id


def _grants_visible(user: User) -> ColumnElement[bool] | None:
    return None if _sees_everything(user) else Grant.id.in_(_member_grants(user))


def _payments_visible(user: User) -> ColumnElement[bool] | None:
    return None if _sees_everything(user) else Payment.grant_id.in_(_member_grants(user))


def _reports_visible(user: User) -> ColumnElement[bool] | None:
    return None if _sees_everything(user) else Report.grant_id.in_(_member_grants(user))


def _grants_of_call(call_id: int) -> ColumnElement[bool]:
    return Grant.application_id.in_(select(Application.id).where(Application.call_id == call_id))


def _state(model: Any, workflow_names: tuple[str, ...]) -> Filter:
    states = tuple(dict.fromkeys(s for name in workflow_names for s in workflows.ALL[name].states))
    return Filter("state", model.state, "enum", "Only rows in this state.", states)


_APPLICATION_WORKFLOWS = tuple(APPLICATION_WORKFLOWS)

COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        Collection(
            "calls",
            "call",
            Call,
            ("call",),
            serializers.call_json,
            _calls_visible,
            (
                _state(Call, ("call",)),
                Filter("year", Call.year, "int", "Only calls of this year."),
                Filter(
                    "workflow",
                    Call.workflow,
                    "enum",
                    "Only calls of this workflow.",
                    _APPLICATION_WORKFLOWS,
                ),
            ),
        ),
        Collection(
            "applications",
            "application",
            Application,
            _APPLICATION_WORKFLOWS,
            serializers.application_json,
            _applications_visible,
            (
                _state(Application, _APPLICATION_WORKFLOWS),
                Filter("call", Application.call_id, "id", "Only applications to this call (id)."),
                Filter(
                    "organisation",
                    Application.organisation_id,
                    "id",
                    "Only applications of this organisation (id).",
                ),
            ),
            data={"award": AWARD_DATA},
            load=(
                joinedload(Application.organisation),
                joinedload(Application.call),
                selectinload(Application.submissions),
            ),
        ),
        Collection(
            "assignments",
            "assignment",
            Assignment,
            ("assignment",),
            serializers.assignment_json,
            _assignments_visible,
            (
                _state(Assignment, ("assignment",)),
                Filter(
                    "application",
                    Assignment.application_id,
                    "id",
                    "Only assignments to this application (id).",
                ),
                Filter("evaluator", Assignment.evaluator_id, "id", "Only this evaluator's (id)."),
                Filter("stage", Assignment.stage, "enum", "Only this stage.", STAGES),
            ),
            load=(joinedload(Assignment.evaluator),),
        ),
        Collection(
            "grants",
            "grant",
            Grant,
            ("grant",),
            serializers.grant_json,
            _grants_visible,
            (
                _state(Grant, ("grant",)),
                Filter("call", _grants_of_call, "id", "Only grants awarded in this call (id)."),
                Filter(
                    "application", Grant.application_id, "id", "The grant of this application (id)."
                ),
            ),
        ),
        Collection(
            "payments",
            "payment",
            Payment,
            ("payment",),
            serializers.payment_json,
            _payments_visible,
            (
                _state(Payment, ("payment",)),
                Filter("grant", Payment.grant_id, "id", "Only payments of this grant (id)."),
                Filter(
                    "kind",
                    Payment.kind,
                    "enum",
                    "Only payments of this kind.",
                    ("prefinancing", "further_prefinancing", "balance"),
                ),
            ),
        ),
        Collection(
            "reports",
            "report",
            Report,
            ("report",),
            serializers.report_json,
            _reports_visible,
            (
                _state(Report, ("report",)),
                Filter("grant", Report.grant_id, "id", "Only reports of this grant (id)."),
                Filter(
                    "kind", Report.kind, "enum", "Only reports of this kind.", ("interim", "final")
                ),
            ),
        ),
    )
}
