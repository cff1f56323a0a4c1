"""Personal API tokens: the signed-in user creates them (shown once) and revokes them."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ...services import tokens
from ...services.errors import ValidationFailed
from .forms import NewTokenForm, RevokeTokenForm

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


def _page(form: NewTokenForm, new: tokens.NewToken | None = None, status: int = 200) -> Response:
    response = Response(
        render_template(
            "tokens/index.html",
            form=form,
            revoke_form=RevokeTokenForm(),
            tokens=tokens.user_tokens(current_user),
            new=new,
        ),
        status=status,
        mimetype="text/html",  # werkzeug's Response defaults to text/plain
    )
    # The page may show a token: no cache keeps it, no shared cache ever sees it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@login_required
def index() -> Response:
    return _page(NewTokenForm())


@bp.post("")
@login_required
def create() -> Response:
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        new = tokens.create_token(current_user, form.name.data or "")
    except ValidationFailed as exc:
        form.name.errors = [exc.message]
        return _page(form, status=422)
    # Rendered, not redirected: the token is on this one response and stored nowhere else.
    return _page(NewTokenForm(formdata=None), new=new, status=201)


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Response:
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("tokens.index"))
    token = tokens.revoke_token(current_user, token_id)
    flash(_("Token “%(name)s” revoked: it no longer opens the API.", name=token.name), "info")
    return redirect(url_for("tokens.index"))
