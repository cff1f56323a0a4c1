"""The world the access matrix walks: two organisations, a call, A's applications in useful
states, a grant with payments, reports, a signed copy and an addendum request, evaluators
assigned, unassigned and recused, a programme manager and an administrator.

Built with the factories and, where they are as cheap, the real services, so every row is
one the application itself could have written. `build_world()` returns the users by kind and
the values the URL parameters are filled from.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import current_app
from sqlalchemy import select

from grants.extensions import db
from grants.models import (
    Amendment,
    Application,
    Attachment,
    ExportJob,
    Grant,
    Notification,
    OutboxMessage,
    PanelMember,
    Signature,
    User,
)
from grants.services import applications, call_documents, evaluation, organisations, tokens
from grants.services.effects import plan_payments_and_reports
from grants.services.export_jobs import export_folder
from grants.services.transitions import transition
from tests.factories import (
    AdminFactory,
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    EvaluationResultFactory,
    EvaluatorFactory,
    GrantFactory,
    ManagerFactory,
    OrganisationFactory,
    admin_checks,
    member,
)

# The kinds of user every route is requested as, in the order of the matrix's columns.
KINDS = (
    "anonymous",
    "owner_a",  # owner of organisation A, whose objects fill the URLs
    "owner_b",  # owner of organisation B: A's objects must not even exist for them
    "evaluator",  # assigned to A's application under evaluation, no conflict declared
    "evaluator_unassigned",  # an evaluator with no assignment to A's application
    "evaluator_recused",  # declared a conflict of interest on A's application
    "manager",  # programme manager
    "admin",  # administrator
)

SIGNED_SHA256 = "d" * 64
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class World:
    users: dict[str, User | None]
    values: dict[str, Any]  # world keys (see DEFAULT_PARAMETERS) -> URL parameter values
    api_secrets: dict[str, str] = field(default_factory=dict)


def _stored_file(folder: Path, content: bytes) -> str:
    name = uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return name


def _attachment_with_file(app: Application, uploader: User) -> Attachment:
    """An attachment whose file exists, so a download by the right person is a 200."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    attachment = Attachment(
        application_id=app.id,
        kind="other",
        filename="letter-of-support.pdf",
        stored_name=_stored_file(folder, PDF_BYTES),
        content_type="application/pdf",
        size_bytes=len(PDF_BYTES),
        sha256="c" * 64,
        uploaded_by_id=uploader.id,
    )
    db.session.add(attachment)
    db.session.commit()
    return attachment


def _active_grant(owner: User, manager: User, call: Any, organisation: Any) -> Grant:
    """An awarded application of A with its signed, active grant: payments and reports
    planned as the signature's effect plans them, a signed copy uploaded, an addendum asked."""
    awarded = ApplicationFactory(
        call=call, organisation=organisation, created_by=owner, state="awarded"
    )
    # Concept-note result: the applicant's evaluation summary of that stage is released.
    EvaluationResultFactory(application=awarded, stage="concept_note", total=Decimal("40.00"),
                            section_scores={"relevance": "24.00", "design": "16.00"})
    signed = datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
    grant = GrantFactory(application=awarded, state="active", signed_at=signed,
                         sent_for_signature_at=datetime(2026, 12, 21, 9, 0, tzinfo=UTC))
    plan_payments_and_reports(grant, SimpleNamespace(now=signed))
    contract = grant.current_contract
    # The document's hash is recorded by the first rendering (a page asks for the PDF):
    # rendering it here too would cost every run a second PDF.
    contract.document_sha256 = None
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    for side, signer in (("grantee", owner), ("programme", manager)):
        db.session.add(Signature(
            contract=contract, side=side, method="upload" if side == "grantee" else "in_app",
            signer_id=signer.id, signer_name=signer.name, address="192.0.2.10",
            document_sha256=SIGNED_SHA256,
            stored_name=_stored_file(folder, PDF_BYTES) if side == "grantee" else None,
        ))
    db.session.add(Amendment(
        grant=grant, kind="addendum", description="Extend the action by two months.",
        changes={"end_date": date(2027, 8, 31).isoformat()}, requested_by_id=owner.id,
    ))
    db.session.commit()
    return grant


