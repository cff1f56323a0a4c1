"""Sending mail: over SMTP where configured, else as .eml files in the instance folder."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from flask import current_app


def build_message(
    to: str, subject: str, text: str, html: str | None = None, message_id: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
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
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
        return
    folder = Path(config["MAIL_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.eml"
    partial = target.with_suffix(".eml.part")
    partial.write_bytes(bytes(message))
    partial.replace(target)  # whole files only: a reader never sees half a message
