"""Public pages: the calls, open to every visitor."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from ...services import listings

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return render_template("public/index.html", calls=listings.public_calls())


@bp.get("/calls/<code>")
def call(code: str) -> str:
    found = listings.public_call(code)
    if found is None:
        abort(404)
    return render_template("public/call.html", call=found)
