"""Attachments: judged by their content, size-limited, stored outside static files.

A file is accepted only when its bytes are of an accepted type *and* its name
says the same type (a PDF named ``.png`` is refused as mislabelled). Names
carrying a path (``../``, ``/``, ``\\``) are refused outright. Files are stored
in the upload folder under a random 64-character name; the name typed by the
applicant is kept only for display and download. They are read back only
through `open_attachment`, which applies the same visibility as the application.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app

from .. import policy
from ..extensions import db
from ..models import Attachment, User
from .actors import Actor
from .applications import get_application
from .errors import NotFound, PermissionDenied, ValidationFailed

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
OTHER_KIND = "other"

# Accepted types: the extensions a name may carry for each, and its MIME type.
TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "pdf": ((".pdf",), "application/pdf"),
    "png": ((".png",), "image/png"),
    "jpeg": ((".jpg", ".jpeg"), "image/jpeg"),
    "docx": (
        (".docx",),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": ((".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "odt": ((".odt",), "application/vnd.oasis.opendocument.text"),
    "ods": ((".ods",), "application/vnd.oasis.opendocument.spreadsheet"),
}
ACCEPTED_EXTENSIONS = tuple(ext for exts, _ in TYPES.values() for ext in exts)


class UploadRefused(ValidationFailed):
    code = "upload_refused"


def max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def upload_folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]).resolve()
    static = Path(current_app.static_folder or "").resolve()
    if static and (folder == static or static in folder.parents):
        raise RuntimeError("UPLOAD_FOLDER must be outside the static files")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sniff(head: bytes, path: Path) -> str | None:
    """The accepted type the bytes are, whatever the name says; None if none."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                if "mimetype" in names:
                    mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                    for kind in ("odt", "ods"):
                        if mimetype == TYPES[kind][1]:
                            return kind
                if "[Content_Types].xml" in names:
                    if "word/document.xml" in names:
                        return "docx"
                    if "xl/workbook.xml" in names:
                        return "xlsx"
        except (zipfile.BadZipFile, OSError, KeyError):
            return None
    return None


def safe_display_name(filename: str) -> str:
    """The name as typed, if it is a plain file name; refuses anything with a path."""
    name = (filename or "").strip()
    if not name:
        raise UploadRefused("choose a file to upload", {"file": ["no file chosen"]})
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name or "\x00" in name:
        raise UploadRefused(
            "the file name must be a plain name without folders or '..'; rename the file "
            "and upload it again",
            {"file": ["the file name contains a path"]},
        )
    if len(name) > 255 or any(ord(ch) < 32 for ch in name):
        raise UploadRefused(
            "the file name is too long or has control characters", {"file": ["rename the file"]}
        )
    return name


def kinds_for(call_rules: tuple[str, ...]) -> tuple[str, ...]:
    return (*call_rules, OTHER_KIND)


@dataclass(frozen=True)
class StoredFile:
    path: Path
    filename: str
    content_type: str
    size: int


def upload(
    actor: User, application_id: int, kind: str, filename: str, stream: IO[bytes]
) -> Attachment:
    """Store one attachment; UploadRefused with a plain reason, and nothing stored, if not."""
    from .eligibility import call_rules  # the call's mandatory attachment kinds

    app = get_application(actor, application_id)
    allowed = policy.can_edit_application(actor, app)
    if not allowed:
        raise PermissionDenied(allowed.reason)
    name = safe_display_name(filename)
    kinds = kinds_for(call_rules(app.call).mandatory_attachments)
    if kind not in kinds:
        raise UploadRefused("choose what the document is", {"kind": ["choose a listed kind"]})
    extension = os.path.splitext(name)[1].lower()
    if extension not in ACCEPTED_EXTENSIONS:
        raise UploadRefused(
            f"files of type '{extension or 'none'}' are not accepted; accepted: "
            + ", ".join(ACCEPTED_EXTENSIONS),
            {"file": ["type not accepted"]},
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
            while True:
                chunk = stream.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(
                        f"the file is larger than the limit of {limit // (1024 * 1024)} MB; "
                        "reduce it (e.g. scan at a lower resolution) and upload it again",
                        {"file": ["too large"]},
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadRefused("the file is empty", {"file": ["empty file"]})
        with open(partial, "rb") as head_file:
            head = head_file.read(16)
        found = sniff(head, partial)
        if found is None:
            raise UploadRefused(
                "the file's content is not of an accepted type (PDF, PNG, JPEG, Word, Excel, "
                "OpenDocument)",
                {"file": ["content not accepted"]},
            )
        if extension not in TYPES[found][0]:
            raise UploadRefused(
                f"the file is named '{extension}' but its content is {found.upper()}; "
                "save it with the right type and upload it again",
                {"file": ["the name does not match the content"]},
            )
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    attachment = Attachment(
        application_id=app.id,
        kind=kind,
        filename=name,
        stored_name=stored_name,
        content_type=TYPES[found][1],
        size_bytes=size,
        sha256=digest.hexdigest(),
        uploaded_by_id=actor.id,
    )
    app.attachments.append(attachment)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        target.unlink(missing_ok=True)
        raise
    return attachment


def _attachment(actor: Actor, application_id: int, attachment_id: int) -> Attachment:
    app = get_application(actor, application_id)
    found = db.session.get(Attachment, attachment_id)
    if found is None or found.application_id != app.id:
        raise NotFound("no such attachment")
    return found


def open_attachment(actor: Actor, application_id: int, attachment_id: int) -> StoredFile:
    """The stored file, for those who may see the application (404 for anyone else)."""
    found = _attachment(actor, application_id, attachment_id)
    path = upload_folder() / found.stored_name
    if not path.is_file():
        raise NotFound("the file is missing")
    return StoredFile(path, found.filename, found.content_type, found.size_bytes)


def delete(actor: User, application_id: int, attachment_id: int) -> None:
    found = _attachment(actor, application_id, attachment_id)
    allowed = policy.can_edit_application(actor, found.application)
    if not allowed:
        raise PermissionDenied(allowed.reason)
    path = upload_folder() / found.stored_name
    found.application.attachments.remove(found)
    db.session.commit()
    path.unlink(missing_ok=True)
