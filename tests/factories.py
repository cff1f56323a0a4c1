"""factory_boy factories for the models, on the application's own session.

Every factory commits what it creates (so a failing transition, which rolls
the session back, never takes the test's set-up with it). Defaults describe a
realistic MMD call and an application that passes every guard of `submit`:

    call = CallFactory()                      # open, two-stage, default grids
    app = ApplicationFactory(call=call)       # complete and eligible draft
    owner = app.created_by                    # owner of the applying organisation
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy import select

from grants.extensions import db
from grants.models import (
    AdminCheck,
    Application,
    ApplicationJvapDomain,
    ApplicationSection,
    Assignment,
    Attachment,
    AuditEvent,
    BudgetLine,
    Call,
    ContractVersion,
    Country,
    Dialogue,
    EvaluationResult,
    Grant,
    JvapDomain,
    Membership,
    Organisation,
    Signature,
    StaffRole,
    User,
)
from grants.rules.eligibility import CallRules
from grants.services.eligibility import rules_json
from grants.services.grids import build_grid
from grants.services.guards import ADMIN_CHECK_ITEMS

PASSWORD = "correct horse battery"  # every factory user's password


def _password_hash() -> str:
    # Hashed once: scrypt is deliberately slow, and every user shares the password.
    from grants.services.accounts import hash_password

    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


_PASSWORD_HASH: str | None = None

RULES = CallRules.mmd_second_call()
# 2026-12-01 17:00 in Brussels (CET, UTC+1): the default concept-note deadline.
DEADLINE = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


class BaseFactory(SQLAlchemyModelFactory):
    """Flushes as it goes; the outermost factory call commits everything once."""

    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    _depth = 0

    @classmethod
    def _generate(cls, strategy: str, params: dict[str, Any]) -> Any:
        BaseFactory._depth += 1
        try:
            obj = super()._generate(strategy, params)
        finally:
            BaseFactory._depth -= 1
        if BaseFactory._depth == 0 and strategy == factory.CREATE_STRATEGY:
            db.session.commit()
        return obj


def _roles(default: tuple[str, ...]):  # type: ignore[no-untyped-def]
    @factory.post_generation
    def roles(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        for role in default if extracted is None else extracted:
            obj.staff_roles.append(StaffRole(role=role))

    return roles


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Sequence(lambda n: f"Person {n}")
    password_hash = factory.LazyFunction(_password_hash)
    language = "en"
    active = True
    email_verified_at = factory.LazyFunction(lambda: datetime(2026, 1, 5, tzinfo=UTC))
    roles = _roles(())


class ManagerFactory(UserFactory):
    name = factory.Sequence(lambda n: f"Manager {n}")
    roles = _roles(("programme_manager",))


class EvaluatorFactory(UserFactory):
    name = factory.Sequence(lambda n: f"Evaluator {n}")
    roles = _roles(("evaluator",))


class AdminFactory(UserFactory):
    name = factory.Sequence(lambda n: f"Admin {n}")
    roles = _roles(("admin",))


class OrganisationFactory(BaseFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n} for Safe Migration")
    acronym = factory.Sequence(lambda n: f"OSM{n}")
    org_type = "cso"
    country_iso2 = "SN"  # Senegal: an AU member state
    registration_number = factory.Sequence(lambda n: f"REG-{n:05d}")
    address = "12 Avenue de l'Indépendance"


class MembershipFactory(BaseFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = "owner"


def member(organisation: Organisation, role: str = "owner", **user: Any) -> User:
    """A new user who is `role` of the organisation."""
    fields = {f"user__{k}": v for k, v in user.items()}
    return MembershipFactory(organisation=organisation, role=role, **fields).user


class CallFactory(BaseFactory):
    """An open two-stage call with the default grids and the second call's rules."""

    class Meta:
        model = Call

    class Params:
        deadline = DEADLINE

    code = factory.Sequence(lambda n: f"C{n:02d}")
    year = 2026
    title = factory.Sequence(lambda n: f"MMD Grant Facility: call {n}")
    summary = "Grants for civil-society organisations, local authorities and diaspora."
    objectives = "Support the dialogues' priorities at local level."
    workflow = "application_two_stage"
    currency = "EUR"
    budget = Decimal("600000.00")
    grant_min = RULES.grant_min
    grant_max = RULES.grant_max
    max_funding_rate = RULES.max_funding_rate
    duration_min_months = RULES.duration_min_months
    duration_max_months = RULES.duration_max_months
    eligibility_rules = factory.LazyFunction(lambda: rules_json(RULES))
    time_zone = "Europe/Brussels"
    opens_at = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    deadline_at = factory.SelfAttribute("deadline")
    full_deadline_at = factory.LazyAttribute(
        lambda o: o.deadline + timedelta(days=45) if o.workflow == "application_two_stage" else None
    )
    state = "open"
    published_at = factory.LazyAttribute(lambda o: None if o.state == "draft" else o.opens_at)

    @factory.post_generation
    def grids(obj: Call, create: bool, extracted: Any, **kwargs: Any) -> None:
        """Default grids for the call's stages; pass grids=False for none."""
        if extracted is False:
            return
        if obj.workflow == "application_two_stage":
            build_grid(obj, "concept_note")
        build_grid(obj, "full_application")

    @factory.post_generation
    def themes(obj: Call, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.jvap_domains = list(db.session.scalars(select(JvapDomain)))
        obj.dialogues = list(db.session.scalars(select(Dialogue)))


class SingleStageCallFactory(CallFactory):
    workflow = "application_single_stage"


def fill_application(app: Application, *, full: bool = True) -> Application:
    """Fill every part of the form the submit guards check (not committed)."""
    app.title = app.title or "Safe migration information centres"
    app.countries = [db.session.get(Country, iso) for iso in ("SN", "ML")]
    app.dialogues = [db.session.get(Dialogue, "rabat"), db.session.get(Dialogue, "c2cmmd")]
    app.jvap_links = [
        ApplicationJvapDomain(domain_number=1, is_primary=True),
        ApplicationJvapDomain(domain_number=3),
    ]
    app.sections = [
        ApplicationSection(key="summary", data={"text": "Information centres on safe routes."}),
        ApplicationSection(key="description", data={"text": "Context, activities, results."}),
    ]
    if full:
        app.sections += [
            ApplicationSection(
                key="logframe",
                data={"objectives": [{"objective": "Reliable information", "results": []}]},
            ),
            ApplicationSection(
                key="workplan", data={"activities": [{"activity": "Set-up", "months": [1, 2]}]}
            ),
        ]
        amount = app.requested_amount or Decimal("120000.00")
        half = (amount / 2).quantize(Decimal("0.01"))
        app.budget_lines = [
            BudgetLine(
                heading="human_resources",
                description="Project staff",
                quantity=Decimal(1),
                unit_cost=half,
                position=0,
            ),
            BudgetLine(
                heading="other_services",
                description="Outreach",
                quantity=Decimal(1),
                unit_cost=amount - half,
                position=1,
            ),
        ]
    app.attachments = [
        Attachment(
            kind=kind,
            filename=f"{kind}.pdf",
            stored_name=f"{kind}-{uuid.uuid4().hex}",
            content_type="application/pdf",
            size_bytes=2048,
            sha256="a" * 64,
            uploaded_by_id=app.created_by.id,
        )
        for n, kind in enumerate(("registration_certificate", "budget_annex"))
    ]
    return app


DECIDED_STATES = (
    "admin_rejected",
    "rejected",
    "invited",
    "lapsed",
    "reserve",
    "provisionally_selected",
    "awarded",
    "ineligible",
)


class ApplicationFactory(BaseFactory):
    """A draft that passes every guard of submit, created by the organisation's owner.

    complete=False leaves the form empty; state/reference put it further along
    (set-up only: the tests move applications through the pipeline).
    """

    class Meta:
        model = Application

    call = factory.SubFactory(CallFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    created_by = factory.LazyAttribute(lambda o: member(o.organisation, "owner"))
    title = factory.Sequence(lambda n: f"Safe migration information centres, phase {n}")
    language = "en"
    requested_amount = Decimal("120000.00")
    total_cost = factory.SelfAttribute("requested_amount")
    duration_months = 6
    state = "draft"
    reference = factory.LazyAttributeSequence(
        lambda o, n: None if o.state in ("draft", "withdrawn") else f"TEST-{o.call.code}-{n:04d}"
    )
    # A decided application carries its decision date (the database insists).
    decided_at = factory.LazyAttribute(
        lambda o: datetime(2026, 10, 1, 12, 0, tzinfo=UTC) if o.state in DECIDED_STATES else None
    )

    @factory.post_generation
    def complete(obj: Application, create: bool, extracted: Any, **kwargs: Any) -> None:
        if extracted is not False:
            fill_application(obj)


def admin_checks(app: Application, manager: User, failing: str | None = None) -> None:
    """The whole administrative checklist of the application's current stage."""
    for item in ADMIN_CHECK_ITEMS:
        passed = item != failing
        db.session.add(
            AdminCheck(
                application_id=app.id,
                stage=app.stage,
                item=item,
                passed=passed,
                reason=None if passed else "The declaration is not signed.",
                checked_by_id=manager.id,
            )
        )
    db.session.commit()


class EvaluationResultFactory(BaseFactory):
    class Meta:
        model = EvaluationResult

    application = factory.SubFactory(ApplicationFactory, state="fa_in_evaluation")
    stage = factory.LazyAttribute(lambda o: o.application.stage)
    total = Decimal("80.00")
    section_scores = factory.LazyAttribute(
        lambda o: {"capacity": "16.00", "relevance": "25.00", "rest": str(o.total - 41)}
    )
    method = "mean"
    passes = True
    final = True


class AssignmentFactory(BaseFactory):
    class Meta:
        model = Assignment

    application = factory.SubFactory(ApplicationFactory, state="in_evaluation")
    evaluator = factory.SubFactory(EvaluatorFactory)
    stage = factory.LazyAttribute(lambda o: o.application.stage)
    state = "invited"
    assigned_at = factory.LazyFunction(lambda: datetime(2026, 12, 5, 9, 0, tzinfo=UTC))


class GrantFactory(BaseFactory):
    """A grant in contract preparation for an awarded application."""

    class Meta:
        model = Grant

    application = factory.SubFactory(ApplicationFactory, state="awarded")
    number = factory.Sequence(lambda n: f"TEST-G{n:04d}")
    amount = factory.LazyAttribute(lambda o: o.application.requested_amount)
    currency = "EUR"
    funding_rate = Decimal("1.0000")
    start_date = date(2027, 1, 1)
    end_date = date(2027, 6, 30)
    awarded_at = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
    state = "contract_preparation"

    @factory.post_generation
    def contract(obj: Grant, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not obj.contracts:
            obj.contracts.append(ContractVersion(number=1, reason="Initial contract"))


def sign_as_grantee(grant: Grant, signer: User) -> Signature:
    signature = Signature(
        contract=grant.current_contract,
        side="grantee",
        method="in_app",
        signer_id=signer.id,
        signer_name=signer.name,
        address="192.0.2.10",
        document_sha256="b" * 64,
    )
    db.session.add(signature)
    db.session.commit()
    return signature


def audit_rows(obj: Any = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if obj is not None:
        query = query.where(
            AuditEvent.object_type == obj.object_type, AuditEvent.object_id == obj.id
        )
    return list(db.session.scalars(query))


__all__ = [
    "DEADLINE",
    "PASSWORD",
    "AdminFactory",
    "ApplicationFactory",
    "AssignmentFactory",
    "CallFactory",
    "EvaluationResultFactory",
    "EvaluatorFactory",
    "GrantFactory",
    "ManagerFactory",
    "MembershipFactory",
    "OrganisationFactory",
    "SingleStageCallFactory",
    "UserFactory",
    "admin_checks",
    "audit_rows",
    "fill_application",
    "member",
    "sign_as_grantee",
]
