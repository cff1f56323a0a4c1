"""Error pages for people, JSON for the API; domain errors keep their stable codes."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..services.errors import DomainError


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register(app: Flask) -> None:
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
