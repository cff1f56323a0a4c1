"""All models, importable from one place."""

from ..database import Stateful
from .accounts import (
    LANGUAGES,
    MEMBERSHIP_ROLES,
    ORGANISATION_TYPES,
    STAFF_ROLES,
    Membership,
    Organisation,
    StaffRole,
    User,
)
from .applications import (
    APPLICATION_STATES,
    BUDGET_HEADINGS,
    SECTION_KEYS,
    AdminCheck,
    Application,
    ApplicationJvapDomain,
    ApplicationPartner,
    ApplicationSection,
    Attachment,
    BudgetLine,
    Submission,
)
from .audit import AuditEvent, OutboxMessage, ReferenceCounter
from .awards import Amendment, ContractVersion, Grant, Payment, Report, Signature
from .calls import APPLICATION_WORKFLOWS, STAGES, Call, Criterion, Grid, GridSection, Lot
from .evaluation import Assignment, ConflictDeclaration, EvaluationResult, PanelMember, Score
from .notifications import DELIVERY_MODES, Notification, NotificationPreference
from .reference import Country, Dialogue, JvapDomain

__all__ = [
    "APPLICATION_STATES",
    "APPLICATION_WORKFLOWS",
    "BUDGET_HEADINGS",
    "DELIVERY_MODES",
    "LANGUAGES",
    "MEMBERSHIP_ROLES",
    "ORGANISATION_TYPES",
    "SECTION_KEYS",
    "STAFF_ROLES",
    "STAGES",
    "AdminCheck",
    "Amendment",
    "Application",
    "ApplicationJvapDomain",
    "ApplicationPartner",
    "ApplicationSection",
    "Assignment",
    "Attachment",
    "AuditEvent",
    "BudgetLine",
    "Call",
    "ConflictDeclaration",
    "ContractVersion",
    "Country",
    "Criterion",
    "Dialogue",
    "EvaluationResult",
    "Grant",
    "Grid",
    "GridSection",
    "JvapDomain",
    "Lot",
    "Membership",
    "Notification",
    "NotificationPreference",
    "Organisation",
    "OutboxMessage",
    "PanelMember",
    "Payment",
    "ReferenceCounter",
    "Report",
    "Score",
    "Signature",
    "StaffRole",
    "Stateful",
    "Submission",
    "User",
]
