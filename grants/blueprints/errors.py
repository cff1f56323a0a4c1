"""Error pages for people, JSON for the API; domain errors keep their stable codes.

The database out of reach (restarting, failing over, refusing connections) is
answered 503 with Retry-After and a plain message, never a stack trace or a
500: nothing was saved by the failed request (its transaction never committed),
so trying again is safe.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, abort, g, jsonify, render_template, render_template_string, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..services.errors import DomainError

log = logging.getLogger(__name__)
# Seconds a client should wait before trying again: about one database restart.
RETRY_AFTER_SECONDS = 5
# Standalone on purpose: the site's layout reads the logged-in user, i.e. the database.
UNAVAILABLE_PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1><p>{{ message }}</p></main></body></html>
"""


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def database_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "out of reach for now" rather than a bug.

    SQLite raises OperationalError for missing tables too; of its operational
    errors only a locked database is temporary.
    """
    if isinstance(exc, (DisconnectionError, PoolTimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        if isinstance(exc.orig, sqlite3.OperationalError):
            return "locked" in str(exc.orig)
        return True
    return False


def _forget_user() -> None:
    """Answer as to a visitor: the user, even when loaded already, reads the database
    (after the rollback every attribute is expired), and so does the page's language."""
    from ..extensions import login_manager

    g._login_user = login_manager.anonymous_user()


def _unavailable_response(exc: BaseException):  # type: ignore[no-untyped-def]
    log.warning("database unavailable, answered 503: %s", exc)
    _forget_user()
    try:
        db.session.rollback()  # give the dead connection back; it is replaced on next use
    except Exception:  # the connection is gone: there is nothing left to roll back
        log.debug("rollback after a database failure failed", exc_info=True)
    message = _(
        "The service is briefly unavailable (the database cannot be reached). "
        "Nothing was saved by this request: please try again in a few seconds."
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if _wants_json():
        return jsonify({"code": "service_unavailable", "message": message}), 503, headers
    from flask_babel import get_locale

    page = render_template_string(
        UNAVAILABLE_PAGE, lang=str(get_locale() or "en"),
        title=_("Service briefly unavailable"), message=message,
    )
    return page, 503, headers


def _has_nul(values: MultiDict[str, str]) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def register(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters() -> None:
        # PostgreSQL text cannot hold NUL (0x00): a form carrying one is refused at the
        # door, with the same answer on every database. The API validates its own input.
        if request.path.startswith("/api/"):
            return
        if _has_nul(request.args) or (request.method == "POST" and _has_nul(request.form)):
            abort(400, description=_(
                "The form contains a NUL character (0x00), which cannot be stored; remove it "
                "and send the form again."
            ))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):  # type: ignore[no-untyped-def]
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status
        return render_template(
            "errors/error.html", status=exc.status, message=exc.message, reasons=exc.reasons
        ), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if _wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            return jsonify({"code": code, "message": exc.description}), exc.code
        return render_template(
            "errors/error.html", status=exc.code, message=exc.description, reasons=[]
        ), exc.code

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        # Registered after Flask-SQLAlchemy's own teardown, so it runs first. Closing
        # the session rolls back on its connection; when the database went away after
        # the page was built, that rollback fails and would turn the page into a 500.
        try:
            db.session.remove()
        except DBAPIError as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database gone before the session was closed: %s", exc)
            db.session.registry.clear()  # the connection is invalidated; forget the session

    @app.errorhandler(DBAPIError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeoutError)
    def database_error(exc: Exception):  # type: ignore[no-untyped-def]
        if not database_unavailable(exc):
            raise exc  # a bug, not an outage: the usual 500 (and its log entry)
        return _unavailable_response(exc)