def build_world() -> World:
    """Every object the URL map needs, once; the clock must be frozen before the deadline."""
    manager = ManagerFactory()
    admin = AdminFactory()
    org_a, org_b = OrganisationFactory(), OrganisationFactory()
    owner_a, owner_b = member(org_a, "owner"), member(org_b, "owner")
    evaluator, unassigned, recused = EvaluatorFactory(), EvaluatorFactory(), EvaluatorFactory()
    call = CallFactory()

    # A's draft: the form an owner edits, submits, withdraws.
    draft = ApplicationFactory(call=call, organisation=org_a, created_by=owner_a)
    draft_attachment = _attachment_with_file(draft, owner_a)
    # A's application under evaluation, reached through the real pipeline (it has its receipt).
    in_evaluation = ApplicationFactory(call=call, organisation=org_a, created_by=owner_a)
    applications.submit(owner_a, in_evaluation.id)
    admin_checks(in_evaluation, manager)
    transition(in_evaluation, "admit", manager)
    eval_attachment = _attachment_with_file(in_evaluation, owner_a)
    # B applies too; the evaluator is invited to evaluate B's application, not yet declared.
    of_b = ApplicationFactory(call=call, organisation=org_b, created_by=owner_b,
                              state="in_evaluation")
    invited = AssignmentFactory(application=of_b, evaluator=evaluator)

    assignment = AssignmentFactory(application=in_evaluation, evaluator=evaluator)
    evaluation.declare(assignment, evaluator, has_conflict=False)
    conflicted = AssignmentFactory(application=in_evaluation, evaluator=recused)
    evaluation.declare(conflicted, recused, has_conflict=True, statement="I advised them in 2025.")
    db.session.add(PanelMember(call_id=call.id, evaluator_id=evaluator.id, added_by_id=manager.id))
    db.session.commit()

    grant = _active_grant(owner_a, manager, call, org_a)
    # The evaluator also scored A's awarded application at the concept-note stage.
    AssignmentFactory(application=grant.application, evaluator=evaluator, stage="concept_note",
                      state="submitted", submitted_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC))
    grid = call.grid_for("concept_note")
    grid.locked_at = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # scoring has started
    section = grid.sections[0]

    notification = Notification(user_id=owner_a.id, kind="application.submitted",
                                object_type="application", object_id=in_evaluation.id)
    # The submission's receipt mail, as if the mail server had refused it every time.
    failed = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id).limit(1))
    failed.status, failed.attempts, failed.last_error = "failed", 5, "connection refused"
    export_name = f"matrix-{uuid.uuid4().hex}.csv"
    (export_folder() / export_name).write_text("reference\n")
    job = ExportJob(user_id=manager.id, kind="list", status="ready", file_name=export_name,
                    row_count=1, params={"list": "applications", "format": "csv"})
    db.session.add_all([notification, job])
    db.session.commit()
    spare_token = tokens.create_token(owner_a, "old laptop").token
    # A document published with the open call, and one with a call still in draft.
    draft_call = CallFactory(state="draft")
    published, drafted = (
        call_documents.add_document(manager, target, title="Annex", language="en", kind="annex",
                                    filename="annex.pdf", stream=io.BytesIO(PDF_BYTES))
        for target in (call, draft_call)
    )

    users: dict[str, User | None] = {
        "anonymous": None, "owner_a": owner_a, "owner_b": owner_b, "evaluator": evaluator,
        "evaluator_unassigned": unassigned, "evaluator_recused": recused,
        "manager": manager, "admin": admin,
    }
    signature = db.session.scalar(
        select(Signature).where(Signature.stored_name.is_not(None))
    )
    values: dict[str, Any] = {
        "call_code": call.code,
        "call_id": call.id,
        "draft_call_code": draft_call.code,
        "call_document": published.id,
        "draft_call_document": drafted.id,
        "evaluator_unassigned_id": unassigned.id,
        "org_a": org_a.id,
        "org_b": org_b.id,
        # What names A's affairs on a page: nobody outside A and the staff may read them.
        "secrets_of_a": (org_a.name, in_evaluation.reference, grant.number),
        "app_draft": draft.id,
        "app_eval": in_evaluation.id,
        "app_awarded": grant.application_id,
        "attachment_draft": draft_attachment.id,
        "attachment_eval": eval_attachment.id,
        "assignment": assignment.id,
        "assignment_recused": conflicted.id,
        "assignment_invited": invited.id,
        "panel_evaluator": evaluator.id,
        "grid_section": section.id,
        "criterion": section.criteria[0].id,
        "grant": grant.id,
        "payment": grant.payments[0].id,
        "report": grant.reports[0].id,
        "signature": signature.id,
        "contract_sha256": SIGNED_SHA256,
        "amendment": grant.amendments[0].id,
        "notification": notification.id,
        "spare_token": spare_token.id,
        "outbox_failed": failed.id,
        "export_job": job.id,
        "invitation": organisations.invitation_token(owner_a, org_a.id, "newcomer@example.org",
                                                     "editor"),
        "bad_link": "not-a-valid-link",
    }
    secrets = {kind: tokens.create_token(user, "access matrix").secret
               for kind, user in users.items() if user is not None}
    return World(users, values, secrets)
