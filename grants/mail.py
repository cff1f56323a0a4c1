"""Sending mail: over SMTP where configured, else as .eml files in the instance folder.

Each worker process keeps one SMTP connection open and reuses it, checked with NOOP
when it was idle for a while: a connection that died while idle is replaced before anything
is sent, and a message is never re-sent by this module after the DATA command began
(that decision belongs to the caller, who knows whether the message was recorded).

Messages are built with the email package's compat32 classes (Message, MIMEMultipart,
Header) and written once, to bytes handed to SMTP as they are: the same MIME structure
and encodings as the modern EmailMessage API at a fraction of its cost, which parses
and refolds every header it is given.
"""

from __future__ import annotations

import base64
import copy
import os
import secrets
import smtplib
import time
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import compat32
from email.utils import formatdate, getaddresses
from pathlib import Path
from typing import Any

from flask import current_app

_connection: dict[str, Any] = {"key": None, "smtp": None, "used": 0.0}
# A connection used this recently is trusted without a NOOP round trip (servers drop
# idle clients after minutes, not seconds); older ones are checked first.
TRUST_SECONDS = 5.0


def build_message(
    to: str, subject: str, text: str, html: str | None = None, message_id: str | None = None
) -> Message:
    """A multipart/alternative message (text, then HTML) with a stable Message-ID."""
    for name, value in (("To", to), ("Message-ID", message_id or "")):
        if "\r" in value or "\n" in value:
            raise ValueError(f"line break in the {name} header")
    message: Message
    if html:
        parts = [_text_part(text, "plain"), _text_part(html, "html")]
        message = MIMEMultipart("alternative", _boundary(parts), parts)  # has MIME-Version
    else:
        message = _text_part(text, "plain")
        message["MIME-Version"] = "1.0"
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = _header(" ".join(subject.splitlines()))
    message["Date"] = formatdate(localtime=False, usegmt=True)
    if message_id:
        message["Message-ID"] = message_id
    return message


def _text_part(body: str, subtype: str) -> Message:
    """A text part: 7bit when it is short-lined ASCII, else UTF-8 in base64 (as MIMEText
    writes them, without its header parsing)."""
    part = Message()
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        part["Content-Type"] = f'text/{subtype}; charset="us-ascii"'
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(body)
    else:
        part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
        part["Content-Transfer-Encoding"] = "base64"
        part.set_payload(base64.encodebytes(body.encode()).decode("ascii"))
    return part


def _boundary(parts: list[Message]) -> str:
    """A random multipart boundary found in none of the parts."""
    while True:
        boundary = f"=_{secrets.token_hex(12)}"
        if not any(boundary in str(part.get_payload()) for part in parts):
            return boundary


def _header(value: str) -> str | Header:
    """ASCII as it is, anything else as RFC 2047 encoded words."""
    return value if value.isascii() else Header(value, "utf-8")


def _encoded_words(text: str) -> str:
    """RFC 2047 "B" encoded words of UTF-8, one per folded line, characters never split."""
    words: list[bytes] = []
    chunk = b""
    for char in text:
        encoded = char.encode()
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return f"{_CRLF} ".join(
        f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words
    )


# 39 bytes make 52 characters of base64: with "=?utf-8?b?", "?=" and a header name of
# up to ten characters, every line stays within the 78 that RFC 5322 recommends.
_WORD_BYTES = 39


def as_bytes(message: Message) -> bytes:
    """The message as sent: CRLF line ends, non-ASCII headers in RFC 2047 encoded words.

    Messages of build_message (ASCII payloads, a boundary set) are written here directly,
    which is much cheaper than the email generator; any other goes through the generator.
    """
    lines: list[str] = []
    try:
        _write(message, lines)
    except _NeedsGenerator:
        return message.as_bytes(policy=_WIRE)
    return "".join(lines).encode("ascii")


_WIRE = compat32.clone(linesep="\r\n")
_CRLF = "\r\n"


class _NeedsGenerator(Exception):
    """The message holds something the direct writer does not handle."""


def _write(message: Message, lines: list[str]) -> None:
    for name, value in message.items():
        if isinstance(value, str) and value.isascii() and len(name) + len(value) < 76 and (
            "\n" not in value and "\r" not in value
        ):
            lines.append(f"{name}: {value}{_CRLF}")
        elif isinstance(value, Header):
            lines.append(f"{name}: {_encoded_words(str(value))}{_CRLF}")
        else:  # what the generator does with a long header
            lines.append(f"{name}: {Header(value, header_name=name).encode(linesep=_CRLF)}{_CRLF}")
    lines.append(_CRLF)
    payload = message.get_payload()
    if message.is_multipart():
        boundary = message.get_boundary()
        if boundary is None or message.preamble or message.epilogue:
            raise _NeedsGenerator
        for part in payload:
            lines.append(f"--{boundary}{_CRLF}")
            _write(part, lines)
            lines.append(_CRLF)
        lines.append(f"--{boundary}--{_CRLF}")
        return
    if not isinstance(payload, str) or not payload.isascii():
        raise _NeedsGenerator
    lines.append(_CRLF.join(payload.splitlines()))
    if payload.endswith(("\n", "\r")):
        lines.append(_CRLF)


def send(message: Message, name: str) -> None:
    """Deliver one message; `name` makes the file name unique in file mode."""
    config = current_app.config
    if config["MAIL_SERVER"]:
        sender = str(message["Sender"] or message["From"])
        fields = ("To", "Cc", "Bcc")
        recipients = [
            address
            for _, address in getaddresses(
                [str(v) for field in fields for v in message.get_all(field, [])]
            )
        ]
        if "Bcc" in message:  # blind copies: recipients, never a header
            message = copy.deepcopy(message)
            del message["Bcc"]
        data = as_bytes(message)
        smtp = _smtp(config)
        try:
            smtp.sendmail(sender, recipients, data)
        except (smtplib.SMTPServerDisconnected, OSError):
            close()  # never reuse a connection in an unknown state
            raise
        return
    folder = Path(config["MAIL_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.eml"
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(as_bytes(message))
    # Whole files only, and the same name on a second attempt: a re-run overwrites
    # its own file instead of adding a second copy.
    partial.replace(target)


def _smtp(config: Any) -> smtplib.SMTP:
    key = (os.getpid(), config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_USERNAME"])
    smtp = _connection["smtp"]
    if smtp is not None and _connection["key"] == key:
        if time.monotonic() - _connection["used"] < TRUST_SECONDS:
            _connection["used"] = time.monotonic()
            return smtp
        try:
            if smtp.noop()[0] == 250:
                _connection["used"] = time.monotonic()
                return smtp
        except (smtplib.SMTPException, OSError):
            pass
    close()
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
    try:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except Exception:
        smtp.close()
        raise
    _connection.update(key=key, smtp=smtp, used=time.monotonic())
    return smtp


def close() -> None:
    """Drop the cached SMTP connection (after an error, or when a worker stops)."""
    smtp, key = _connection["smtp"], _connection["key"]
    _connection.update(key=None, smtp=None)
    if smtp is None or key[0] != os.getpid():
        return  # a forked child must not end its parent's session
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
