"""Hostile uploads: each is refused with a clear message on the upload page, or neutralised.

Every hostile file is generated here (no binaries in the repository): oversized
and empty files, types disguised by their name, names with paths, NUL, unicode
tricks or great length, zip bombs of several kinds, PDFs carrying JavaScript or
other active content, and a disk that fills up while the file is written. A
refusal leaves nothing on disk and nothing in the database.
"""

from __future__ import annotations

import errno
import io
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from grants.extensions import db
from grants.models import Application, ApplicationSection, Attachment
from grants.services import attachments
from tests.factories import PASSWORD, ApplicationFactory

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


# ---------------------------------------------------------------- set-up


@pytest.fixture
def draft(app: Any, client: Any) -> Application:
    """A filled draft of a logged-in owner, with one attachment already in place."""
    application = ApplicationFactory()
    response = client.post(
        "/account/login", data={"email": application.created_by.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    return application


def upload(client: Any, draft: Application, name: str, content: bytes) -> Any:
    return client.post(
        f"/applicant/applications/{draft.id}/attachments",
        data={"kind": "other", "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def stored_files(app: Any) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return sorted(folder.iterdir()) if folder.exists() else []


def snapshot(draft: Application) -> tuple[object, ...]:
    """What the draft holds besides the new file: it must not change on a refusal."""
    db.session.expire_all()
    found = db.session.get(Application, draft.id)
    sections = db.session.scalars(
        db.select(ApplicationSection).where(ApplicationSection.application_id == draft.id)
    ).all()
    return (
        found.state,
        found.version,
        found.title,
        found.requested_amount,
        sorted((s.key, s.version, repr(s.data)) for s in sections),
        sorted((a.id, a.filename, a.stored_name) for a in found.attachments),
        len(found.budget_lines),
    )


def assert_refused(app: Any, client: Any, draft: Application, name: str, content: bytes,
                   message: str, status: int = 422) -> str:
    """Refused on the upload page itself, with `message`; nothing kept anywhere."""
    before = snapshot(draft)
    count = db.session.query(Attachment).count()
    response = upload(client, draft, name, content)
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert message in page, page
    assert 'enctype="multipart/form-data"' in page  # the upload form, shown again
    assert 'role="alert"' in page
    assert stored_files(app) == []
    assert db.session.query(Attachment).count() == count
    assert snapshot(draft) == before
    return page


def accepted(app: Any, client: Any, draft: Application, name: str, content: bytes) -> Attachment:
    response = upload(client, draft, name, content)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    newest = db.session.scalars(db.select(Attachment).order_by(Attachment.id.desc())).first()
    assert newest is not None
    return newest


# ---------------------------------------------------------------- size


def test_an_oversized_file_is_refused_with_the_limit(app, client, draft):
    app.config["ATTACHMENT_MAX_BYTES"] = 2048
    page = assert_refused(app, client, draft, "big.pdf", PDF + b"0" * 5000,
                          "larger than the limit of 2 KB")
    assert "2 KB" in page


def test_the_limit_reads_in_megabytes(app, client, draft):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024 * 1024
    assert_refused(app, client, draft, "big.pdf", PDF + b"0" * (1024 * 1024),
                   "larger than the limit of 1 MB")


def test_an_empty_file_is_refused(app, client, draft):
    assert_refused(app, client, draft, "empty.pdf", b"", "the file is empty")


# ---------------------------------------------------------------- disguised types


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "not of an accepted type"),
        ("letter.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>",
         "not of an accepted type"),
        ("logo.png", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
         "not of an accepted type"),
        ("budget.docx", PDF, "its content is PDF"),
        ("scan.pdf", PNG, "its content is PNG"),
        ("photo.jpg", b"#!/bin/sh\nrm -rf /\n", "not of an accepted type"),
        ("setup.exe", PDF, "are not accepted"),
        ("page.html", b"<html></html>", "are not accepted"),
        ("noextension", PDF, "are not accepted"),
    ],
)
def test_a_type_disguised_by_its_name_is_refused(app, client, draft, name, content, message):
    assert_refused(app, client, draft, name, content, message)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    ["../../../etc/passwd.pdf", "/etc/passwd.pdf", "..", "sub/dir.pdf", "a/../../b.pdf"],
)
def test_names_with_a_path_are_refused(app, client, draft, name):
    assert_refused(app, client, draft, name, PDF, "without folders")


