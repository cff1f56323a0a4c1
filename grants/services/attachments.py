"""Attachments: judged by their content, size-limited, stored outside static files.

A file is accepted only when its bytes are of an accepted type *and* its name
says the same type (a PDF named ``.png`` is refused as mislabelled). Names
carrying a path (``../``, ``/``, ``\\``) or a NUL are refused outright; other
names are kept for display only, cleaned of control and invisible formatting
characters (a right-to-left override can make ``.exe`` look like ``.pdf``) and
shortened when very long. Files are stored in the upload folder under a random
64-character name and read back only through `open_attachment`, which applies
the same visibility as the application.

Beyond the type, the content is inspected without being opened by any viewer:

* Office and OpenDocument files are zip containers. Their central directory is
  read, never extracted: too many entries, a declared uncompressed size or a
  compression ratio beyond sane limits (a zip bomb), entries overlapping one
  another, encryption, duplicate names, an unusual compression method or a
  malformed archive are refused. Plain ``.zip`` files are not accepted at all.
* PDFs are refused when they carry active content: JavaScript (``/JavaScript``,
  ``/JS``, so also an ``/OpenAction`` running a script), additional actions
  (``/AA``), ``/Launch`` actions, embedded files, rich media or XFA forms. The
  scan reads every PDF name in the raw bytes (``#xx`` escapes decoded), except
  inside streams whose declared length is verified by their ``endstream``
  (image and page data, where a match would be chance), and it inflates every
  compressed object stream (``/Type /ObjStm``, where PDF 1.5+ files keep their
  dictionaries) with zlib, within a bound. An object stream that cannot be read
  (an unknown filter, encryption, corrupt data) is refused as not checkable.

A full disk (ENOSPC, EDQUOT...) while storing is `StorageUnavailable`: the
partial file is removed, nothing is written to the database, and the person is
told to try again later.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app, has_request_context
from flask_babel import gettext

from .. import policy
from ..extensions import db
from ..models import Attachment, User
from .actors import Actor
from .applications import get_application
from .errors import NotFound, PermissionDenied, ValidationFailed

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
OTHER_KIND = "other"
CHUNK = 64 * 1024

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
ZIP_KINDS = ("docx", "xlsx", "odt", "ods")

# Display names: longer ones are shortened (the extension kept); the column holds 255.
MAX_NAME_CHARS = 180
# Characters some systems cannot have in a file name, or that confuse a download header.
RESERVED_NAME_CHARS = re.compile(r'[<>:"|?*]')

# Zip containers. A real Word or Excel file has tens to a few hundred entries and
# compresses its XML about 5 to 20 times; deflate cannot exceed about 1032:1, which
# only a run of identical bytes (a bomb) reaches.
ZIP_MAX_ENTRIES = 2000
ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_ENTRY_MAX_RATIO = 500
ZIP_ENTRY_RATIO_FROM = 1024 * 1024  # small entries may compress very well
ZIP_MEMBER_READ = 4096  # at most this much of any member is ever read

# PDF names that run code or carry other files; any of them refuses the file.
PDF_ACTIVE_NAMES = {
    b"JavaScript": "JavaScript",
    b"JS": "JavaScript",
    b"AA": "automatic actions",
    b"Launch": "a command to launch a program",
    b"EmbeddedFile": "an embedded file",
    b"EmbeddedFiles": "embedded files",
    b"RichMedia": "rich media",
    b"XFA": "an XFA form (scripted)",
}
PDF_OBJSTM_MAX_BYTES = 64 * 1024 * 1024  # inflated object streams, all together
PDF_DELIMITERS = b"()<>[]{}/%"
PDF_WHITESPACE = b"\x00\t\n\x0c\r "
PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
PDF_OBJECT = re.compile(rb"(\d+)\s+(\d+)\s+obj\b\s*<<")
PDF_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_OBJECT_HEADER = re.compile(rb"\d+\s+\d+\s+obj\b")
PDF_STREAM_KEYWORD = re.compile(rb"\s*stream(\r\n|\n|\r)")
PDF_ENDSTREAM = re.compile(rb"\s*endstream")

# Storage errors that mean "no room now", not a fault of ours or of the file.
STORAGE_FULL_ERRNOS = frozenset(
    code
    for code in (
        errno.ENOSPC,
        getattr(errno, "EDQUOT", None),
        errno.EFBIG,
        errno.EROFS,
    )
    if code is not None
)


def _(message: str, **params: object) -> str:
    """The message in the person's language on a page; in English from a command or job."""
    if has_request_context():
        return gettext(message, **params)
    return message % params if params else message


