"""Sending mail: over SMTP where configured, else as .eml files in the instance folder.

Each worker process keeps one SMTP connection open and reuses it, checked with NOOP
when it was idle for a while: a connection that died while idle is replaced before anything
is sent, and a message is never re-sent by this module after the DATA command began
(that decision belongs to the caller, who knows whether the message was recorded).
"""

from __future__ import annotations

import os
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from flask import current_app

_connection: dict[str, Any] = {"key": None, "smtp": None, "used": 0.0}
# A connection used this recently is trusted without a NOOP round trip (servers drop
# idle clients after minutes, not seconds); older ones are checked first.
TRUST_SECONDS = 5.0


def build_message(
    to: str, subject: str, text: str, html: str | None = None, message_id: str | None = None
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with a stable Message-ID."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send(message: EmailMessage, name: str) -> None:
    """Deliver one message; `name` makes the file name unique in file mode."""
    config = current_app.config
    if config["MAIL_SERVER"]:
        smtp = _smtp(config)
        try:
            smtp.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            close()  # never reuse a connection in an unknown state
            raise
        return
    folder = Path(config["MAIL_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.eml"
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(bytes(message))
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