def test_names_with_a_backslash_path_are_refused(app, draft):
    # Called directly: a form parser may already have cut or unescaped backslashes.
    for name in ("C:\\Windows\\a.pdf", "..\\evil.pdf", "\\\\server\\share\\a.pdf"):
        with pytest.raises(attachments.UploadRefused) as caught:
            attachments.upload(draft.created_by, draft.id, "other", name, io.BytesIO(PDF))
        assert "without folders" in caught.value.message
    assert stored_files(app) == []


def test_a_name_with_a_nul_is_refused(app, draft):
    owner = draft.created_by
    for name in ("report.pdf\x00.exe", "report\x00.pdf"):
        with pytest.raises(attachments.UploadRefused) as caught:
            attachments.upload(owner, draft.id, "other", name, io.BytesIO(PDF))
        assert "NUL" in caught.value.message
    assert stored_files(app) == []


def test_unicode_names_are_kept_and_stored_under_a_random_name(app, client, draft):
    name = "Budget prévisionnel \u2013 Sénégal 2026 \u2713 وثيقة 文件.pdf"
    found = accepted(app, client, draft, name, PDF)
    assert found.filename == name
    assert re.fullmatch(r"[0-9a-f]{64}", found.stored_name)
    assert [f.name for f in stored_files(app)] == [found.stored_name]
    download = client.get(f"/applicant/applications/{draft.id}/attachments/{found.id}")
    assert download.status_code == 200 and download.data == PDF
    disposition = download.headers["Content-Disposition"]
    assert "\n" not in disposition and "filename*=UTF-8''" in disposition


def test_invisible_and_reserved_characters_are_removed_from_the_name(app, client, draft):
    found = accepted(app, client, draft, "re\u200bport\u202e final <v2>|?.pdf", PDF)
    assert found.filename == "report final _v2___.pdf"


def test_control_characters_in_the_name_become_spaces(app, draft):
    found = attachments.upload(draft.created_by, draft.id, "other",
                               "annual\treport\r\n\"2026\"\x1b[31m.pdf", io.BytesIO(PDF))
    assert found.filename == "annual report _2026_[31m.pdf"


def test_a_right_to_left_override_cannot_hide_the_real_extension(app, client, draft):
    # Displayed as "invoiceexe.pdf" by a bidi-aware screen; it is an .exe.
    assert_refused(app, client, draft, "invoice\u202efdp.exe", PDF, "are not accepted")


def test_a_very_long_name_is_shortened_with_its_extension(app, client, draft):
    found = accepted(app, client, draft, "é" * 3000 + ".pdf", PDF)
    assert len(found.filename) <= attachments.MAX_NAME_CHARS
    assert found.filename.endswith("é.pdf")
    assert len(found.stored_name) == 64


def test_a_name_without_readable_characters_is_refused(app, client, draft):
    assert_refused(app, client, draft, "\u200b\u202e.pdf", PDF, "no readable characters")


# ---------------------------------------------------------------- zip containers


def office(kind: str = "docx", extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if kind in ("odt", "ods"):
            archive.writestr("mimetype", attachments.TYPES[kind][1], zipfile.ZIP_STORED)
            archive.writestr("content.xml", "<office:document-content/>")
        else:
            archive.writestr("[Content_Types].xml", "<Types/>")
            part = "word/document.xml" if kind == "docx" else "xl/workbook.xml"
            archive.writestr(part, "<document>" + "text " * 200 + "</document>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def patch_central_directory(data: bytes, offset: int, fmt: str, value: int,
                            entry: int = -1) -> bytes:
    """Rewrite one field of a central directory header (the entry's declared metadata)."""
    headers = [m.start() for m in re.finditer(rb"PK\x01\x02", data)]
    at = headers[entry] + offset
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt):]


@pytest.mark.parametrize("kind", ["docx", "xlsx", "odt", "ods"])
def test_real_office_files_are_accepted(app, client, draft, kind):
    found = accepted(app, client, draft, f"annex.{kind}", office(kind))
    assert found.content_type == attachments.TYPES[kind][1]


