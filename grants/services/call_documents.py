"""Documents published with a call: guidelines, form and budget templates, annexes.

Programme managers add and remove them, each act audited on the call. A file is
stored like an application's attachment: judged by its content (a PDF named
``.docx`` is refused), size-limited, kept outside the static files under a random
name, with its SHA-256. Anyone may download the documents of a call whose page is
public; a draft call's documents exist only for programme managers (404 for
anyone else).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from typing import IO

from flask import current_app
from sqlalchemy import func, select

from .. import policy
from ..clock import now
from ..extensions import db
from ..models import AuditEvent, Call, User
from ..models.calls import CALL_DOCUMENT_KINDS, CALL_DOCUMENT_LANGUAGES, CallDocument
from .actors import Actor
from .attachments import (
    ACCEPTED_EXTENSIONS,
    TYPES,
    StoredFile,
    UploadRefused,
    check_content,
    safe_display_name,
    upload_folder,
)
from .errors import N_, NotFound, PermissionDenied
from .listings import PUBLIC_CALL_STATES

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
TITLE_LIMIT = 200

KIND_LABELS = {
    "guidelines": N_("Guidelines for applicants"),
    "application_form": N_("Application form template"),
    "budget_template": N_("Budget template"),
    "annex": N_("Annex"),
}
LANGUAGE_LABELS = {"en": N_("English"), "fr": N_("French")}


def max_bytes() -> int:
    return int(current_app.config.get("CALL_DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _require_manager(actor: Actor) -> User:
    if not isinstance(actor, User) or not policy.is_manager(actor):
        raise PermissionDenied(N_("programme managers only"))
    return actor


def is_public(call: Call) -> bool:
    """The call's page is public, so are its documents (a draft call's are not)."""
    return call.state in PUBLIC_CALL_STATES


def _audit(actor: User, call: Call, event: str, document: CallDocument) -> None:
    db.session.add(
        AuditEvent(
            occurred_at=now(),
            actor_id=actor.id,
            actor_label=actor.label,
            object_type="calls",
            object_id=call.id,
            event=event,
            from_state=None,
            to_state=None,
            comment=document.title,
            data={
                "document_id": document.id,
                "title": document.title,
                "language": document.language,
                "kind": document.kind,
                "filename": document.filename,
                "size_bytes": document.size_bytes,
                "sha256": document.sha256,
            },
        )
    )


def _check_fields(title: str, language: str, kind: str) -> str:
    title = (title or "").strip()
    fields: dict[str, list[str]] = {}
    if not title:
        fields["title"] = ["required"]
    elif len(title) > TITLE_LIMIT:
        fields["title"] = [f"at most {TITLE_LIMIT} characters"]
    if language not in CALL_DOCUMENT_LANGUAGES:
        fields["language"] = ["English or French"]
    if kind not in CALL_DOCUMENT_KINDS:
        fields["kind"] = ["choose a listed kind"]
    if fields:
        raise UploadRefused(N_("the document cannot be added"), fields)
    return title


def _store(filename: str, stream: IO[bytes]) -> tuple[str, str, int, str, str]:
    """Write the stream under a random name: (stored name, digest, size, MIME type, name)."""
    name = safe_display_name(filename)
    extension = os.path.splitext(name)[1].lower()
    if extension not in ACCEPTED_EXTENSIONS:
        raise UploadRefused(
            N_("files of type '%(extension)s' are not accepted; accepted: %(accepted)s"),
            {"file": ["type not accepted"]},
            params={"extension": extension or "none", "accepted": ", ".join(ACCEPTED_EXTENSIONS)},
        )
    limit = max_bytes()
    folder = upload_folder()
    stored_name = secrets.token_hex(32)
    target = folder / stored_name
    partial = folder / f"{stored_name}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(partial, "xb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(
                        N_("the file is larger than the limit of %(mb)s MB"),
                        {"file": ["too large"]},
                        params={"mb": limit // (1024 * 1024)},
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadRefused(N_("the file is empty"), {"file": ["empty file"]})
        # The attachments' checks: type by content, name against content, zip bombs,
        # PDFs with scripts or other active content.
        found = check_content(partial, extension)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return stored_name, digest.hexdigest(), size, TYPES[found][1], name


def add_document(
    actor: Actor,
    call: Call,
    *,
    title: str,
    language: str,
    kind: str,
    filename: str,
    stream: IO[bytes],
) -> CallDocument:
    """Publish one document with the call (managers); nothing is stored if it is refused."""
    manager = _require_manager(actor)
    clean_title = _check_fields(title, language, kind)
    stored_name, sha256, size, content_type, name = _store(filename, stream)
    last = db.session.scalar(
        select(func.max(CallDocument.position)).where(CallDocument.call_id == call.id)
    )
    document = CallDocument(
        call_id=call.id,
        title=clean_title,
        language=language,
        kind=kind,
        filename=name,
        stored_name=stored_name,
        content_type=content_type,
        size_bytes=size,
        sha256=sha256,
        position=(last or 0) + 1,
        uploaded_by_id=manager.id,
        uploaded_at=now(),
    )
    try:
        db.session.add(document)
        db.session.flush()
        _audit(manager, call, "document_added", document)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        (upload_folder() / stored_name).unlink(missing_ok=True)
        raise
    return document


def _document_of(call: Call, document_id: int) -> CallDocument:
    found = db.session.get(CallDocument, document_id)
    if found is None or found.call_id != call.id:
        raise NotFound(N_("no such document"))
    return found


def remove_document(actor: Actor, call: Call, document_id: int) -> None:
    """Withdraw a document from the call (managers); the file goes once the removal commits."""
    manager = _require_manager(actor)
    found = _document_of(call, document_id)
    path = upload_folder() / found.stored_name
    _audit(manager, call, "document_removed", found)
    db.session.delete(found)
    db.session.commit()
    path.unlink(missing_ok=True)


def documents(call: Call) -> list[CallDocument]:
    """The call's documents in their order (position, then as added)."""
    return list(
        db.session.scalars(
            select(CallDocument)
            .where(CallDocument.call_id == call.id)
            .order_by(CallDocument.position, CallDocument.id)
        )
    )


def open_document(actor: Actor | None, code: str, document_id: int) -> StoredFile:
    """A document's file: anyone's for a public call, managers' only for a draft (else 404)."""
    call = db.session.scalar(select(Call).where(Call.code == code))
    if call is None or not (is_public(call) or policy.is_manager(actor)):
        raise NotFound(N_("no such document"))
    found = _document_of(call, document_id)
    path = upload_folder() / found.stored_name
    if not path.is_file():
        raise NotFound(N_("the file is missing"))
    return StoredFile(path, found.filename, found.content_type, found.size_bytes)