class UploadRefused(ValidationFailed):
    code = "upload_refused"


class StorageUnavailable(UploadRefused):
    """The server had no room for the file (disk or quota full); nothing was stored."""

    code = "storage_unavailable"
    status = 507


def max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def human_size(size: int) -> str:
    """A byte count as people read it: '10 MB', '2 KB', '512 bytes'."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def upload_folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]).resolve()
    static = Path(current_app.static_folder or "").resolve()
    if static and (folder == static or static in folder.parents):
        raise RuntimeError("UPLOAD_FOLDER must be outside the static files")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------- zip containers


def _zip_refused(reason: str) -> UploadRefused:
    return UploadRefused(
        _(
            "the file cannot be accepted: %(reason)s; save it again from your office "
            "program and upload it again",
            reason=reason,
        ),
        {"file": ["unsafe archive"]},
    )


def check_zip(path: Path) -> zipfile.ZipFile:
    """The archive, opened on its central directory only; UploadRefused if it is unsafe."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _zip_refused(_("the archive inside it is damaged")) from None
    try:
        entries = archive.infolist()
        if len(entries) > ZIP_MAX_ENTRIES:
            raise _zip_refused(
                _("it holds %(count)s parts, more than %(limit)s",
                  count=len(entries), limit=ZIP_MAX_ENTRIES)
            )
        names = [entry.filename for entry in entries]
        if len(set(names)) != len(names):
            raise _zip_refused(_("it holds two parts of the same name"))
        total = packed = 0
        for entry in entries:
            if entry.flag_bits & 0x1:
                raise _zip_refused(_("it is protected by a password"))
            if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _zip_refused(_("it uses an unusual compression"))
            total += entry.file_size
            packed += entry.compress_size
            if (
                entry.file_size > ZIP_ENTRY_RATIO_FROM
                and entry.file_size > ZIP_ENTRY_MAX_RATIO * max(entry.compress_size, 1)
            ):
                raise _zip_refused(_("it expands to far more than its size (a zip bomb)"))
        if total > ZIP_MAX_UNCOMPRESSED:
            raise _zip_refused(
                _("it expands to %(size)s, more than %(limit)s",
                  size=human_size(total), limit=human_size(ZIP_MAX_UNCOMPRESSED))
            )
        if total > ZIP_ENTRY_RATIO_FROM and total > ZIP_MAX_RATIO * max(packed, 1):
            raise _zip_refused(_("it expands to far more than its size (a zip bomb)"))
        # Entries sharing compressed data (an overlapping bomb) declare more than the file has.
        if packed > path.stat().st_size:
            raise _zip_refused(_("its parts overlap (a zip bomb)"))
    except BaseException:
        archive.close()
        raise
    return archive


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """The start of one member, never more than ZIP_MEMBER_READ bytes inflated."""
    with archive.open(name) as member:
        return member.read(ZIP_MEMBER_READ)


def _zip_kind(archive: zipfile.ZipFile) -> str | None:
    names = set(archive.namelist())
    try:
        if "mimetype" in names:
            mimetype = _read_member(archive, "mimetype").decode("ascii", "replace").strip()
            for kind in ("odt", "ods"):
                if mimetype == TYPES[kind][1]:
                    return kind
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError, RuntimeError):
        return None
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
    return None


def sniff(head: bytes, path: Path) -> str | None:
    """The accepted type the bytes are, whatever the name says; None if none.

    A zip container that is unsafe (see `check_zip`) is of no accepted type.
    """
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        try:
            with check_zip(path) as archive:
                return _zip_kind(archive)
        except UploadRefused:
            return None
    return None


# ---------------------------------------------------------------- PDF active content


def _decode_name(raw: bytes) -> bytes:
    return PDF_HEX_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), raw)