def test_a_zip_bomb_by_compression_ratio_is_refused(app, client, draft):
    bomb = office("docx", {"word/media/filler.bin": b"\x00" * (16 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024
    assert_refused(app, client, draft, "bomb.docx", bomb, "zip bomb")


def test_a_zip_declaring_a_huge_uncompressed_size_is_refused(app, client, draft):
    # Offset 24 of a central header: the uncompressed size (a lying header).
    lying = patch_central_directory(office("docx"), 24, "<I", 3_000_000_000)
    assert_refused(app, client, draft, "huge.docx", lying, "expands to")


def test_a_zip_of_too_many_entries_is_refused(app, client, draft):
    many = office("xlsx", {f"xl/parts/{n}.xml": b"" for n in range(attachments.ZIP_MAX_ENTRIES)})
    assert_refused(app, client, draft, "many.xlsx", many, "parts, more than")


def test_a_zip_whose_entries_overlap_is_refused(app, client, draft):
    # Offset 20: the compressed size; entries claiming more than the file has share data.
    data = office("docx")
    overlapping = patch_central_directory(data, 20, "<I", len(data) * 4)
    assert_refused(app, client, draft, "overlap.docx", overlapping, "overlap")


def test_an_encrypted_zip_is_refused(app, client, draft):
    # Offset 8: the general purpose flags; bit 0 is "encrypted".
    encrypted = patch_central_directory(office("docx"), 8, "<H", 0x1, entry=0)
    assert_refused(app, client, draft, "secret.docx", encrypted, "password")


def test_a_damaged_zip_is_refused(app, client, draft):
    assert_refused(app, client, draft, "broken.docx", b"PK\x03\x04" + os.urandom(300), "damaged")


def test_a_zip_with_two_entries_of_one_name_is_refused(app, client, draft):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<a/>")
        archive.writestr("word/document.xml", "<b/>")
    assert_refused(app, client, draft, "twice.docx", buffer.getvalue(), "same name")


def test_plain_zip_archives_are_not_accepted(app, client, draft):
    assert_refused(app, client, draft, "files.zip", office("docx"), "are not accepted")
    # A zip named like a Word file but holding no document is no Word file.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", b"MZ")
    assert_refused(app, client, draft, "files.docx", buffer.getvalue(), "not of an accepted type")


def test_the_zip_check_never_inflates_a_lying_member(app, tmp_path):
    # 'mimetype' declares 40 bytes but inflates to 64 MiB: only a bounded read is made.
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"A" * (64 * 1024 * 1024)) + bomb.flush()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", b"x" * 40, zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    start = info.header_offset + 30 + len(info.filename)
    data = data[:start] + payload + data[start + info.compress_size:]
    path = tmp_path / "lying.odt"
    path.write_bytes(data)
    assert attachments.sniff(data[:16], path) is None  # damaged, or of no accepted type


# ---------------------------------------------------------------- PDFs with active content


def pdf(*objects: bytes) -> bytes:
    body = b"%PDF-1.7\n"
    for number, content in enumerate(objects, start=1):
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    return body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (pdf(b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>"),
         "JavaScript"),
        (pdf(b"<< /Type /Catalog /Names << /JavaScript 2 0 R >> >>", b"<< /Names [] >>"),
         "JavaScript"),
        (pdf(b"<< /Type /Catalog /OpenAction 2 0 R >>", b"<</S/JS/JS(this.print())>>"),
         "JavaScript"),
        (pdf(b"<< /Type /Page /AA << /O 2 0 R >> >>", b"<< /S /GoTo >>"), "automatic actions"),
        (pdf(b"<< /Type /Action /S /Launch /F (cmd.exe) >>"), "launch a program"),
        (pdf(b"<< /Type /EmbeddedFile >>"), "embedded file"),
        (pdf(b"<< /Type /Catalog /Names << /EmbeddedFiles 2 0 R >> >>"), "embedded files"),
        (pdf(b"<< /Type /Catalog /AcroForm << /XFA 2 0 R >> >>"), "XFA"),
        (pdf(b"<< /Type /RichMedia >>"), "rich media"),
        # Names may spell letters as #xx: /J#61vaScript is /JavaScript.
        (pdf(b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>"), "JavaScript"),
    ],
)
def test_a_pdf_carrying_active_content_is_refused(app, client, draft, content, what):
    page = assert_refused(app, client, draft, "report.pdf", content, "the PDF contains")
    assert what in page


def test_javascript_inside_a_compressed_object_stream_is_refused(app, client, draft):
    hidden = b"2 0 3 40 << /S /JavaScript /JS (app.alert(1)) >> << /Type /Pages >>"
    content = pdf(
        b"<< /Type /Catalog /OpenAction 2 0 R >>",
        stream(b"/Type /ObjStm /N 2 /First 8 /Filter /FlateDecode", zlib.compress(hidden)),
    )
    assert b"JavaScript" not in content
    assert_refused(app, client, draft, "packed.pdf", content, "JavaScript")


def test_an_object_stream_that_cannot_be_read_is_refused(app, client, draft):
    content = pdf(
        b"<< /Type /Catalog >>",
        stream(b"/Type /ObjStm /N 1 /First 4 /Filter /LZWDecode", b"\x80\x0b\x60\x50"),
    )
    assert_refused(app, client, draft, "odd.pdf", content, "could not be checked")
    damaged = pdf(
        b"<< /Type /Catalog >>",
        stream(b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", b"not zlib data"),
    )
    assert_refused(app, client, draft, "odd.pdf", damaged, "could not be checked")


def test_an_object_hidden_inside_stream_data_is_found(app, client, draft):
    # The cross-reference table can point into a stream's data: such data is scanned too.
    smuggled = b"\n9 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n"
    content = pdf(b"<< /Type /Catalog >>", stream(b"/Filter /DCTDecode", b"\xff\xd8" + smuggled))
    assert_refused(app, client, draft, "photo.pdf", content, "JavaScript")


def test_chance_bytes_in_image_data_do_not_refuse_a_pdf(app, client, draft):
    # Binary image data that happens to hold "/JS " is data, not a dictionary key.
    image = b"\xff\xd8\xff\xe0" + os.urandom(2000) + b"/JS /AA " + os.urandom(2000)
    content = pdf(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /Resources << /XObject << /Im1 4 0 R >> >> >>",
        stream(b"/Type /XObject /Subtype /Image /Filter /DCTDecode", image),
    )
    found = accepted(app, client, draft, "scan.pdf", content)
    assert found.content_type == "application/pdf"


def test_a_plain_pdf_with_a_compressed_object_stream_is_accepted(app, client, draft):
    objects = b"2 0 << /Type /Pages /Kids [] /Count 0 >>"
    content = pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        stream(b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", zlib.compress(objects)),
    )
    accepted(app, client, draft, "plain.pdf", content)


# ---------------------------------------------------------------- the disk fills up


class FullDisk(io.FileIO):
    """A file that takes the first bytes, then fails as a full disk (or quota) does."""

    code = errno.ENOSPC

    def write(self, data: Any) -> int:
        if self.tell() > 0:
            raise OSError(self.code, os.strerror(self.code))
        return super().write(bytes(data)[:10])


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_refuses_the_upload_and_keeps_the_draft(app, client, draft, monkeypatch,
                                                            code):
    opened: list[Path] = []

    def full_disk_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "x" in mode or "w" in mode:
            opened.append(Path(path))
            full = FullDisk(path, mode.replace("b", ""))
            full.code = code
            return full
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(attachments, "open", full_disk_open, raising=False)
    page = assert_refused(app, client, draft, "budget.pdf", PDF + b"x" * 200_000,
                          "the server could not store the file, try again later",
                          status=507)
    assert "nothing else in your application has changed" in page
    assert opened and not opened[0].exists()  # the partial file is gone


def test_a_full_disk_found_only_when_flushing_is_refused_the_same_way(app, client, draft,
                                                                     monkeypatch):
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(attachments.os, "fsync", fsync)
    assert_refused(app, client, draft, "budget.pdf", PDF, "could not store the file", status=507)


def test_a_full_disk_when_creating_the_folder_is_refused_the_same_way(app, client, draft,
                                                                     monkeypatch):
    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    app.config["UPLOAD_FOLDER"] = str(Path(app.config["UPLOAD_FOLDER"]) / "new")
    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert_refused(app, client, draft, "budget.pdf", PDF, "could not store the file", status=507)


def test_other_storage_faults_are_not_dressed_up_as_a_full_disk(app, draft, monkeypatch):
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(attachments.os, "fsync", fsync)
    with pytest.raises(OSError) as caught:
        attachments.upload(draft.created_by, draft.id, "other", "a.pdf", io.BytesIO(PDF))
    assert not isinstance(caught.value, attachments.UploadRefused)
    assert stored_files(app) == []


def test_after_a_full_disk_the_same_file_goes_through(app, client, draft, monkeypatch):
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(attachments.os, "fsync", fsync)
    assert upload(client, draft, "budget.pdf", PDF).status_code == 507
    monkeypatch.undo()
    found = accepted(app, client, draft, "budget.pdf", PDF)
    assert found.filename == "budget.pdf" and len(stored_files(app)) == 1
