"""From award to signed contract: the award decision, sending, signing, countersigning, lapse.

The award fires the application's 'award' transition, whose effect creates the
grant (number, amount never above the request or the call's maximum, dates)
with contract version 1. Signing records who signed which exact document:
the SHA-256 of the contract PDF as rendered for that version, the signer's
name, the time and the network address. A grantee signs in the application
or uploads the countersigned PDF (stored like attachments, PDF only); the
manager then signs for the programme, which fires 'sign' and plans payments
and reports.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..clock import now
from ..extensions import db
from ..models import Application, Grant, Signature, User
from ..policy import can_view, has_workflow_role, is_manager
from . import letters
from .actors import SYSTEM, Actor
from .attachments import (
    STORAGE_FULL_ERRNOS,
    check_pdf,
    max_bytes,
    sniff,
    storage_unavailable,
    upload_folder,
)
from .contracts import render_contract
from .errors import GuardFailed, NotFound, PermissionDenied, ValidationFailed
from .transitions import commit, transition


def award(
    application: Application,
    actor: User,
    *,
    amount: Decimal | None = None,
    start_date: date | None = None,
    documents_verified: bool = False,
    comment: str | None = None,
) -> Grant:
    """Award a provisionally selected application; returns the grant created.

    The grant's amount is at most the amount requested and the call's maximum;
    the applicant's members are told, in the same transaction, that the award
    letter (with the evaluation summary) is ready.
    """
    data: dict[str, object] = {"documents_verified": documents_verified}
    if amount is not None:
        data["amount"] = amount
    if start_date is not None:
        data["start_date"] = start_date
    transition(application, "award", actor, comment=comment, data=data, commit=False)
    letters.send_letter(application)
    commit()
    grant = grant_of(application)
    assert grant is not None
    return grant


def grant_of(application: Application) -> Grant | None:
    return db.session.scalar(select(Grant).where(Grant.application_id == application.id))


def get_grant(actor: Actor, grant_id: int) -> Grant:
    """The grant, for those who may know it (404 for anyone else)."""
    grant = db.session.get(Grant, grant_id)
    if grant is None or not can_view(actor, grant):
        raise NotFound("no such grant")
    return grant


def cofinancing(grant: Grant) -> Decimal:
    total = grant.application.total_cost or grant.amount
    return max(total - grant.amount, Decimal("0.00"))


def send_for_signature(grant: Grant, actor: User) -> Grant:
    """Send the contract for signature; the transition renders it and records its hash."""
    return transition(grant, "send_for_signature", actor)  # type: ignore[return-value]


def _document_hash(grant: Grant) -> str:
    version = grant.current_contract
    if version is None:
        raise NotFound(f"{grant.label} has no contract")
    if version.document_sha256 is None:
        render_contract(grant, version)
    assert version.document_sha256 is not None
    return version.document_sha256


def _check_signing(grant: Grant, actor: Actor, side: str) -> None:
    if side == "grantee":
        if not has_workflow_role(actor, "applicant_owner", grant):
            raise PermissionDenied("an owner of the grantee organisation signs the contract")
    elif not is_manager(actor):
        raise PermissionDenied("programme managers sign for the programme")
    if grant.state != "awaiting_signature":
        raise GuardFailed(f"{grant.label} cannot be signed", [f"it is {grant.state}"])
    contract = grant.current_contract
    if contract is not None and any(s.side == side for s in contract.signatures):
        raise GuardFailed(f"{grant.label} cannot be signed", [f"the {side} has already signed"])


def sign_in_app(
    grant: Grant, actor: User, *, name: str, address: str, document_sha256: str
) -> Signature:
    """The grantee signs the exact document they saw (its hash must match the current one)."""
    _check_signing(grant, actor, "grantee")
    name = name.strip()
    if not name:
        raise ValidationFailed("type your full name to sign", {"name": ["required"]})
    expected = _document_hash(grant)
    if document_sha256 != expected:
        raise GuardFailed(
            f"{grant.label} cannot be signed",
            ["the contract changed since you opened it; read the current version and sign again"],
        )
    signature = Signature(
        contract=grant.current_contract,
        side="grantee",
        method="in_app",
        signer_id=actor.id,
        signer_name=name[:200],
        signed_at=now(),
        address=address[:64],
        document_sha256=expected,
    )
    db.session.add(signature)
    db.session.commit()
    return signature


def sign_by_upload(
    grant: Grant, actor: User, *, name: str, address: str, stream: IO[bytes]
) -> Signature:
    """The grantee uploads the countersigned contract PDF; it is stored, and its hash kept."""
    _check_signing(grant, actor, "grantee")
    expected = _document_hash(grant)
    folder = upload_folder()
    stored_name = secrets.token_hex(32)
    partial = folder / f"{stored_name}.part"
    size = 0
    try:
        with open(partial, "xb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > max_bytes():
                    raise ValidationFailed("the file is too large", {"file": ["too large"]})
                out.write(chunk)
        with open(partial, "rb") as head:
            if size == 0 or sniff(head.read(16), partial) != "pdf":
                raise ValidationFailed(
                    "upload the signed contract as a PDF", {"file": ["not a PDF"]}
                )
        check_pdf(partial)  # JavaScript, launch actions, embedded files: refused
        os.replace(partial, folder / stored_name)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno in STORAGE_FULL_ERRNOS:
            raise storage_unavailable() from exc
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    signature = Signature(
        contract=grant.current_contract,
        side="grantee",
        method="upload",
        signer_id=actor.id,
        signer_name=(name.strip() or actor.name)[:200],
        signed_at=now(),
        address=address[:64],
        document_sha256=expected,
        stored_name=stored_name,
    )
    db.session.add(signature)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        (folder / stored_name).unlink(missing_ok=True)
        raise
    return signature


def countersign(grant: Grant, actor: User, *, address: str) -> Grant:
    """The programme signs after the grantee: the contract is active, payments planned."""
    _check_signing(grant, actor, "programme")
    expected = _document_hash(grant)
    db.session.add(
        Signature(
            contract=grant.current_contract,
            side="programme",
            method="in_app",
            signer_id=actor.id,
            signer_name=actor.name,
            signed_at=now(),
            address=address[:64],
            document_sha256=expected,
        )
    )
    return transition(grant, "sign", actor)  # type: ignore[return-value]


@dataclass(frozen=True)
class StoredContract:
    path: Path
    filename: str


def uploaded_contract(actor: Actor, signature_id: int) -> StoredContract:
    signature = db.session.get(Signature, signature_id)
    if signature is None or signature.stored_name is None:
        raise NotFound("no such document")
    grant = signature.contract.grant
    if not can_view(actor, grant):
        raise NotFound("no such document")
    path = upload_folder() / signature.stored_name
    if not path.is_file():
        raise NotFound("the file is missing")
    return StoredContract(path, f"{grant.number}-v{signature.contract.number}-signed.pdf")


def lapse_unsigned(grant: Grant) -> Grant:
    """Unsigned after the call's signature period: the contract lapses, a reserve is promoted."""
    return transition(grant, "lapse", SYSTEM)  # type: ignore[return-value]