def _names(data: bytes, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    for found in PDF_NAME.finditer(data, start, len(data) if end is None else end):
        yield _decode_name(found[1])


def _dictionary_end(data: bytes, start: int) -> int | None:
    """The index just after the '>>' closing the dictionary opened before `start`."""
    depth, i, size = 1, start, len(data)
    while i < size:
        if data.startswith(b"<<", i):
            depth, i = depth + 1, i + 2
        elif data.startswith(b">>", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        elif data[i : i + 1] == b"(":  # a literal string: nested parentheses, escapes
            level, i = 1, i + 1
            while i < size and level:
                char = data[i : i + 1]
                if char == b"\\":
                    i += 1
                elif char == b"(":
                    level += 1
                elif char == b")":
                    level -= 1
                i += 1
        elif data[i : i + 1] == b"<":  # a hex string
            close = data.find(b">", i)
            i = size if close < 0 else close + 1
        else:
            i += 1
    return None


def _stream_length(data: bytes, dictionary: bytes) -> int | None:
    direct = re.search(rb"/Length\s+(\d+)(\s+(\d+)\s+R)?", dictionary)
    if direct is None:
        return None
    if direct[2] is None:
        return int(direct[1])
    target = re.search(
        rb"(?<!\d)" + direct[1] + rb"\s+" + direct[3] + rb"\s+obj\s*(\d+)\s*endobj", data
    )
    return int(target[1]) if target else None


@dataclass(frozen=True)
class _Stream:
    start: int  # first byte of the data
    end: int  # just after the data
    verified: bool  # its declared length ends exactly at 'endstream'
    dictionary: bytes


def _streams(data: bytes) -> Iterator[_Stream]:
    for found in PDF_OBJECT.finditer(data):
        closing = _dictionary_end(data, found.end())
        if closing is None:
            continue
        keyword = PDF_STREAM_KEYWORD.match(data, closing)
        if keyword is None:
            continue
        dictionary = data[found.end() : closing - 2]
        start = keyword.end()
        length = _stream_length(data, dictionary)
        # Skipped as data only if its length is honest and no object hides inside it
        # (a reader follows the cross-reference table into the middle of a stream).
        if (
            length is not None
            and PDF_ENDSTREAM.match(data, start + length)
            and PDF_OBJECT_HEADER.search(data, start, start + length) is None
        ):
            yield _Stream(start, start + length, True, dictionary)
            continue
        after = data.find(b"endstream", start)
        yield _Stream(start, len(data) if after < 0 else after, False, dictionary)


def _active_content(names: Iterator[bytes]) -> str | None:
    for name in names:
        if name in PDF_ACTIVE_NAMES:
            return PDF_ACTIVE_NAMES[name]
    return None


def _pdf_refused(what: str) -> UploadRefused:
    return UploadRefused(
        _(
            "the PDF contains %(what)s, which is not accepted; save it as a plain PDF "
            "(for example with 'Print to PDF') and upload it again",
            what=what,
        ),
        {"file": ["active content in the PDF"]},
    )


def _not_checkable() -> UploadRefused:
    return UploadRefused(
        _(
            "the PDF could not be checked (it is protected, damaged or uses an unusual "
            "compression); save it as a plain PDF (for example with 'Print to PDF') and "
            "upload it again"
        ),
        {"file": ["the PDF could not be checked"]},
    )


def _inflate(raw: bytes, budget: int) -> bytes:
    if budget <= 0:  # zlib reads a max_length of 0 as "no limit"
        raise _not_checkable()
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, budget)
    except zlib.error:
        raise _not_checkable() from None
    if inflater.unconsumed_tail:
        raise _not_checkable()  # more than the budget: too big to be a real object stream
    return out


def check_pdf(path: Path) -> None:
    """UploadRefused if the PDF carries active content or hides objects we cannot read."""
    data = path.read_bytes()
    streams = list(_streams(data))
    skipped = sorted((s.start, s.end) for s in streams if s.verified)
    position = 0
    for start, end in skipped:  # every name outside verified stream data
        if start >= position:
            found = _active_content(_names(data, position, start))
            if found:
                raise _pdf_refused(found)
            position = end
    found = _active_content(_names(data, position))
    if found:
        raise _pdf_refused(found)
    budget = PDF_OBJSTM_MAX_BYTES
    for stream in streams:
        keys = list(_names(stream.dictionary))
        if b"ObjStm" not in keys:
            continue
        filters = [k for k in keys if k.endswith(b"Decode")]
        raw = data[stream.start : stream.end]
        if filters == [b"FlateDecode"]:
            content = _inflate(raw, budget)
        elif not filters:
            content = raw
        else:
            raise _not_checkable()
        budget -= len(content)
        found = _active_content(_names(content))
        if found:
            raise _pdf_refused(found)


# ---------------------------------------------------------------- names


def safe_display_name(filename: str) -> str:
    """The name as typed, cleaned for display; refuses names with a path or a NUL.

    Letters of every script are kept; control and invisible formatting characters
    (such as a right-to-left override) are dropped, characters that are unsafe in
    file names replaced, and a very long name shortened with its extension kept.
    """
    name = unicodedata.normalize("NFC", filename or "").strip()
    if not name:
        raise UploadRefused(_("choose a file to upload"), {"file": ["no file chosen"]})
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name:
        raise UploadRefused(
            _(
                "the file name must be a plain name without folders or '..'; rename the file "
                "and upload it again"
            ),
            {"file": ["the file name contains a path"]},
        )
    if "\x00" in name:
        raise UploadRefused(
            _("the file name contains a NUL character; rename the file and upload it again"),
            {"file": ["the file name contains a NUL character"]},
        )
    cleaned = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn") or ch.isspace()
    )
    cleaned = RESERVED_NAME_CHARS.sub("_", " ".join(cleaned.split())).rstrip(" .")
    stem, extension = os.path.splitext(cleaned)
    base, dot, _after = cleaned.rpartition(".")
    if not (base if dot else cleaned).strip(" ._-"):
        raise UploadRefused(
            _("the file name has no readable characters; rename the file and upload it again"),
            {"file": ["rename the file"]},
        )
    if len(cleaned) > MAX_NAME_CHARS:
        extension = extension[:16]
        cleaned = stem[: MAX_NAME_CHARS - len(extension)].rstrip(" .") + extension
    return cleaned