def _organisation_ids(actor: User) -> list[int]:
    return [m.organisation_id for m in actor.memberships]


def grants_for(actor: User) -> list[Grant]:
    """The grants of the actor's organisations, newest first."""
    ids = _organisation_ids(actor)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Grant)
            .join(Application, Application.id == Grant.application_id)
            .where(Application.organisation_id.in_(ids))
            .order_by(Grant.awarded_at.desc(), Grant.id.desc())
        )
    )


def decided_applications_for(actor: User) -> list[Application]:
    """The actor's organisations' applications that have a decision letter."""
    ids = _organisation_ids(actor)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Application)
            .where(
                Application.organisation_id.in_(ids),
                Application.state.in_(letters.AWARDED + letters.REJECTED),
            )
            .order_by(Application.decided_at.desc(), Application.id.desc())
        )
    )


def all_grants() -> list[Grant]:
    """Every grant, with what its money summary reads loaded alongside (no query per row)."""
    return list(
        db.session.scalars(
            select(Grant)
            .options(
                joinedload(Grant.application).joinedload(Application.organisation),
                selectinload(Grant.payments),
                selectinload(Grant.recovery_orders),
            )
            .order_by(Grant.number)
        )
    )


def awaiting_award() -> list[Application]:
    """Provisionally selected applications: the award decision is next."""
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.state == "provisionally_selected")
            .order_by(Application.call_id, Application.reference)
        )
    )


def get_application(actor: Actor, application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or not can_view(actor, application):
        raise NotFound("no such application")
    return application