def kinds_for(call_rules: tuple[str, ...]) -> tuple[str, ...]:
    return (*call_rules, OTHER_KIND)


@dataclass(frozen=True)
class StoredFile:
    path: Path
    filename: str
    content_type: str
    size: int


def storage_unavailable() -> StorageUnavailable:
    """The refusal for a full disk or quota (also for other uploads that store files)."""
    return StorageUnavailable(
        _(
            "the server could not store the file, try again later; nothing else in your "
            "application has changed"
        ),
        {"file": ["the server could not store the file"]},
    )


def _too_large(limit: int) -> UploadRefused:
    return UploadRefused(
        _(
            "the file is larger than the limit of %(limit)s; reduce it (e.g. scan at a lower "
            "resolution) and upload it again",
            limit=human_size(limit),
        ),
        {"file": ["too large"]},
    )


def check_content(path: Path, extension: str) -> str:
    """The file's accepted type; UploadRefused (with the reason) if it is not acceptable."""
    with open(path, "rb") as head_file:
        head = head_file.read(16)
    if head.startswith(b"PK\x03\x04"):
        with check_zip(path) as archive:  # refuses bombs and damaged archives by name
            found = _zip_kind(archive)
    else:
        found = sniff(head, path)
    if found is None:
        raise UploadRefused(
            _(
                "the file's content is not of an accepted type (PDF, PNG, JPEG, Word, Excel, "
                "OpenDocument)"
            ),
            {"file": ["content not accepted"]},
        )
    if extension not in TYPES[found][0]:
        raise UploadRefused(
            _(
                "the file is named '%(extension)s' but its content is %(kind)s; save it with "
                "the right type and upload it again",
                extension=extension,
                kind=found.upper(),
            ),
            {"file": ["the name does not match the content"]},
        )
    if found == "pdf":
        check_pdf(path)
    return found


def _store(stream: IO[bytes], partial: Path, limit: int) -> tuple[int, str]:
    """Copy the stream to `partial`, within the limit; its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with open(partial, "xb") as out:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())  # a full disk shows here on some file systems, not at write
    return size, digest.hexdigest()


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
        raise UploadRefused(_("choose what the document is"), {"kind": ["choose a listed kind"]})
    extension = os.path.splitext(name)[1].lower()
    if extension not in ACCEPTED_EXTENSIONS:
        raise UploadRefused(
            _(
                "files of type '%(extension)s' are not accepted; accepted: %(accepted)s",
                extension=extension or _("none"),
                accepted=", ".join(ACCEPTED_EXTENSIONS),
            ),
            {"file": ["type not accepted"]},
        )
    limit = max_bytes()
    stored_name = secrets.token_hex(32)
    partial: Path | None = None
    try:
        folder = upload_folder()
        target = folder / stored_name
        partial = folder / f"{stored_name}.part"
        size, sha256 = _store(stream, partial, limit)
        if size == 0:
            raise UploadRefused(
                _("the file is empty; choose the document again and upload it"),
                {"file": ["empty file"]},
            )
        found = check_content(partial, extension)
        os.replace(partial, target)
    except OSError as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        if exc.errno in STORAGE_FULL_ERRNOS:
            current_app.logger.error("attachment storage unavailable: %s", exc)
            raise storage_unavailable() from exc
        raise
    except BaseException:
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise
    attachment = Attachment(
        application_id=app.id,
        kind=kind,
        filename=name,
        stored_name=stored_name,
        content_type=TYPES[found][1],
        size_bytes=size,
        sha256=sha256,
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
